# ---
# jupyter:
#   dlteach:
#     estimated_minutes: 50
#     lesson: 4
#     seed: 'MATLAB: Define Model Loss Function for Custom Training Loop (A7: debugging
#       the model loss function) + bug hunt'
#   jupytext:
#     notebook_metadata_filter: dlteach,kernelspec,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] nbgrader={"grade": false, "grade_id": "intro", "locked": true, "schema_version": 3, "solution": false}
# # Lesson 4 — Debugging the model loss function
#
# *`dlfeval` threw an error, or training "runs" but learns nothing: where is the bug?*
#
# This lesson follows the last part of MATLAB's documentation page **"Define Model Loss Function for Custom Training
# Loop"** — *debugging the model loss function* — retold in our own words and in Python with `dlteach`, and then goes on a
# **bug hunt** through the mistakes that most often break a custom training loop.
#
# **After this lesson you can**
#
# 1. find the line of a model loss function that raised an error, by calling the function **directly** — without
#    `dlfeval` — on generated input of the right size;
# 2. run a model loss function **by hand**, line by line, and check what every line produces (sizes, formats, values);
# 3. check the gradients of a model loss function against finite differences with `gradient_check`;
# 4. recognise five classic bugs by their **symptoms** — an error message, a warning, a loss curve, a gradient norm — and
#    fix them: logits into `crossentropy`, a forgotten `net.State` update, a learning rate too large for the network, targets
#    in the wrong layout, and a gradient taken with respect to the wrong variable.
#
# **Time:** about 45–50 minutes. **Builds on:** lesson 01 (model loss functions, `dlfeval`, `dlgradient`, `net.State`)
# and lesson 03 (the custom training loop with `adamupdate`).
#
# **How the exercises work.** There are six graded exercises (12 points). Each has a cell where you write code — replace
# the line `raise NotImplementedError()` with your answer — followed by a *test cell*: run it and you get a green
# **Correct** or a red box that says what was expected. Stuck? Every exercise has hints: `ex1.hint()`, then `ex1.hint(2)`.
# Run the cells from top to bottom (*Run ▸ Run All Cells* works too: the lesson keeps going even if an exercise is not
# done yet).

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import copy
import traceback
import warnings

import numpy as np
import matplotlib.pyplot as plt

from dlteach import (dlarray, dims, extractdata, dlfeval, dlgradient,                 # arrays and autodiff
                     dlnetwork, forward, predict, adamupdate,                          # network object, updater
                     imageInputLayer, convolution2dLayer, batchNormalizationLayer, reluLayer,
                     maxPooling2dLayer, fullyConnectedLayer, softmaxLayer,             # layers
                     fullyconnect, relu, softmax, crossentropy,                        # model-function style
                     load_digits)                                                      # shipped data
from dlteach.errors import NotTracedError, ProbabilityError, SizeMismatchError, StateNotUpdatedWarning
from dlteach.debug import gradient_check, inspect_activations, gradient_norms, GradientNormTracker, diagnose
from dlteach.checks import Exercise, check_close, check_equal, check_shape, check_true

np.random.seed(0)   # networks and generated inputs draw from NumPy's global random generator

# %% [markdown]
# ## 1. Errors surface where `dlfeval` is called
#
# You never call a model loss function yourself: `dlfeval` calls it, inside the training loop, for every mini-batch.
# So when something inside it goes wrong, the error surfaces at the line `dlfeval(...)` of the loop — after the data were
# prepared, with the updater and the monitor around it — and the message comes from deep inside a library function
# (a layer, `crossentropy`, `dlgradient`). It can be unclear which line of *your* function handed it the bad value.
#
# MATLAB's documentation gives two techniques, and this lesson adds a third:
#
# 1. **call the model loss function directly**, without `dlfeval`, with generated input of the required size — so an
#    error shows its details and you see which line raised it;
# 2. **run the code of the function by hand**, line by line, and look at what each line produces;
# 3. (for the bugs that raise nothing) **check the gradients numerically**.
#
# Our patient is lesson 01's network and its model loss function with the state output:

# %%
layers = [
    imageInputLayer([28, 28, 1], Normalization="none"),
    convolution2dLayer(5, 20),
    batchNormalizationLayer(),
    reluLayer(),
    maxPooling2dLayer(2, Stride=2),
    fullyConnectedLayer(10),
    softmaxLayer(),
]
np.random.seed(0)
net = dlnetwork(layers)


def modelLoss(net, X, T):
    # MATLAB: function [loss,gradients,state] = modelLoss(net,X,T)
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state


# %% [markdown]
# ### 1.1 Generated input of the right size
#
# The data of the real training loop may be far away (a file, a `minibatchqueue`, a preprocessing function that may
# itself be buggy). To test the model loss function alone, **generate** inputs of the size it expects: random pixel
# values are nonsense images, but they are images of the right size. MATLAB's documentation suggests:
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# X = rand([28 28 1 100],"single");
# X = dlarray(X);
# &nbsp;
# T = repmat(eye(10,"single"),[1 10]);
# </pre>
# </td><td>
# <pre>
# X = dlarray(np.random.rand(28, 28, 1, 100)
#             .astype(np.float32))
# T = np.tile(np.eye(10, dtype=np.float32), (1, 10))
# </pre>
# </td></tr>
# </table>
#
# * `X`: 100 random images of 28 × 28 pixels and 1 channel, in single precision (`"single"` = `np.float32`). It is left
#   **unformatted**: the network's input layer supplies the format (`"SSCB"`) itself.
# * `T`: ten classes × 100 observations. `eye(10)` is the 10 × 10 identity matrix — ten one-hot columns, one per class —
#   and `repmat(..., [1 10])` (NumPy: `np.tile`) repeats it ten times side by side: the targets of the 100 observations
#   are the classes 0, 1, ..., 9, 0, 1, ... A plain array is read by `crossentropy` in the layout of the predictions
#   (classes × observations).

# %%
np.random.seed(0)
X = dlarray(np.random.rand(28, 28, 1, 100).astype(np.float32))   # MATLAB: X = dlarray(rand([28 28 1 100],"single"));
T = np.tile(np.eye(10, dtype=np.float32), (1, 10))                # MATLAB: T = repmat(eye(10,"single"),[1 10]);

print("X:", X.shape, X.dtype, f"format {dims(X)!r} (unformatted)")
print("T:", T.shape, T.dtype)
print("the first 12 columns of T:")
print(T[:, :12].astype(int))
print("class of each of the first 12 columns:", T.argmax(axis=0)[:12])

# %% [markdown]
# ### 1.2 Technique 1: call the model loss function directly
#
# Now call `modelLoss` like any Python function — no `dlfeval`. Outside `dlfeval`, **every `dlgradient` call throws**
# (lesson 01, Section 6), so even a perfect model loss function fails here. The point is *where* it fails: if the error
# is `dlgradient`'s, every line before it — the forward pass and the loss — ran without error on inputs of this size.
#
# The next cell fails on purpose. Read the traceback **from the bottom up**: the last line is the message; the frames
# above it show the chain of calls, and the frame of *our* function (`modelLoss`) shows the line that raised.

# %% tags=["raises-exception"]
# Technique 1: call the model loss function directly, without dlfeval. This cell fails on purpose.
loss, gradients, state = modelLoss(net, X, T)


# %% [markdown]
# The frame `modelLoss` points at `gradients = dlgradient(loss, net.Learnables)`, and the message is `dlgradient`'s
# own: "called outside dlfeval". So `forward` and `crossentropy` work with these inputs — exactly what we wanted to know.
#
# A long traceback is tiring to read. The same information, with `try`/`except`: the small helper below calls a
# function directly, catches the error, and prints the error's type, **the line of the function that raised it** (it
# walks the traceback, `traceback.extract_tb`, to the last frame of that function) and the message.

# %%
def whereDidItFail(fcn, *args):
    # Call fcn(*args) directly (no dlfeval); report the error and the line of fcn that raised it.
    try:
        fcn(*args)
    except Exception as err:
        frames = [f for f in traceback.extract_tb(err.__traceback__) if f.name == fcn.__name__]
        line = frames[-1].line if frames else "(not in this function)"
        print(f"{type(err).__name__} raised by this line of {fcn.__name__}:\n    {line}\n")
        print(err)
        return type(err).__name__, line
    print(f"{fcn.__name__} ran without error")
    return None, None


_ = whereDidItFail(modelLoss, net, X, T)

# %% [markdown]
# Now an error for a real reason. A classic: the images were flattened to 784 × 100 somewhere in the data preparation
# (for a fully connected model, say), and the convolutional network receives them. Through `dlfeval` the error surfaces at
# the `dlfeval` line; the direct call names the line of `modelLoss`:

# %%
np.random.seed(1)
Xflat = dlarray(np.random.rand(28 * 28, 100).astype(np.float32))   # the images flattened: a mistake
try:
    dlfeval(modelLoss, net, Xflat, T)
except Exception as err:
    print(f"dlfeval raised {type(err).__name__}\n")

_ = whereDidItFail(modelLoss, net, Xflat, T)


# %% [markdown]
# The error comes from the `forward` line, before the loss: the input has the wrong size, and the message says which
# size the input layer expected (28 × 28 × 1 per observation). In Python the traceback of the `dlfeval` call also contains
# the frame of `modelLoss` (look for it between `dlfeval`'s and the library's frames), but the direct call takes automatic
# differentiation out of the picture: if it fails *before* the `dlgradient` line, the bug is in your code or your data,
# not in the tracing. (In Jupyter, running `%debug` in a new cell right after an error opens a debugger in the frame that
# raised, where you can print the local variables.)
#
# ### Exercise 1 (2 points) — which line, which error?
#
# A colleague added an L2 penalty on the fully connected weights (*weight decay*, a common extra term) to the model loss
# function. Their training loop stops at the `dlfeval` line. Use technique 1 (call it directly on `X`, `T` — the helper
# `whereDidItFail` is there for you) and answer:
#
# * `mystery_error` — the name of the exception class that is raised (a string such as `"ValueError"`);
# * `mystery_line` — the letter of the line that raises it:
#
# ```python
# def modelLossL2(net, X, T, l2Factor=1e-4):
#     Y, state = forward(net, X, return_state=True)                          # A
#     loss = crossentropy(Y, T)                                              # B
#     W = net.Learnables.value("fc", "Weight")                               # C
#     loss = loss + l2Factor * np.sum(W ** 2)                                # D
#     gradients = dlgradient(loss, net.Learnables)                           # E
#     return loss, gradients, state
# ```

# %% nbgrader={"grade": false, "grade_id": "ex1_setup", "locked": true, "schema_version": 3, "solution": false}
def modelLossL2(net, X, T, l2Factor=1e-4):
    Y, state = forward(net, X, return_state=True)                          # A
    loss = crossentropy(Y, T)                                              # B
    W = net.Learnables.value("fc", "Weight")                               # C
    loss = loss + l2Factor * np.sum(W ** 2)                                # D
    gradients = dlgradient(loss, net.Learnables)                           # E
    return loss, gradients, state


ex1 = Exercise("ex1", "which line, which error?", hints=[
    "Run whereDidItFail(modelLossL2, net, X, T) in a cell and read what it prints.",
    "The error is raised before dlgradient (line E) is reached. Read the message: which row is it looking for, "
    "and which rows does the table have?",
])

# %% nbgrader={"grade": false, "grade_id": "ex1_solution", "locked": false, "schema_version": 3, "solution": true}
# mystery_error = "..."   (the exception's class name)
# mystery_line = "A", "B", "C", "D" or "E"
### BEGIN SOLUTION
whereDidItFail(modelLossL2, net, X, T)
mystery_error = "KeyError"
mystery_line = "C"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex1_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
with ex1:
    check_true("mystery_line", isinstance(mystery_line, str) and mystery_line.strip().upper() in tuple("ABCDE"),
               f"mystery_line should be one of the letters 'A' ... 'E'; got {mystery_line!r}.")
    check_true("mystery_error", isinstance(mystery_error, str),
               f"mystery_error should be the class name as a string, e.g. 'ValueError'; got {mystery_error!r}.")
    check_equal("mystery_line", mystery_line.strip().upper(), "C",
                hint="whereDidItFail prints the line that raised: compare it with the lettered listing.")
    check_equal("mystery_error", mystery_error.strip().split(".")[-1].lower(), "keyerror",
                hint="The first word whereDidItFail prints is the class name.")
    ### BEGIN HIDDEN TESTS
    try:
        dlfeval(modelLossL2, net, X, T)
        raise AssertionError("modelLossL2 should fail")
    except KeyError as _err:
        assert "Weight" in str(_err), "the error is about the row fc/Weight"
    assert mystery_line.strip().upper() == "C" and mystery_error.strip().split(".")[-1] == "KeyError"
    ### END HIDDEN TESTS

# %% [markdown]
# The table's parameter is called `Weights`, with an *s* — the message lists the rows that exist. Lines A and B ran;
# D and E never did. The fix is one letter: `net.Learnables.value("fc", "Weights")`.

# %% [markdown]
# ## 2. Technique 2: run the code by hand, line by line
#
# When the direct call runs up to `dlgradient` but the results look wrong — a strange loss, a network that does not
# learn — take the function apart: copy its lines into cells and run them one at a time on the generated inputs, looking
# at every intermediate value. For each line, ask:
#
# * **size and format** — is it what the next line expects (`"CB"`: classes × observations)?
# * **type** — still `float32`?
# * **values** — probabilities between 0 and 1 whose columns sum to 1? no `NaN`/`Inf`?
#
# Line 1 of `modelLoss`, the forward pass:

# %%
Y, state = forward(net, X, return_state=True)          # line 1 of modelLoss

Yd = extractdata(Y)
print("Y:", dims(Y), Y.shape, Y.dtype)
print("values between 0 and 1:", bool(Yd.min() >= 0 and Yd.max() <= 1))
print("column sums of the first 5 observations:", np.round(Yd.sum(axis=0)[:5], 4))
print("every column sums to 1 (within 1e-5):", bool(np.allclose(Yd.sum(axis=0), 1, atol=1e-5)))
print("any NaN or Inf:", bool(not np.all(np.isfinite(Yd))))
print("predicted class of the first 10 observations:", Yd.argmax(axis=0)[:10])
print()
print(state)

# %% [markdown]
# Everything as it should be: 10 classes × 100 observations, format `"CB"`, single precision, and every column is a
# probability distribution — the softmax layer did its job. The state is the table of batch normalisation's running
# statistics. Line 2, the loss:

# %%
loss = crossentropy(Y, T)                               # line 2 of modelLoss
byHand = -np.sum(T * np.log(Yd)) / T.shape[1]           # -(1/N) sum T log Y
print(f"crossentropy(Y, T) = {float(loss):.4f}")
print(f"by hand            = {float(byHand):.4f}")
print(f"log(10)            = {np.log(10):.4f}   (a classifier that guesses uniformly)")

# %% [markdown]
# The loss is 3.60 — clearly **above** $\log 10 \approx 2.30$, the loss of a classifier that answers 1/10 for every
# class. That is normal for an untrained network: its random weights do not make it uniformly unsure, they make it
# *confidently wrong* on many of these random images, and the cross-entropy punishes confident mistakes hard. What to
# expect from an untrained 10-class classifier is a loss **of the order of** $\log 10$ — two to four, say. A loss of 0,
# a negative loss, `NaN`, a value in the hundreds or one a hundred times too small would each point at a bug.
#
# Looking *inside* the network, layer by layer, is the same technique one level deeper. `inspect_activations(net, X)`
# runs the forward pass and records, for every layer, the size of its output and summary statistics — and for ReLU
# layers the fraction of *dead* units (zero for every observation), a classic reason for a network that stops learning:

# %%
report = inspect_activations(net, X)
for name, s in report.stats.items():
    print(f"{name:10s}  size {str(s['size']):18s}  mean {s['mean']:8.3f}  std {s['std']:7.3f}")
print(f"\nfraction of dead ReLU units: {report.dead_fraction('relu'):.3f}")

# %% [markdown]
# In Jupyter, `report.show()` opens an explorer: pick a layer in the drop-down list to see the histogram of its
# activations (the static version, `report.plot()`, draws all histograms at once).

# %%
# NBVAL_IGNORE_OUTPUT
report.show()

# %% [markdown]
# ## 3. Technique 3: the gradient check
#
# The two techniques find the bugs that raise an error or produce visibly wrong values. The worst bugs do neither: the
# function runs, returns a loss and gradients of the right sizes — and the gradients are wrong. **Finite differences**
# catch them. For one parameter $\theta_i$, nudge it by a small $\varepsilon$ both ways and measure how the loss changes:
#
# $$\frac{\partial L}{\partial \theta_i} \approx \frac{L(\theta + \varepsilon e_i) - L(\theta - \varepsilon e_i)}{2\varepsilon}
# \qquad(\text{error of order } \varepsilon^2).$$
#
# This costs two evaluations of the loss *per parameter entry* — far too slow for training, but fine for checking a few
# entries. Compare with the analytical gradient $a$ (from `dlgradient`) through the **relative error**
# $|a - n| / (|a| + |n|)$. `gradient_check` below counts an entry as agreeing when the relative error is below its
# `tolerance`, $10^{-6}$ by default (or, for an entry whose gradient is about zero, when $|a - n| < 10^{-9}$). A correct
# gradient typically lands far below that ($10^{-8}$ or less), a wrong one far above ($10^{-2}$ or more). It has to be
# done in **double precision**: in float32 the rounding error of the loss (≈ $10^{-7}$) divided by $2\varepsilon$ would
# swamp the difference.
#
# We check the model-function form of lesson 01 — a small perceptron, so the check is quick. First one entry by hand:

# %%
XTrain, labelsTrain, TTrain = load_digits("train")
XTest, labelsTest, TTest = load_digits("test")
Xs, Ts = dlarray(XTrain[:, :, :, :16], "SSCB"), dlarray(TTrain[:, :16], "CB")   # 16 real digits


def initializeGlorot(sz, numOut, numIn):
    Z = 2 * np.random.rand(*sz).astype(np.float32) - 1
    return dlarray(np.float32(np.sqrt(6 / (numIn + numOut))) * Z)


np.random.seed(0)
parameters = {
    "fc1": {"Weights": initializeGlorot((32, 784), 32, 784), "Bias": dlarray(np.zeros((32, 1), np.float32))},
    "fc2": {"Weights": initializeGlorot((10, 32), 10, 32), "Bias": dlarray(np.zeros((10, 1), np.float32))},
}


def model(parameters, X):
    Y = fullyconnect(X, parameters["fc1"]["Weights"], parameters["fc1"]["Bias"])
    Y = relu(Y)
    Y = fullyconnect(Y, parameters["fc2"]["Weights"], parameters["fc2"]["Bias"])
    return softmax(Y)


def modelLossMLP(parameters, X, T):
    Y = model(parameters, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, parameters)
    return loss, gradients


# everything in double precision for the check
to64 = lambda p: {k: {n: dlarray(extractdata(v).astype(np.float64)) for n, v in d.items()} for k, d in p.items()}
p64, Xs64, Ts64 = to64(parameters), dlarray(extractdata(Xs).astype(np.float64), "SSCB"), extractdata(Ts).astype(np.float64)

_, grads64 = dlfeval(modelLossMLP, p64, Xs64, Ts64)
analytical = float(extractdata(grads64["fc2"]["Weights"])[3, 5])      # d loss / d fc2.Weights[3, 5]

epsilon = 1e-6
def lossWith(delta):
    p = copy.deepcopy(p64)
    W = extractdata(p["fc2"]["Weights"]).copy()
    W[3, 5] += delta
    p["fc2"]["Weights"] = dlarray(W)
    return float(crossentropy(model(p, Xs64), Ts64))

numerical = (lossWith(+epsilon) - lossWith(-epsilon)) / (2 * epsilon)
print(f"analytical (dlgradient)      = {analytical:.6f}")
print(f"numerical (finite difference) = {numerical:.6f}")
print("relative error below 1e-6:", abs(analytical - numerical) / (abs(analytical) + abs(numerical)) < 1e-6)

# %% [markdown]
# `gradient_check(lossFcn, model, inputs...)` does this for a few randomly chosen entries of **every** learnable: it casts
# the learnables and the inputs to double precision itself, evaluates your function with `dlfeval`, and reports one row
# per learnable with the largest relative error:

# %%
# NBVAL_IGNORE_OUTPUT
check = gradient_check(modelLossMLP, parameters, Xs, Ts)
check

# %%
print("all gradients agree with finite differences:", check.passed)

# %% [markdown]
# It works for the network-object form too — the model is then the `dlnetwork` (a few entries per learnable on a
# mini-batch of 8 images, to stay quick):

# %%
# NBVAL_IGNORE_OUTPUT
checkNet = gradient_check(modelLoss, net, Xs[:, :, :, :8], Ts[:, :8], num_checks=4)
checkNet

# %%
print("network gradients agree with finite differences:", checkNet.passed)


# %% [markdown]
# Now a model function with a hand-written softmax, $\mathrm{softmax}(z)_k = e^{z_k} / \sum_j e^{z_j}$. Its author
# subtracts the largest logit first (a standard trick against overflow) and computes the two column-wise reductions
# with `extractdata`, "to get plain numbers". Its outputs — and so its loss — are exactly those of `model`:

# %%
def modelHandSoftmax(params, X):
    Y = fullyconnect(X, params["fc1"]["Weights"], params["fc1"]["Bias"])
    Y = relu(Y)
    Z = fullyconnect(Y, params["fc2"]["Weights"], params["fc2"]["Bias"])
    E = np.exp(Z - extractdata(np.max(Z, axis=0, keepdims=True)))     # shift for stability
    return E / extractdata(np.sum(E, axis=0, keepdims=True))           # normalise the columns


def modelLossHandSoftmax(params, X, T):
    Y = modelHandSoftmax(params, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, params)
    return loss, gradients


print(f"loss with model:            {float(crossentropy(model(parameters, Xs), Ts)):.4f}")
print(f"loss with modelHandSoftmax: {float(crossentropy(modelHandSoftmax(parameters, Xs), Ts)):.4f}")

checkHand = gradient_check(modelLossHandSoftmax, parameters, Xs, Ts)
print("\ngradient check:")
for row in checkHand.rows:
    print(f"  {row['name']:12s} passed: {row['passed']}")

# %%
# NBVAL_IGNORE_OUTPUT
checkHand

# %% [markdown]
# The check fails and names the learnables whose gradients are wrong — here all of them, because every gradient flows
# back through the softmax. The function runs, the loss is right, the gradients have the right sizes, nothing raises:
# only the numbers betray it. The cause: `extractdata` returns a plain array, which `dlgradient` treats as a
# **constant**. For the shift that is harmless (softmax does not change when the same number is subtracted from a whole
# column, so its derivative with respect to the shift is zero — try it: keep only the first `extractdata`, and the check
# passes), but the denominator depends on the parameters, and cutting it out of the trace drops a term of the derivative.
#
# Keep in mind what the check compares: `dlgradient` against finite differences **of the same function**. It catches
# gradients that do not match the function. It cannot catch a function that consistently computes something else —
# bug (e) of the hunt is such a case.

# %% [markdown]
# ## 4. The bug hunt
#
# Five planted mistakes, each one common in real code. For each: first the **symptom** — what you would actually see —
# then an exercise to diagnose or fix it. The tools:
#
# * a short training run — `trainBriefly` below, lesson 03's loop (Adam, mini-batches of 64, 30 iterations) on 512 real
#   training digits — with its **loss curve**, and the test accuracy from `predict` on 300 test digits;
# * the **gradient norms** of every learnable, recorded by a `GradientNormTracker` during the run;
# * `diagnose(losses=..., grad_norms=..., Y=...)`, which looks at a run and names the likely causes;
# * and the teaching **error messages** and **warnings** of `dlteach`.

# %%
numTrain, miniBatchSize = 512, 64
XTest300, labelsTest300 = dlarray(XTest[:, :, :, :300], "SSCB"), labelsTest[:300]


def trainBriefly(lossFcn, model, learnRate=0.001, numIterations=30, storeState=True):
    # Lesson 03's custom training loop, compact: returns the trained model, the losses and a GradientNormTracker.
    rng = np.random.default_rng(0)                     # the same mini-batches in every run
    averageGrad = averageSqGrad = None
    losses, tracker = [], GradientNormTracker()
    for iteration in range(1, numIterations + 1):
        start = (iteration - 1) * miniBatchSize % numTrain
        if start == 0:                                 # a new epoch: shuffle
            order = rng.permutation(numTrain)
        idx = order[start:start + miniBatchSize]
        X = dlarray(XTrain[:, :, :, idx], "SSCB")
        T = dlarray(TTrain[:, idx], "CB")
        loss, gradients, *state = dlfeval(lossFcn, model, X, T)
        if state and storeState:
            model.State = state[0]                     # MATLAB: net.State = state;
        model, averageGrad, averageSqGrad = adamupdate(model, gradients, averageGrad, averageSqGrad,
                                                       iteration, learnRate=learnRate)
        losses.append(float(loss))
        tracker.record(iteration, gradients)
    return model, losses, tracker


def testAccuracy(model, predictFcn=predict):
    # Accuracy on 300 test digits; warnings raised by predict are returned, not printed on stderr.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Y = predictFcn(model, XTest300)
    accuracy = float(np.mean(extractdata(Y).argmax(axis=0) == labelsTest300))
    return accuracy, [w.message for w in caught]


def plotLosses(runs, title):
    fig, ax = plt.subplots(figsize=(6.5, 3.3))
    for label, (losses, style) in runs.items():
        ax.plot(np.arange(1, len(losses) + 1), losses, style, label=label)
    ax.axhline(np.log(10), color="gray", lw=0.8, ls=":", label="log(10): guessing")
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    plt.show()


# %% [markdown]
# First a **healthy** run, the reference for all the symptoms below: the correct `modelLoss`, Adam with its default
# learning rate 0.001, and the state stored after every iteration.

# %%
np.random.seed(0)
netOK, lossesOK, trackerOK = trainBriefly(modelLoss, dlnetwork(layers))
accOK, warnOK = testAccuracy(netOK)
print(f"loss: first iteration {lossesOK[0]:.2f}, mean of the last 5 {np.mean(lossesOK[-5:]):.2f}")
print(f"test accuracy {accOK:.0%}, warnings: {len(warnOK)}")
print(diagnose(losses=lossesOK))

# %%
# NBVAL_IGNORE_OUTPUT
plotLosses({"healthy run": (lossesOK, "-")}, "A healthy training run")

# %% [markdown]
# ### Bug (a) — logits into `crossentropy`
#
# **Symptom: an error message.** Someone removed the `softmaxLayer` ("the loss takes care of it" — true in PyTorch,
# whose `CrossEntropyLoss` expects raw scores, *logits*). MATLAB's `crossentropy`, and `dlteach`'s, expect
# **probabilities** and apply no activation:

# %%
np.random.seed(0)
netA = dlnetwork(layers[:-1])                          # the same layers without the softmax layer
try:
    dlfeval(modelLoss, netA, X, T)
except ProbabilityError as err:
    print(f"{type(err).__name__}: {err}")

# %% [markdown]
# The message names the mistake (values outside [0, 1] look like logits) and the fix. Running line 1 by hand shows it too,
# and `diagnose` recognises such an output when you give it the predictions `Y`:

# %%
Ya = extractdata(forward(netA, X))
print(f"values from {Ya.min():.2f} to {Ya.max():.2f}; column sums of the first 5: {np.round(Ya.sum(axis=0)[:5], 2)}")
print(diagnose(Y=Ya))

# %% [markdown]
# ### Exercise 2 (2 points) — fix bug (a) in the model loss function
#
# Keep the network `netA` as it is (it ends with the fully connected layer) and write `modelLossLogits(net, X, T)`, a
# model loss function for such a network: apply `softmax` to the output of `forward` before the loss. Return
# `loss, gradients, state` like `modelLoss`. (The other fix, equally good, is to put `softmaxLayer()` back into the
# layers.)

# %% nbgrader={"grade": false, "grade_id": "ex2_setup", "locked": true, "schema_version": 3, "solution": false}
ex2 = Exercise("ex2", "softmax before crossentropy", hints=[
    "Y, state = forward(net, X, return_state=True) gives the logits; softmax(Y) turns them into probabilities.",
    "Then loss = crossentropy(softmax(Y), T), gradients = dlgradient(loss, net.Learnables); return loss, gradients, state.",
])


# %% nbgrader={"grade": false, "grade_id": "ex2_solution", "locked": false, "schema_version": 3, "solution": true}
def modelLossLogits(net, X, T):
    ### BEGIN SOLUTION
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(softmax(Y), T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
with ex2:
    _Xr, _Tr = dlarray(XTrain[:, :, :, :64], "SSCB"), dlarray(TTrain[:, :64], "CB")
    _out = dlfeval(modelLossLogits, netA, _Xr, _Tr)
    check_true("modelLossLogits's result", isinstance(_out, tuple) and len(_out) == 3,
               "modelLossLogits should return three values (loss, gradients, state).",
               hint="End with: return loss, gradients, state")
    _loss, _grads, _state = _out
    _Z = forward(netA, _Xr)
    check_close("the loss", float(_loss), float(crossentropy(softmax(_Z), _Tr)), rtol=1e-5,
                hint="loss = crossentropy(softmax(Y), T) where Y is the output of forward.")
    check_equal("the gradients' rows", _grads.keys(), netA.Learnables.keys(),
                hint="gradients = dlgradient(loss, net.Learnables)")
    ### BEGIN HIDDEN TESTS
    # hand formula: softmax + cross-entropy give dloss/dz = (softmax(z) - T) / N, so the fc bias gradient is mean(P - T)
    _z = extractdata(_Z).astype(np.float64)
    _P = np.exp(_z - _z.max(axis=0))
    _P /= _P.sum(axis=0)
    _gb = extractdata(_grads.value("fc", "Bias")).ravel()
    assert np.allclose(_gb, (_P - extractdata(_Tr)).mean(axis=1), rtol=1e-3, atol=1e-6), "fc Bias gradient is wrong"
    assert abs(float(_loss) - float(-np.mean(np.sum(extractdata(_Tr) * np.log(_P), axis=0)))) < 1e-4, "loss is wrong"
    assert _state.keys() == netA.State.keys(), "state should be the updated State table"
    assert all(np.any(extractdata(v) != 0) for v in _grads.Value), "a gradient is zero"
    ### END HIDDEN TESTS

# %% [markdown]
# ### Bug (b) — the forgotten `net.State` update
#
# **Symptom: a good training loss, a worse test accuracy, and a warning.** The same training run as the healthy one, but the
# loop forgets the line `net.State = state` (`storeState=False`). `forward` never changes the network — it *returns* the
# updated running statistics of batch normalisation — so they stay at their initial values (mean 0, variance 1):

# %%
np.random.seed(0)
netB, lossesB, trackerB = trainBriefly(modelLoss, dlnetwork(layers), storeState=False)
accB, warnB = testAccuracy(netB)
print("the loss curves are identical:", lossesB == lossesOK)
print(f"test accuracy: healthy run {accOK:.0%}, without net.State = state {accB:.0%}")
print(f"\npredict raised {len(warnB)} warning(s):")
for w in warnB:
    print(f"{type(w).__name__}: {w}")

# %% [markdown]
# The loss curve cannot show this bug: during training, `forward` normalises with the statistics of the current
# mini-batch, so the training is *exactly* the same. Only `predict` — which normalises with the stored `TrainedMean`
# and `TrainedVariance` — uses the state, and here it is the initial one. `dlteach` notices (trained learnables, initial
# state) and warns with `StateNotUpdatedWarning`. Here the damage is moderate — the stored variance 1 is larger than the real
# one, so the activations are mostly shrunk, not scrambled — but on other data (or after a longer training, when the
# network relies on finer differences) forgetting the state can make `predict` no better than guessing. (The cell above catches the warning with
# `warnings.catch_warnings(record=True)` and prints it; without that, it would appear in a pink box.)
#
# ### Exercise 3 (2 points) — one iteration, done right
#
# Write `trainStep(net, X, T, averageGrad, averageSqGrad, iteration)`: one iteration of the training loop. Evaluate
# `modelLoss` with `dlfeval`, **store the state in the network**, and update the learnables with `adamupdate`
# (learning rate 0.001). Return `net, averageGrad, averageSqGrad, loss`.
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# [loss,gradients,state] = dlfeval(@modelLoss,net,X,T);
# net.State = state;
# [net,averageGrad,averageSqGrad] = adamupdate(net, ...
#     gradients,averageGrad,averageSqGrad,iteration);
# </pre>
# </td><td>
# <pre>
# def trainStep(net, X, T, averageGrad, averageSqGrad,
#               iteration):
#     ...
#     return net, averageGrad, averageSqGrad, loss
# </pre>
# </td></tr>
# </table>

# %% nbgrader={"grade": false, "grade_id": "ex3_setup", "locked": true, "schema_version": 3, "solution": false}
ex3 = Exercise("ex3", "trainStep with the state update", hints=[
    "loss, gradients, state = dlfeval(modelLoss, net, X, T), then net.State = state.",
    "net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, iteration, "
    "learnRate=0.001); return net, averageGrad, averageSqGrad, loss",
])


# %% nbgrader={"grade": false, "grade_id": "ex3_solution", "locked": false, "schema_version": 3, "solution": true}
def trainStep(net, X, T, averageGrad, averageSqGrad, iteration):
    ### BEGIN SOLUTION
    loss, gradients, state = dlfeval(modelLoss, net, X, T)
    net.State = state
    net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, iteration,
                                                 learnRate=0.001)
    return net, averageGrad, averageSqGrad, loss
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
with ex3:
    _Xr, _Tr = dlarray(XTrain[:, :, :, :64], "SSCB"), dlarray(TTrain[:, :64], "CB")
    np.random.seed(0)
    _net0 = dlnetwork(layers)
    _out = trainStep(copy.deepcopy(_net0), _Xr, _Tr, None, None, 1)
    check_true("trainStep's result", isinstance(_out, tuple) and len(_out) == 4,
               "trainStep should return four values (net, averageGrad, averageSqGrad, loss).",
               hint="End with: return net, averageGrad, averageSqGrad, loss")
    _net1, _avg, _avgSq, _loss = _out
    _rl, _rg, _rs = dlfeval(modelLoss, _net0, _Xr, _Tr)
    check_close("the loss", float(_loss), float(_rl), rtol=1e-5, hint="loss, gradients, state = dlfeval(modelLoss, net, X, T)")
    check_close("TrainedMean of the returned network", extractdata(_net1.State.value("batchnorm", "TrainedMean")),
                extractdata(_rs.value("batchnorm", "TrainedMean")), rtol=1e-5, atol=1e-7,
                hint="Store the state before the update: net.State = state.")
    _refNet, _, _ = adamupdate(_net0, _rg, None, None, 1, learnRate=0.001)
    check_close("fc Weights after the update", extractdata(_net1.Learnables.value("fc", "Weights")),
                extractdata(_refNet.Learnables.value("fc", "Weights")), rtol=1e-5, atol=1e-7,
                hint="adamupdate(net, gradients, averageGrad, averageSqGrad, iteration, learnRate=0.001)")
    ### BEGIN HIDDEN TESTS
    # independent reference of the running mean: 0.1 * batch mean of the convolution output + 0.9 * 0
    from dlteach import dlconv as _dlconv
    _c = extractdata(_dlconv(_Xr, _net0.Learnables.value("conv", "Weights"),
                             _net0.Learnables.value("conv", "Bias"))).astype(np.float64)
    assert np.allclose(extractdata(_net1.State.value("batchnorm", "TrainedMean")).ravel(),
                       0.1 * _c.mean(axis=(0, 1, 3)), rtol=1e-4, atol=1e-6), "TrainedMean is not the updated one"
    for _a, _r in zip(_net1.Learnables.Value, _refNet.Learnables.Value):
        assert np.allclose(extractdata(_a), extractdata(_r), rtol=1e-5, atol=1e-7), "a learnable differs from adamupdate's"
    # three more steps: predict must not warn about the state
    _n, _a1, _a2 = _net1, _avg, _avgSq
    for _it in range(2, 5):
        _n, _a1, _a2, _ = trainStep(_n, dlarray(XTrain[:, :, :, 64 * _it:64 * _it + 64], "SSCB"),
                                    dlarray(TTrain[:, 64 * _it:64 * _it + 64], "CB"), _a1, _a2, _it)
    _acc, _w = testAccuracy(_n)
    assert not any(isinstance(_m, StateNotUpdatedWarning) for _m in _w), "predict warns: the state was not stored"
    ### END HIDDEN TESTS

# %% [markdown]
# ### Bug (c) — a learning rate too large for this network
#
# **Symptom: the loss curve.** The same run with `learnRate=0.01` instead of Adam's default 0.001. 0.01 is not wrong in
# itself: lesson 03's perceptron trained *fastest* with it (lesson 03, Section 6). But this convolutional network with
# batch normalisation, on mini-batches of 64, takes steps that are too long with it. The right learning rate depends on
# the network, the data, the batch size and the updater — which is why you always look at the loss curve:

# %%
np.random.seed(0)
netC, lossesC, trackerC = trainBriefly(modelLoss, dlnetwork(layers), learnRate=0.01)
accC, _ = testAccuracy(netC)
print(f"first loss {lossesC[0]:.2f}; largest loss of the first 5 iterations {max(lossesC[:5]):.1f}")
print(f"mean loss, first quarter {np.mean(lossesC[:7]):.1f}, last quarter {np.mean(lossesC[-7:]):.1f}")

# %%
# NBVAL_IGNORE_OUTPUT
print(f"test accuracy: learnRate 0.001: {accOK:.0%}, learnRate 0.01: {accC:.0%}")
plotLosses({"learnRate = 0.001 (healthy)": (lossesOK, "-"), "learnRate = 0.01": (lossesC, "-")},
           "A learning rate too large for this network")

# %%
print(diagnose(losses=lossesC))

# %% [markdown]
# The first steps are too long: the loss jumps far **above** its starting value (above what guessing would score) and
# then wanders without settling, while the healthy curve falls steadily. A loss that rises in the first iterations, or
# oscillates wildly, is the signature of a learning rate that is too large; with a still larger one it becomes `NaN`
# (which `diagnose` flags as `nan_loss`).
#
# `diagnose` flags it as `loss_rising`. Its rule: it smooths the losses with a moving average over a tenth of the run
# (at least 2 values, so that one noisy mini-batch does not count) and flags the run when the smoothed loss rises above
# **1.5 ×** the first loss (the first loss is measured before any update, so it is what the untrained network scores).
# A loss that falls overall but has a small bump stays below that line; a loss that jumps to 3 × its start does not.
# Note that a rule comparing the first and the last quarter of the run (`diagnose`'s `loss_not_falling`) misses this
# run: the loss jumped up at once, so the first quarter is already high and the run seems to "fall" from its peak. No
# automatic rule replaces **looking at the curve**.
#
# ### Exercise 4 (2 points) — name it and fix it
#
# 1. `answer_c` — which statement describes the curve of the run with `learnRate=0.01`? One letter:
#    * **A** — the loss falls smoothly but more slowly than the healthy run's: the learning rate is too *small*.
#    * **B** — the loss rises far above its first value in the first iterations and then oscillates at a high level:
#      the steps overshoot the minimum.
#    * **C** — the loss is exactly constant: the gradients are zero.
#    * **D** — the loss is `NaN` from the first iteration on: the data contain `NaN`.
# 2. `learnRateFixed` — a learning rate that makes this run train well. The test cell runs `trainBriefly` with it and
#    checks the loss curve.

# %% nbgrader={"grade": false, "grade_id": "ex4_setup", "locked": true, "schema_version": 3, "solution": false}
ex4 = Exercise("ex4", "learning rate", hints=[
    "Compare the two curves in the figure: where does each one start, and where does it go in the first 5 iterations?",
    "Adam's default learning rate is 0.001 (MATLAB's too).",
])

# %% nbgrader={"grade": false, "grade_id": "ex4_solution", "locked": false, "schema_version": 3, "solution": true}
# answer_c = "A", "B", "C" or "D"
# learnRateFixed = ...
### BEGIN SOLUTION
answer_c = "B"
learnRateFixed = 0.001
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex4_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
with ex4:
    check_true("answer_c", isinstance(answer_c, str) and answer_c.strip().upper() in tuple("ABCD"),
               f"answer_c should be one of the letters 'A', 'B', 'C', 'D'; got {answer_c!r}.")
    check_equal("answer_c", answer_c.strip().upper(), "B",
                hint="Look at the first iterations of the orange curve: does the loss go down or up?")
    check_true("learnRateFixed", isinstance(learnRateFixed, (int, float, np.floating)) and not isinstance(learnRateFixed, bool)
               and 0 < learnRateFixed < 0.01,
               f"learnRateFixed should be a positive number below the buggy 0.01; got {learnRateFixed!r}.",
               hint="Try ten times smaller than 0.01.")
    np.random.seed(0)
    _, _losses, _tracker = trainBriefly(modelLoss, dlnetwork(layers), learnRate=learnRateFixed)
    check_true("the loss with learnRateFixed", np.mean(_losses[-5:]) < 0.6 * _losses[0],
               f"with learnRate={learnRateFixed} the mean loss of the last 5 iterations is {np.mean(_losses[-5:]):.3g}, "
               f"the first is {_losses[0]:.3g}: it should fall well below.",
               hint="Too small a learning rate learns too slowly in 30 iterations; try 0.001.")
    ### BEGIN HIDDEN TESTS
    assert answer_c.strip().upper() == "B"
    assert max(_losses[:5]) <= _losses[0] + 0.5, "the loss should not jump up in the first iterations"
    assert "loss_not_falling" not in [c for c, _ in diagnose(losses=_losses).findings], "diagnose: loss not falling"
    ### END HIDDEN TESTS

# %% [markdown]
# ### Bug (d) — targets in the wrong layout
#
# **Symptom: a size error.** The targets come from somewhere else — a CSV file, a data frame, a PyTorch data set — with one
# **row per observation**: observations × classes (B × C). The network's predictions are classes × observations (C × B).

# %%
TrowsPerObs = TTrain[:, :64].T                          # 64 x 10: one row per observation (B x C)
Xr = dlarray(XTrain[:, :, :, :64], "SSCB")
print("targets:", TrowsPerObs.shape)
try:
    dlfeval(modelLoss, net, Xr, TrowsPerObs)
except SizeMismatchError as err:
    print(f"{type(err).__name__}: {err}")

# %% [markdown]
# The message names both sizes — targets 64 × 10, predictions 10(C) × 64(B) — and both fixes: transpose the targets
# (`T.T`, MATLAB `T'`), or *say* what their dimensions are with a format, `dlarray(T, "BC")`, and let `dlteach` permute
# them. The format is the better fix: it documents the layout in the code.
#
# Beware the one case no size check can catch: a mini-batch of exactly **10** observations. Then the wrong layout is also
# 10 × 10, and the loss is silently computed against the wrong targets:

# %%
Y10 = forward(net, dlarray(XTrain[:, :, :, :10], "SSCB"))
T10 = TTrain[:, :10]                                     # 10 classes x 10 observations: right
print(f"loss with the right targets:      {float(crossentropy(Y10, T10)):.4f}")
print(f"loss with the transposed targets: {float(crossentropy(Y10, T10.T)):.4f}   (no error!)")
print(f"loss with dlarray(T10.T, 'BC'):   {float(crossentropy(Y10, dlarray(T10.T, 'BC'))):.4f}")

# %% [markdown]
# ### Exercise 5 (2 points) — accept observations × classes targets
#
# Write `modelLossRows(net, X, Trows)`, the model loss function of `modelLoss` for targets given as **observations ×
# classes** (one row per observation, a plain NumPy array). It must be right for *every* batch size — including 10.
# Return `loss, gradients, state`.

# %% nbgrader={"grade": false, "grade_id": "ex5_setup", "locked": true, "schema_version": 3, "solution": false}
ex5 = Exercise("ex5", "targets in the B x C layout", hints=[
    "Tell crossentropy the layout: dlarray(Trows, 'BC'), or transpose: Trows.T.",
    "Do not decide by looking at the sizes (if Trows.shape[0] == ...): for a batch of 10 both layouts are 10 x 10.",
])


# %% nbgrader={"grade": false, "grade_id": "ex5_solution", "locked": false, "schema_version": 3, "solution": true}
def modelLossRows(net, X, Trows):
    ### BEGIN SOLUTION
    T = dlarray(Trows, "BC")
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex5_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
with ex5:
    _out = dlfeval(modelLossRows, net, Xr, TrowsPerObs)
    check_true("modelLossRows's result", isinstance(_out, tuple) and len(_out) == 3,
               "modelLossRows should return three values (loss, gradients, state).",
               hint="End with: return loss, gradients, state")
    _loss, _grads, _state = _out
    _ref = dlfeval(modelLoss, net, Xr, TTrain[:, :64])
    check_close("the loss", float(_loss), float(_ref[0]), rtol=1e-5,
                hint="The loss must equal modelLoss's loss with the targets in the C x B layout.")
    check_equal("the gradients' rows", _grads.keys(), net.Learnables.keys())
    ### BEGIN HIDDEN TESTS
    # the square case: a mini-batch of 10 observations
    _X10 = dlarray(XTrain[:, :, :, 100:110], "SSCB")
    _T10 = TTrain[:, 100:110]
    _l10 = dlfeval(modelLossRows, net, _X10, np.ascontiguousarray(_T10.T))[0]
    _Y10 = extractdata(forward(net, _X10)).astype(np.float64)
    assert abs(float(_l10) - float(-np.sum(_T10 * np.log(_Y10)) / 10)) < 1e-4, \
        "wrong loss for a batch of 10: do not decide the layout by the sizes"
    for _a, _r in zip(_grads.Value, _ref[1].Value):
        assert np.allclose(extractdata(_a), extractdata(_r), rtol=1e-4, atol=1e-7), "gradients differ from modelLoss's"
    ### END HIDDEN TESTS


# %% [markdown]
# ### Bug (e) — the gradient with respect to the wrong variable
#
# The loud versions first. `dlgradient(loss, X)` — the gradient with respect to the *input* — returns an array of the
# size of `X`, and the updater refuses it; differentiating with respect to a table that is not an input of `dlfeval`
# (say `learnables = net.Learnables`, taken in another cell) raises at once:

# %%
def modelLossWrtX(net, X, T):
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, X)                        # BUG: the input, not the learnables
    return loss, gradients, state


_, gradientsX, _ = dlfeval(modelLossWrtX, net, X, T)
print("gradients:", type(gradientsX).__name__, gradientsX.shape)
try:
    adamupdate(net, gradientsX, None, None, 1)
except Exception as err:
    print(f"\n{type(err).__name__}: {err}")

# %%
learnables = net.Learnables                                # a global copy, e.g. from inspecting the network


def modelLossGlobal(net, X, T):
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, learnables)               # BUG: not the traced net.Learnables
    return loss, gradients, state


try:
    dlfeval(modelLossGlobal, net, X, T)
except NotTracedError as err:
    print(f"{type(err).__name__}: {err}")


# %% [markdown]
# **The silent version.** A model function with a one-word bug — can you see it? It raises nothing:

# %%
def modelBuggy(params, X):
    Y = fullyconnect(X, params["fc1"]["Weights"], params["fc1"]["Bias"])
    Y = relu(Y)
    Y = fullyconnect(Y, parameters["fc2"]["Weights"], parameters["fc2"]["Bias"])
    return softmax(Y)


def modelLossBuggy(params, X, T):
    Y = modelBuggy(params, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, params)
    return loss, gradients


checkBuggy = gradient_check(modelLossBuggy, parameters, Xs, Ts)
print("gradient check passed:", checkBuggy.passed)
print("gradient norms:", {name: round(value, 3) for name, value in gradient_norms(dlfeval(modelLossBuggy, parameters, Xs, Ts)[1]).items()})

# %% [markdown]
# The gradient check **passes** — and yet the gradients of `fc2` are zero. Line 3 of `modelBuggy` takes `fc2`'s
# parameters from `parameters`, the **global** variable of the notebook, not from its argument `params`. `dlfeval` traces
# only its arguments; the loss does not depend on the traced `params["fc2"]` at all, so its true derivative *is* zero,
# and finite differences agree. The gradient norms give it away. Train it (and the correct `modelLossMLP`) for 30
# iterations and watch the loss curves and the norms that the tracker recorded:

# %%
np.random.seed(0)
paramsOK, lossesMLP, trackerMLP = trainBriefly(modelLossMLP, copy.deepcopy(parameters))
paramsE, lossesE, trackerE = trainBriefly(modelLossBuggy, copy.deepcopy(parameters))

normsE = gradient_norms(dlfeval(modelLossBuggy, paramsE, Xs, Ts)[1])
for name, value in normsE.items():
    print(f"gradient norm of {name:12s} {value:.3g}")
changed = float(np.max(np.abs(extractdata(paramsE["fc2"]["Weights"]) - extractdata(parameters["fc2"]["Weights"]))))
print(f"\nlargest change of fc2.Weights during the buggy run: {changed}")
print("findings:", [code for code, _ in diagnose(losses=lossesE, grad_norms=trackerE).findings])

# %%
# NBVAL_IGNORE_OUTPUT
plotLosses({"modelLossMLP (correct)": (lossesMLP, "-"), "modelLossBuggy (fc2 never learns)": (lossesE, "-")},
           "The gradient with respect to the wrong variable")
figNorms = trackerE.plot()        # gradient norms of the buggy run (log scale: a zero norm cannot be drawn)
figNorms.axes[0].set_title("Gradient norms of the buggy run: fc2 is missing (its norm is 0)")
figNorms

# %%
print(diagnose(losses=lossesE, grad_norms=trackerE))

# %% [markdown]
# The buggy run still learns a little — `fc1` adapts to a random, frozen `fc2` — so its loss curve looks merely
# *disappointing*. The gradient norms tell the real story: `fc2`'s are zero at every iteration, and its weights never
# move — on the log-scale plot of the norms, `fc2`'s lines are missing altogether (a zero cannot be drawn on a log
# scale), and `diagnose` flags it. Zero (or tiny) gradient norms for some learnables mean: the loss does not depend on them the way you think —
# the wrong variable was differentiated, a value was taken from outside the function (a global), or the trace was cut
# (`extractdata`, `float(...)`).
#
# ### Exercise 6 (2 points) — fix bug (e)
#
# Write `modelLossFixed(params, X, T)`: the model loss function of the perceptron fc1 → ReLU → fc2 → softmax that uses
# **only** its argument `params` (write the forward pass inside, or call a fixed model function of your own). Return
# `loss, gradients`. The test cell runs `gradient_check` on it.

# %% nbgrader={"grade": false, "grade_id": "ex6_setup", "locked": true, "schema_version": 3, "solution": false}
ex6 = Exercise("ex6", "the gradient with respect to the right variable", hints=[
    "Copy modelBuggy and modelLossBuggy and replace `parameters` by `params` in the fc2 line.",
    "Or simply: Y = model(params, X) - the correct model function of Section 3 - then crossentropy and "
    "dlgradient(loss, params).",
])


# %% nbgrader={"grade": false, "grade_id": "ex6_solution", "locked": false, "schema_version": 3, "solution": true}
def modelLossFixed(params, X, T):
    ### BEGIN SOLUTION
    Y = fullyconnect(X, params["fc1"]["Weights"], params["fc1"]["Bias"])
    Y = relu(Y)
    Y = fullyconnect(Y, params["fc2"]["Weights"], params["fc2"]["Bias"])
    Y = softmax(Y)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, params)
    return loss, gradients
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex6_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
with ex6:
    _out = dlfeval(modelLossFixed, parameters, Xs, Ts)
    check_true("modelLossFixed's result", isinstance(_out, tuple) and len(_out) >= 2,
               "modelLossFixed should return (loss, gradients).", hint="End with: return loss, gradients")
    _loss, _grads = _out[0], _out[1]
    check_close("the loss", float(_loss), float(crossentropy(model(parameters, Xs), Ts)), rtol=1e-5)
    _norms = gradient_norms(_grads)
    check_true("the gradient norms", all(v > 0 for v in _norms.values()),
               f"some gradients are zero: {[k for k, v in _norms.items() if not v > 0]}.",
               hint="Every learnable must be taken from params, the argument that dlfeval traces.")
    _chk = gradient_check(modelLossFixed, parameters, Xs, Ts)
    check_true("gradient_check", _chk.passed, "gradient_check fails:\n" + str(_chk))
    ### BEGIN HIDDEN TESTS
    # another set of parameters (so that a function reading the global `parameters` fails) and another batch
    np.random.seed(7)
    _p2 = {"fc1": {"Weights": initializeGlorot((32, 784), 32, 784), "Bias": dlarray(0.1 * np.ones((32, 1), np.float32))},
           "fc2": {"Weights": initializeGlorot((10, 32), 10, 32), "Bias": dlarray(0.1 * np.ones((10, 1), np.float32))}}
    _X2, _T2 = dlarray(XTrain[:, :, :, 200:232], "SSCB"), dlarray(TTrain[:, 200:232], "CB")
    _l2, _g2 = dlfeval(modelLossFixed, _p2, _X2, _T2)[:2]
    _rl2, _rg2 = dlfeval(modelLossMLP, _p2, _X2, _T2)
    assert abs(float(_l2) - float(_rl2)) < 1e-5 * float(_rl2), "loss differs from the reference"
    for _k in ("fc1", "fc2"):
        for _n in ("Weights", "Bias"):
            assert np.allclose(extractdata(_g2[_k][_n]), extractdata(_rg2[_k][_n]), rtol=1e-4, atol=1e-7), \
                f"gradient {_k}/{_n} differs from the reference"
    ### END HIDDEN TESTS

# %% [markdown]
# ## 5. Symptoms and causes at a glance
#
# | symptom | where you see it | likely cause | fix |
# |---|---|---|---|
# | error at the `dlfeval` line | traceback | any line of the model loss function | call it directly (technique 1), then run it by hand (technique 2) |
# | `ProbabilityError`; outputs outside [0, 1], columns not summing to 1 | error message, `diagnose(Y=...)` | logits into `crossentropy` (bug a) | `softmaxLayer()` at the end, or `crossentropy(softmax(Y), T)` |
# | good training loss, poor `predict` accuracy, `StateNotUpdatedWarning` | test accuracy, warning | forgotten `net.State = state` (bug b) | store the state after every `dlfeval` |
# | loss jumps above 1.5 × its first value, oscillates, or becomes `NaN` | the loss curve; `diagnose` (`loss_rising`, `nan_loss`) | learning rate too large for this network (bug c) | divide it by 3 or 10 and look again |
# | `SizeMismatchError` naming B × C and C × B | error message | targets in the wrong layout (bug d) | `dlarray(T, "BC")` or `T.T` |
# | zero gradient norms for some learnables; they never change | `GradientNormTracker`, `gradient_check`, `diagnose` | wrong variable differentiated, a global used, the trace cut (bug e) | compute everything from the inputs of `dlfeval`; differentiate `net.Learnables` / `parameters` |
#
# ## 6. MATLAB ↔ Python, side by side
#
# | | MATLAB | Python (dlteach) |
# |---|---|---|
# | generated images | `X = dlarray(rand([28 28 1 100],"single"))` | `X = dlarray(np.random.rand(28, 28, 1, 100).astype(np.float32))` |
# | generated one-hot targets | `T = repmat(eye(10,"single"),[1 10])` | `T = np.tile(np.eye(10, dtype=np.float32), (1, 10))` |
# | call directly (debugging) | `[loss,gradients,state] = modelLoss(net,X,T)` | `loss, gradients, state = modelLoss(net, X, T)` |
# | inspect an error | the error report, `dbstop if error` | the traceback, `try`/`except`, `%debug` |
# | layer outputs | `forward(net,X,Outputs="relu")` | `forward(net, X, Outputs="relu")`, `inspect_activations(net, X)` |
# | transpose | `T'` | `T.T` |
# | targets with a layout | `dlarray(T,"BC")` | `dlarray(T, "BC")` |
# | warnings as values | `lastwarn` | `warnings.catch_warnings(record=True)` |
# | gradient check | (none built in) | `gradient_check(modelLoss, net, X, T)` |

# %% [markdown] nbgrader={"grade": false, "grade_id": "summary", "locked": true, "schema_version": 3, "solution": false}
# ## 7. Summary
#
# * Errors inside a model loss function surface at the `dlfeval` line. **Technique 1:** call the function directly,
#   without `dlfeval`, on generated input of the right size (`rand([28 28 1 100],"single")`,
#   `repmat(eye(10,"single"),[1 10])`). Outside `dlfeval` the `dlgradient` line always throws — if that is the error you
#   get, every line before it ran.
# * **Technique 2:** run the lines by hand and look at each result: size, format, type, values (probabilities in
#   [0, 1] with columns summing to 1, a first loss of the order of $\log 10 \approx 2.3$ for ten classes — 3.6 for our
#   untrained network on random images), and with `inspect_activations` inside
#   the network.
# * **Technique 3:** `gradient_check` compares the gradients with central finite differences in double precision and
#   names the learnable whose gradient is wrong.
# * The bug hunt: logits into `crossentropy` (error message), a forgotten `net.State = state` (predict accuracy and a
#   warning — the loss curve cannot show it), a learning rate too large for this network (loss curve), targets in the wrong
#   layout (error message — except for a batch of 10!), the gradient with respect to the wrong variable (gradient norms).
#
# **Next.** Debugging continues in every lesson from here: when a training run disappoints, look at the loss curve, the
# gradient norms and `diagnose` before changing anything.
