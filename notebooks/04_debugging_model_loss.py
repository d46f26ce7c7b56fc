# ---
# jupyter:
#   dlteach:
#     estimated_minutes: 60
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
# Loop"** — *debugging the model loss function* — retold in our own words and in Python with `dlteach`. Then it adds
# two checks every deep-learning practitioner runs (a gradient check and the "overfit a tiny batch" test) and goes on a
# **bug hunt** through the mistakes that most often break a custom training loop.
#
# **After this lesson you can**
#
# 1. find the line of a model loss function that raised an error, by calling the function **directly** — without
#    `dlfeval` — on generated input of the right size;
# 2. run a model loss function **by hand**, line by line, and check what every line produces (sizes, formats, values);
# 3. check the gradients of a model loss function against finite differences with `gradient_check`;
# 4. run the sanity check "can it overfit a tiny batch?";
# 5. recognise classic bugs by their **symptoms** — an error message, a warning, a loss curve, a gradient norm — and
#    fix them: logits into `crossentropy`, a forgotten `net.State` update, a learning rate too large for the network,
#    targets in the wrong layout, and a gradient taken with respect to the wrong variable.
#
# **Time:** about 60 minutes. **Builds on:** lesson 01 (model loss functions, `dlfeval`, `dlgradient`, `net.State`)
# and lesson 03 (the custom training loop with `adamupdate`).
#
# **How the exercises work.** There are six graded exercises, most in several parts (17 points), and three
# written questions (3 points, graded by your instructor). Each exercise has a cell for your answer — replace the blank
# `____` under `# YOUR CODE HERE` with your code — and, below it, a one-line *check cell* such as `ex1.check("a")`. Run
# it: it answers in one box, **Correct** (with the list of what it checked), **Incorrect** (with what is wrong) or **Not
# attempted yet**. When your work is graded, the same checks run again — those that test code also on other inputs
# (other initial weights, other digits, other sizes), so code that only fits the inputs of the notebook does not pass. Stuck? `ex1.hint()`
# gives the next hint — first the idea, then where to look, then partial code — and `ex1.solution()` a full solution
# (unless your instructor switched solutions off). Unfinished exercises do not stop the notebook: *Run ▸ Run All Cells*
# goes through to the end; the cells that need one of your answers say so instead of failing. The check code is in
# `dlteach/exercises/lesson04.py`.

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
from dlteach.errors import NotTracedError, ProbabilityError, SizeMismatchError
from dlteach.debug import gradient_check, inspect_activations, gradient_norms, GradientNormTracker, diagnose
# the checks of this lesson's exercises: dlteach/exercises/lesson04.py
from dlteach.exercises.lesson04 import ex1, ex2, ex3, ex4, ex5, ex6, mystery_runs, ____

np.random.seed(0)   # networks and generated inputs draw from NumPy's global random generator

# %% [markdown]
# ## 1. Errors surface where `dlfeval` is called
#
# You never call a model loss function yourself: `dlfeval` calls it, inside the training loop, for every mini-batch.
# So when something inside it goes wrong, the error surfaces at the line `dlfeval(...)` of the loop — after the data were
# prepared, with the updater and the monitor around it — and the message comes from deep inside a library function
# (a layer, `crossentropy`, `dlgradient`). It can be unclear which line of *your* function handed it the bad value.
#
# MATLAB's documentation gives two techniques, and this lesson adds two more checks:
#
# 1. **call the model loss function directly**, without `dlfeval`, with generated input of the required size — so an
#    error shows its details and you see which line raised it;
# 2. **run the code of the function by hand**, line by line, and look at what each line produces;
# 3. (for the bugs that raise nothing) **check the gradients numerically**;
# 4. (for the whole training step) **overfit a tiny batch**.
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
# The call in the next cell fails on purpose. Typed alone in a cell, it would stop there with Python's red traceback;
# here `try`/`except` catches the error and prints exactly what that traceback shows (with `traceback.format_tb`), so
# that *Run All* goes on. Read it **from the bottom up**: the last line is the message; the frames above it show the
# chain of calls, outermost first, and the frame of *our* function (`modelLoss`) shows the line that raised.

# %%
# NBVAL_IGNORE_OUTPUT
# Technique 1: call the model loss function directly, without dlfeval. The call fails on purpose.
try:
    loss, gradients, state = modelLoss(net, X, T)
except Exception as err:
    print("".join(traceback.format_tb(err.__traceback__)))     # the chain of calls (the frames), outermost first
    print(f"{type(err).__name__}: {err}")                        # the last line: the error and its message


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
# ### Exercise 1 — weight decay that does not run
#
# A colleague added an L2 penalty to the model loss function — *weight decay*, a common extra term that keeps the weights
# small: $\text{loss} = \text{crossentropy}(Y, T) + \lambda \sum_W \sum_{ij} W_{ij}^2$, summed over the **weight**
# arrays of the network (not the biases, not batch normalisation's offset and scale), with $\lambda$ = `l2Factor`.
# Their training loop stops at the `dlfeval` line.
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
#
# **(a) (1 point)** Use technique 1 — call it directly on `X`, `T`; the helper `whereDidItFail` is there for you — and
# set `mystery_error` to the name of the exception class that is raised (a string such as `"ValueError"`) and
# `mystery_line` to the letter of the line that raises it.

# %% nbgrader={"grade": false, "grade_id": "ex1_setup", "locked": true, "schema_version": 3, "solution": false}
def modelLossL2(net, X, T, l2Factor=1e-4):
    Y, state = forward(net, X, return_state=True)                          # A
    loss = crossentropy(Y, T)                                              # B
    W = net.Learnables.value("fc", "Weight")                               # C
    loss = loss + l2Factor * np.sum(W ** 2)                                # D
    gradients = dlgradient(loss, net.Learnables)                           # E
    return loss, gradients, state


# %% nbgrader={"grade": false, "grade_id": "ex1_answer_a", "locked": false, "schema_version": 3, "solution": true}
# mystery_error = "..."   (the exception's class name)
# mystery_line = "A", "B", "C", "D" or "E"
### BEGIN SOLUTION
whereDidItFail(modelLossL2, net, X, T)
mystery_error = "KeyError"
mystery_line = "C"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex1_a", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex1.check("a")

# %% [markdown]
# **(b) (2 points)** Write `modelLossWD(net, X, T, l2Factor)`, the working version: the cross-entropy plus
# `l2Factor` times the sum of the squares of **every weight array** of the network — here `conv/Weights` and
# `fc/Weights`, but find them from the table (the rows of `net.Learnables` whose `Parameter` is `"Weights"`), so that
# the function also works for a network with more layers. Return `loss, gradients, state`.
#
# Two things to get right: the penalty must be part of what `dlgradient` differentiates (so the gradient of each weight
# array gains the term $2\lambda W$), and the function must use only its own arguments. When it works, calling it
# directly ends at line E with `dlgradient`'s "outside dlfeval" error — technique 1's sign that every line before E ran.

# %% nbgrader={"grade": false, "grade_id": "ex1_answer_b", "locked": false, "schema_version": 3, "solution": true}
def modelLossWD(net, X, T, l2Factor):
    ### BEGIN SOLUTION
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    for layer, parameter, W in zip(net.Learnables.Layer, net.Learnables.Parameter, net.Learnables.Value):
        if parameter == "Weights":
            loss = loss + l2Factor * np.sum(W ** 2)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1_b", "locked": true, "points": 2, "schema_version": 3, "solution": false}
ex1.check("b")
### BEGIN HIDDEN TESTS
ex1.check("b", seed=41)
### END HIDDEN TESTS

# %% [markdown]
# ## 2. Technique 2: run the code by hand, line by line
#
# When the direct call runs up to `dlgradient` but the results look wrong — a strange loss, a network that does not
# learn — take the function apart: copy its lines into cells and run them one at a time on the generated inputs, looking
# at every intermediate value. For each line, ask:
#
# * **size and format** — is it what the next line expects (`"CB"`: classes × observations)?
# * **type** — still `float32`?
# * **values** — probabilities between 0 and 1 whose columns sum to 1? no `NaN`/`Inf`? a loss of a plausible size?
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
print(f"largest probability: {Yd.max():.3f}, smallest: {Yd.min():.2g}")
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
print(f"log(10)            = {np.log(10):.4f}   (the loss of a classifier that answers 1/10 for every class)")

# %% [markdown]
# The loss is 3.60 — clearly **above** $\log 10 \approx 2.30$, the loss of a classifier that answers 1/10 for every
# class. That is normal for an untrained network: its random weights do not make it uniformly unsure, they make it
# *confidently wrong* on many of these random images (the largest probability above is far from 0.1), and the
# cross-entropy punishes confident mistakes hard. What to expect from an untrained 10-class classifier is therefore a
# loss **of the order of** $\log 10$ — two to four, say. A loss of 0, a negative loss, `NaN`, a value in the hundreds, or
# one a hundred times too small would each point at a bug.
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
# ### Exercise 2 — a loss that looks fine
#
# Another colleague's model loss function raises nothing: through `dlfeval` it returns a loss and gradients of the
# right sizes, and called directly it fails only at `dlgradient`. But the network it trains learns worse: after the
# 30 iterations of the short run of Section 5 it classifies 69 % of the test digits right, against 85 % with `modelLoss`.
#
# ```python
# def modelLossMystery(net, X, T):
#     Y, state = forward(net, X, return_state=True)      # A
#     Y = softmax(Y)                                     # B
#     loss = crossentropy(Y, T) / X.shape[-1]            # C
#     gradients = dlgradient(loss, net.Learnables)       # D
#     return loss, gradients, state
# ```
#
# Run lines A, B and C **by hand** on the generated `X`, `T` (and the network `net`), one cell per line if you like,
# and look at each result as in Section 2.
#
# **(a) (1 point)** Record what the lines produce: `maxA`, the largest entry of `Y` after line A; `maxB`, the largest
# entry of `Y` after line B; `lossC`, the loss after line C (Python numbers or 0-d arrays).
#
# **(b) (2 points)** `wrong_lines`: the letters of **all** the lines that are wrong, as one string (for example
# `"A"` or `"BD"`). A line is wrong if it computes something other than what the model loss function should compute.

# %% nbgrader={"grade": false, "grade_id": "ex2_setup", "locked": true, "schema_version": 3, "solution": false}
def modelLossMystery(net, X, T):
    Y, state = forward(net, X, return_state=True)      # A
    Y = softmax(Y)                                     # B
    loss = crossentropy(Y, T) / X.shape[-1]            # C
    gradients = dlgradient(loss, net.Learnables)       # D
    return loss, gradients, state


# %% nbgrader={"grade": false, "grade_id": "ex2_answer_a", "locked": false, "schema_version": 3, "solution": true}
# Run the lines by hand here (add cells if you like), then set maxA, maxB and lossC.
### BEGIN SOLUTION
YA, stateA = forward(net, X, return_state=True)     # line A
print("A:", dims(YA), YA.shape, "column sums", np.round(extractdata(YA).sum(axis=0)[:3], 4))
YB = softmax(YA)                                    # line B
print("B: values from", float(extractdata(YB).min()), "to", float(extractdata(YB).max()))
lossC = crossentropy(YB, T) / X.shape[-1]           # line C
print("C:", float(lossC))
maxA = float(extractdata(YA).max())
maxB = float(extractdata(YB).max())
lossC = float(lossC)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex2_a", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex2.check("a")

# %% nbgrader={"grade": false, "grade_id": "ex2_answer_b", "locked": false, "schema_version": 3, "solution": true}
# wrong_lines = "..."   (the letters of all the wrong lines)
### BEGIN SOLUTION
wrong_lines = "BC"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex2_b", "locked": true, "points": 2, "schema_version": 3, "solution": false}
ex2.check("b")

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
# gradient typically lands far below that — $10^{-8}$ or less in the table below —, a wrong one far above — $10^{-2}$ or
# more. It has to be done in **double precision**: in float32 the rounding error of the loss (≈ $10^{-7}$) divided by
# $2\varepsilon$ would swamp the difference.
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
relError = abs(analytical - numerical) / (abs(analytical) + abs(numerical))
print(f"relative error                = {relError:.1e}   (below gradient_check's tolerance 1e-6: {relError < 1e-6})")

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
# the right derivative of the wrong loss.

# %% [markdown]
# ## 4. Sanity check: can it overfit a tiny batch?
#
# The gradient check tests the gradients of one function. A second check, cheap and popular among practitioners, tests
# the **whole training step** — model, loss, gradients, update — at once: train on one tiny batch, say 8 images, again
# and again. A network with tens of thousands of parameters can *memorise* 8 images, so after a hundred iterations the
# training loss of that batch must be close to 0. If it is not, something in the pipeline is broken. The test takes a
# second, long before a real training run would reveal the same problem after an hour. (Passing it says nothing about
# generalisation: memorising 8 images is not learning digits. It only says the pipeline *can* learn.)
#
# Four candidates, all in the model-function form of Section 3, all run without error and return a loss and gradients
# of the right sizes:
#
# * **A** — `modelLossMLP`, the reference;
# * **B** — `modelLossTwice`, a variant that applies `softmax` to the output of `model`;
# * **C** — `modelLossHandSoftmax`, the hand-written softmax of Section 3;
# * **D** — `modelLossD`, a colleague's copy of `modelLossMLP`, edited in another notebook.

# %%
def modelLossTwice(parameters, X, T):
    Y = softmax(model(parameters, X))                  # softmax of probabilities
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, parameters)
    return loss, gradients


def modelD(params, X):
    Y = fullyconnect(X, params["fc1"]["Weights"], params["fc1"]["Bias"])
    Y = relu(Y)
    Y = fullyconnect(Y, parameters["fc2"]["Weights"], parameters["fc2"]["Bias"])
    return softmax(Y)


def modelLossD(params, X, T):
    Y = modelD(params, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, params)
    return loss, gradients


candidates = {"A": modelLossMLP, "B": modelLossTwice, "C": modelLossHandSoftmax, "D": modelLossD}
Xtiny, Ttiny = dlarray(XTrain[:, :, :, :8], "SSCB"), dlarray(TTrain[:, :8], "CB")   # the tiny batch: 8 digits

# %% [markdown]
# ### Exercise 3 — the overfit test
#
# **(a) (2 points)** Write `overfitTinyBatch(lossFcn, parameters, X, T, numIterations=100, learnRate=0.01)`: train
# `parameters` with `adamupdate` on the **same** batch `X`, `T` for `numIterations` iterations (the iteration counter
# starts at 1) and return the list of the `numIterations` losses, as Python floats: at every iteration the loss that
# `dlfeval(lossFcn, parameters, X, T)` returns, *before* that iteration's update. `lossFcn` returns `(loss, gradients)`.
# Pass `learnRate` on to `adamupdate`. The dictionary `parameters` that the caller passed in must not change (it does not
# if you assign `adamupdate`'s result to a variable, as in lesson 03).
#
# (For this small perceptron on a tiny batch, Adam's learning rate 0.01 is fine; lesson 03 found it the fastest for its
# perceptron. Section 5 meets a network for which it is too large.)

# %% nbgrader={"grade": false, "grade_id": "ex3_answer_a", "locked": false, "schema_version": 3, "solution": true}
def overfitTinyBatch(lossFcn, parameters, X, T, numIterations=100, learnRate=0.01):
    ### BEGIN SOLUTION
    averageGrad = averageSqGrad = None
    losses = []
    for iteration in range(1, numIterations + 1):
        loss, gradients = dlfeval(lossFcn, parameters, X, T)
        parameters, averageGrad, averageSqGrad = adamupdate(parameters, gradients, averageGrad, averageSqGrad,
                                                            iteration, learnRate=learnRate)
        losses.append(float(loss))
    return losses
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3_a", "locked": true, "points": 2, "schema_version": 3, "solution": false}
ex3.check("a")
### BEGIN HIDDEN TESTS
ex3.check("a", seed=43)
### END HIDDEN TESTS

# %% [markdown]
# Now run the test on the four candidates (this cell needs your `overfitTinyBatch`). Warnings are collected and printed
# below instead of appearing in pink boxes:

# %% dlteach={"requires_solutions": true}
tinyRuns = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        for letter, lossFcn in candidates.items():
            out = overfitTinyBatch(lossFcn, parameters, Xtiny, Ttiny)
            if out is None:
                raise ValueError("it returns None")
            tinyRuns[letter] = losses = [float(v) for v in out]
            print(f"{letter} {lossFcn.__name__:22s} loss: first {losses[0]:.3f}, "
                  f"after 50 iterations {losses[49]:.3g}, last {losses[-1]:.3g}")
    except Exception as err:     # overfitTinyBatch is not written yet (or fails): say so and go on
        tinyRuns = {}
        print(f"This cell needs your overfitTinyBatch of Exercise 3 (a), which does not work yet: "
              f"{type(err).__name__}: {err}")
kinds = sorted({type(w.message).__name__ for w in caught})
print(f"\n{len(caught)} warning(s) while training{': ' + ', '.join(kinds) if kinds else ''}")
if caught:
    print(f"the first one: {caught[0].message}")

# %% dlteach={"requires_solutions": true}
# NBVAL_IGNORE_OUTPUT
fig, ax = plt.subplots(figsize=(6.5, 3.3))     # empty until Exercise 3 (a) is solved
for letter, losses in tinyRuns.items():
    ax.semilogy(np.arange(1, len(losses) + 1), np.maximum(losses, 1e-6), label=f"{letter}: {candidates[letter].__name__}")
ax.set_xlabel("iteration")
ax.set_ylabel("loss of the tiny batch (log scale)")
ax.set_title("Overfitting 8 images")
if tinyRuns:
    ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# **(b) (1 point)** `failing_candidates`: the letters of **all** the candidates that fail the overfit test — whose loss
# of the last iteration is not below 0.05 — as one string (for example `"A"` or `"CD"`). Look at the results and the
# curves above, and think about what each result means.

# %% nbgrader={"grade": false, "grade_id": "ex3_answer_b", "locked": false, "schema_version": 3, "solution": true}
# failing_candidates = "..."
### BEGIN SOLUTION
failing_candidates = "BC"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex3_b", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex3.check("b")

# %% [markdown]
# Keep candidate D in mind: the bug hunt comes back to it.

# %% [markdown]
# ## 5. The bug hunt
#
# Five planted mistakes, each one common in real code. For each: first the **symptom** — what you would actually see —
# then, for three of them, an exercise to diagnose or fix it. The tools:
#
# * a short training run — `trainBriefly` below, lesson 03's loop (Adam, mini-batches of 64, 30 iterations) on 512 real
#   training digits — with its **loss curve**, and the test accuracy from `predict` on 300 test digits;
# * the **gradient norms** of every learnable, recorded by a `GradientNormTracker` during the run;
# * `diagnose(losses=..., grad_norms=..., Y=...)`, which looks at a run and names the likely causes;
# * and the teaching **error messages** and **warnings** of `dlteach`.

# %%
numTrain, miniBatchSize = 512, 64
XTest300, labelsTest300 = dlarray(XTest[:, :, :, :300], "SSCB"), labelsTest[:300]


def trainBriefly(lossFcn, model, learnRate=0.001, numIterations=30, storeState=True, seed=0):
    # Lesson 03's custom training loop, compact: returns the trained model, the losses and a GradientNormTracker.
    rng = np.random.default_rng(seed)                  # the same mini-batches in every run
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
# The message names the mistake and the fix — no exercise needed: the library's error does the diagnosis. (A model
# loss function for a network without a softmax layer applies it itself: `loss = crossentropy(softmax(Y), T)`.)
#
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
# state) and warns with `StateNotUpdatedWarning`. Here the damage is moderate, but on other data (or after a longer
# training, when the network relies on finer differences) forgetting the state can make `predict` no better than
# guessing. (The cell above catches the warning with `warnings.catch_warnings(record=True)` and prints it; without that,
# it would appear in a pink box.)
#
# ### Exercise 4 — a training step with three bugs
#
# A colleague wrote one iteration of the training loop as a function. It runs without an error, and it returns the
# four values it promises. It has **three** bugs.
#
# ```python
# def trainStepBuggy(net, X, T, averageGrad, averageSqGrad, iteration):
#     loss, gradients, state = dlfeval(modelLoss, net, X, T)
#     net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, 1)
#     return net, averageSqGrad, averageGrad, loss
# ```
#
# Write `trainStep(net, X, T, averageGrad, averageSqGrad, iteration)`, the corrected version: it evaluates `modelLoss`
# with `dlfeval`, keeps the network's state up to date, updates the learnables with `adamupdate` (Adam's default learning
# rate, 0.001) and returns `net, averageGrad, averageSqGrad, loss` — the updated network, the **updated** moving averages
# in this order, and the loss. The MATLAB loop of lesson 03 is the reference. Each requirement is graded separately:
#
# * **(a) (1 point)** the returned network carries the state that `dlfeval` returned;
# * **(b) (1 point)** the returned moving averages are `adamupdate`'s, in the order of the signature;
# * **(c) (1 point)** the update of the learnables is right at *every* iteration, not only the first (the check runs
#   iteration 3 from a given network and averages).

# %% nbgrader={"grade": false, "grade_id": "ex4_answer", "locked": false, "schema_version": 3, "solution": true}
def trainStep(net, X, T, averageGrad, averageSqGrad, iteration):
    ### BEGIN SOLUTION
    loss, gradients, state = dlfeval(modelLoss, net, X, T)
    net.State = state
    net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, iteration)
    return net, averageGrad, averageSqGrad, loss
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex4_state", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex4.check("a")
### BEGIN HIDDEN TESTS
ex4.check("a", seed=44)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex4_averages", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex4.check("b")
### BEGIN HIDDEN TESTS
ex4.check("b", seed=45)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex4_iteration", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex4.check("c")
### BEGIN HIDDEN TESTS
ex4.check("c", seed=46)
### END HIDDEN TESTS

# %% [markdown]
# ### Bug (c) — a learning rate too large for this network
#
# **Symptom: the loss curve.** The same run with `learnRate=0.01` instead of Adam's default 0.001. 0.01 is not wrong in
# itself: lesson 03's perceptron trained *fastest* with it (lesson 03, Section 6), and Section 4 above overfits a tiny batch
# with it. But this convolutional network with batch normalisation, on mini-batches of 64, takes steps that are too long
# with it. The right learning rate depends on the network, the data, the batch size and the updater — which is why you
# always look at the loss curve:

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
# ### Exercise 5 — read the loss curves
#
# Three more runs of `trainBriefly` on the same network, each with a different problem. Their loss curves, with the
# healthy run for comparison:

# %%
# NBVAL_IGNORE_OUTPUT
mysteryRuns = mystery_runs()            # three runs of trainBriefly with a problem each
plotLosses({"healthy run": (lossesOK, "k-"), **{f"run {name}": (losses, style)
            for (name, losses), style in zip(mysteryRuns.items(), ["-", "--", "-."])}},
           "Three runs with a problem")

# %% [markdown]
# **(a) (2 points)** For each run, the letter of its cause. Set `cause_P`, `cause_Q` and `cause_R` to one letter each:
#
# * **A** — the learning rate is too large for this network;
# * **B** — the learning rate is much too small;
# * **C** — the loop never stores the updated learnables (`adamupdate(net, ...)` instead of
#   `net, averageGrad, averageSqGrad = adamupdate(net, ...)`), so every iteration starts from the initial network;
# * **D** — the loop forgets `net.State = state`.
#
# The losses are in `mysteryRuns["P"]`, `mysteryRuns["Q"]`, `mysteryRuns["R"]` if you want to look at the numbers or
# give them to `diagnose`.

# %% nbgrader={"grade": false, "grade_id": "ex5_answer_a", "locked": false, "schema_version": 3, "solution": true}
# cause_P = "..."; cause_Q = "..."; cause_R = "..."   (one of "A", "B", "C", "D" each)
### BEGIN SOLUTION
cause_P = "C"
cause_Q = "A"
cause_R = "B"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex5_a", "locked": true, "points": 2, "schema_version": 3, "solution": false}
ex5.check("a")

# %% [markdown]
# **(b) (1 point)** `learnRateFixed`: a learning rate with which `trainBriefly(modelLoss, dlnetwork(layers),
# learnRate=learnRateFixed)` trains well. "Well" means two things, both checked: `diagnose` finds no problem in the
# losses, and the mean loss of the last 5 iterations is below half the first loss. (Grading repeats the run with other
# initial weights and another order of the mini-batches.)

# %% nbgrader={"grade": false, "grade_id": "ex5_answer_b", "locked": false, "schema_version": 3, "solution": true}
# learnRateFixed = ...
### BEGIN SOLUTION
learnRateFixed = 0.001
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex5_b", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex5.check("b")
### BEGIN HIDDEN TESTS
ex5.check("b", seed=2)
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
# ### Exercise 6 — accept observations × classes targets
#
# Write `modelLossRows(net, X, Trows)`, the model loss function of `modelLoss` for targets given as **observations ×
# classes** (one row per observation, a plain NumPy array). Return `loss, gradients, state`. Its loss and gradients must
# be those of `modelLoss` with the targets in the classes × observations layout:
#
# * **(a) (1 point)** for a mini-batch of 64 observations;
# * **(b) (1 point)** for *every* batch size — including a mini-batch of exactly 10 observations, where both layouts are
#   10 × 10.

# %% nbgrader={"grade": false, "grade_id": "ex6_answer", "locked": false, "schema_version": 3, "solution": true}
def modelLossRows(net, X, Trows):
    ### BEGIN SOLUTION
    T = dlarray(Trows, "BC")
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex6_batch64", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex6.check("a")
### BEGIN HIDDEN TESTS
ex6.check("a", seed=47)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex6_batch10", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex6.check("b")
### BEGIN HIDDEN TESTS
ex6.check("b", seed=48)
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
# **The quiet version: candidate D of Section 4.** Does it pass the gradient check? What are its gradient norms?
# (Warnings are collected and printed again.)

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    checkD = gradient_check(modelLossD, parameters, Xs, Ts)
    normsD = gradient_norms(dlfeval(modelLossD, parameters, Xs, Ts)[1])
print("gradient check passed:", checkD.passed)
print("gradient norms:", {name: round(value, 3) for name, value in normsD.items()})
print(f"\n{len(caught)} warning(s)" + (", the first of each kind:" if caught else ""))
firstOfEachKind = {}
for w in caught:
    firstOfEachKind.setdefault(type(w.message).__name__, w.message)
for kind, message in firstOfEachKind.items():
    print(f"{kind}: {message}")

# %% [markdown]
# The gradients of `fc2` are zero. Line 3 of `modelD` takes `fc2`'s parameters from `parameters`, the **global**
# variable of the notebook, not from its argument `params`. `dlfeval` traces only its arguments; the loss does not
# depend on the traced `params["fc2"]` at all, so its true derivative *is* zero — and for `fc2` the finite differences
# agree: its rows pass. The check fails for `fc1`, but read its note: the loss was computed in **float32** although
# `gradient_check` had made float64 copies of everything it was given. Something inside the function brought float32
# values in — the global `fc2`, which the check could not copy — and a float32 loss is too coarse for finite
# differences. So the gradient check catches this bug only *indirectly*, through precision; with a float64 global it
# would pass. The gradient norms give the bug away directly, and so does `dlgradient` itself: dlteach's
# `DisconnectedGradientWarning`, printed above, says that the loss does not depend on `fc2`'s parameters although you
# asked for their gradient, and names the usual cause, a global (MATLAB returns the zeros without a word). Train it (and the correct `modelLossMLP`) for 30
# iterations and watch the loss curves and the norms that the tracker recorded:

# %%
np.random.seed(0)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    paramsOK, lossesMLP, trackerMLP = trainBriefly(modelLossMLP, copy.deepcopy(parameters))
    paramsE, lossesE, trackerE = trainBriefly(modelLossD, copy.deepcopy(parameters))
    normsE = gradient_norms(dlfeval(modelLossD, paramsE, Xs, Ts)[1])
print(f"{len(caught)} warning(s) during the two runs")
for name, value in normsE.items():
    print(f"gradient norm of {name:12s} {value:.3g}")
changed = float(np.max(np.abs(extractdata(paramsE["fc2"]["Weights"]) - extractdata(parameters["fc2"]["Weights"]))))
print(f"\nlargest change of fc2.Weights during the buggy run: {changed}")
print("findings:", diagnose(losses=lossesE, grad_norms=trackerE).codes)

# %%
# NBVAL_IGNORE_OUTPUT
plotLosses({"modelLossMLP (correct)": (lossesMLP, "-"), "modelLossD (fc2 never learns)": (lossesE, "-")},
           "The gradient with respect to the wrong variable")
figNorms = trackerE.plot()        # gradient norms of the buggy run (log scale: a zero norm cannot be drawn)
figNorms.axes[0].set_title("Gradient norms of the buggy run: fc2 is missing (its norm is 0)")
figNorms

# %%
print(diagnose(losses=lossesE, grad_norms=trackerE))

# %% [markdown]
# The buggy run still learns — `fc1` adapts to a random, frozen `fc2` — so its loss curve looks merely *disappointing*.
# The gradient norms tell the real story: `fc2`'s are
# zero at every iteration, and its weights never move — on the log-scale plot of the norms, `fc2`'s lines are missing
# altogether (a zero cannot be drawn on a log scale), and `diagnose` flags it. Zero (or tiny) gradient norms for some
# learnables mean: the loss does not depend on them the way you think — the wrong variable was differentiated, a value
# was taken from outside the function (a global), or the trace was cut (`extractdata`, `float(...)`). The fix is one
# word: `params` instead of `parameters` in the third line of `modelD`.

# %% [markdown]
# ## 6. Written questions
#
# Answer in a few sentences each, in the cell below the question (double-click it to edit). These are graded by your
# instructor, not by a check.
#
# **Question 1 (1 point).** You call your model loss function directly, without `dlfeval`, on generated input, and it
# stops at the `dlgradient` line with "called outside dlfeval". What do you now know about your function, and what do
# you still **not** know? Name one kind of bug this result cannot rule out, and the technique of this lesson that would
# find it.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written1", "locked": false, "points": 1, "schema_version": 3, "solution": true}
# *Model answer (only in the instructor version; learners get an empty answer cell).*
#
# Known: every line before dlgradient ran without an error on inputs of this size (forward pass, loss: sizes, formats,
# types are accepted). Not known: whether the values are right and whether the gradients are right. Bugs it cannot rule
# out: a wrong but error-free computation (softmax applied twice, loss divided twice by the batch size, targets in the
# wrong layout for a batch of 10), a cut trace (extractdata), a global variable. Technique 2 (line by line, look at the
# values), the gradient check, the overfit test or the gradient norms find them.

# %% [markdown]
# **Question 2 (1 point).** For candidate D (the global `parameters` in `modelD`), the gradient check passes for `fc2`
# and fails for `fc1` with a note about float32. Explain why the check cannot see the bug in `fc2`'s gradients, what its
# note about float32 reveals, what the overfit test of Section 4 says about D and why, and which symptom reveals the bug
# directly.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written2", "locked": false, "points": 1, "schema_version": 3, "solution": true}
# *Model answer (only in the instructor version; learners get an empty answer cell).*
#
# The gradient check compares dlgradient with finite differences of the same function: the function really does not
# depend on params["fc2"], so both derivatives are 0 and agree. The float32 note: the check made float64 copies of
# everything it was given, yet the loss came out float32 -- a value from outside the arguments (the global fc2) entered
# the computation; the failure for fc1 is imprecision, not a wrong derivative. The overfit test only asks whether the loss of 8 images
# can reach ~0: fc1 alone (32 x 784 weights) can memorise 8 images through a frozen random fc2. Revealing symptoms:
# dlgradient's DisconnectedGradientWarning, zero gradient norms for fc2 (GradientNormTracker, diagnose's
# vanishing_gradients), fc2's weights never change, a disappointing loss on real training.

# %% [markdown]
# **Question 3 (1 point).** Lesson 03 found 0.01 the fastest learning rate for its perceptron; in this lesson 0.01 makes
# the convolutional network's loss jump to four times its start. Explain how both can be true, and describe how you
# would choose the learning rate for a new network: what would you run, and what would you look at?

# %% [markdown] nbgrader={"grade": true, "grade_id": "written3", "locked": false, "points": 1, "schema_version": 3, "solution": true}
# *Model answer (only in the instructor version; learners get an empty answer cell).*
#
# The best step size depends on the loss surface, i.e. on the network (architecture, initialisation, batch
# normalisation), the data, the batch size and the updater; a rate that suits one network overshoots on another.
# Choosing: short runs with a few rates spaced by factors of ~3 or 10 (1e-4, 1e-3, 1e-2 ...), compare the loss curves
# (falls fast without jumping above its first value / oscillating / NaN; diagnose's loss_rising), take the largest rate
# that trains smoothly, or a bit below; check again on longer runs / validation accuracy.

# %% [markdown]
# ## 7. Symptoms and causes at a glance
#
# | symptom | where you see it | likely cause | fix |
# |---|---|---|---|
# | error at the `dlfeval` line | traceback | any line of the model loss function | call it directly (technique 1), then run it by hand (technique 2) |
# | `ProbabilityError`; outputs outside [0, 1], columns not summing to 1 | error message, `diagnose(Y=...)` | logits into `crossentropy` (bug a) | `softmaxLayer()` at the end, or `crossentropy(softmax(Y), T)` |
# | good training loss, poor `predict` accuracy, `StateNotUpdatedWarning` | test accuracy, warning | forgotten `net.State = state` (bug b) | store the state after every `dlfeval` |
# | loss jumps above 1.5 × its first value, oscillates, or becomes `NaN` | the loss curve; `diagnose` (`loss_rising`, `nan_loss`) | learning rate too large for this network (bug c) | divide it by 3 or 10 and look again |
# | a loss that stalls above 0 or rises again when overfitting a tiny batch | the overfit test | a broken loss or broken gradients | technique 2, the gradient check |
# | `SizeMismatchError` naming B × C and C × B | error message | targets in the wrong layout (bug d) | `dlarray(T, "BC")` or `T.T` |
# | zero gradient norms for some learnables; they never change | `GradientNormTracker`, `diagnose`, `DisconnectedGradientWarning` | wrong variable differentiated, a global used, the trace cut (bug e) | compute everything from the inputs of `dlfeval`; differentiate `net.Learnables` / `parameters` |
# | gradients disagree with finite differences | `gradient_check` | a cut trace (`extractdata`, `float(...)`) inside the loss | keep every step on dlarrays |
#
# ## 8. MATLAB ↔ Python, side by side
#
# | | MATLAB | Python (dlteach) |
# |---|---|---|
# | generated images | `X = dlarray(rand([28 28 1 100],"single"))` | `X = dlarray(np.random.rand(28, 28, 1, 100).astype(np.float32))` |
# | generated one-hot targets | `T = repmat(eye(10,"single"),[1 10])` | `T = np.tile(np.eye(10, dtype=np.float32), (1, 10))` |
# | call directly (debugging) | `[loss,gradients,state] = modelLoss(net,X,T)` | `loss, gradients, state = modelLoss(net, X, T)` |
# | inspect an error | the error report, `dbstop if error` | the traceback, `try`/`except`, `%debug` |
# | run line by line | select lines, *Evaluate Selection* (F9) | copy the lines into cells |
# | layer outputs | `forward(net,X,Outputs="relu")` | `forward(net, X, Outputs="relu")`, `inspect_activations(net, X)` |
# | transpose | `T'` | `T.T` |
# | targets with a layout | `dlarray(T,"BC")` | `dlarray(T, "BC")` |
# | warnings as values | `lastwarn` | `warnings.catch_warnings(record=True)` |
# | gradient check | (none built in) | `gradient_check(modelLoss, net, X, T)` |

# %% [markdown] nbgrader={"grade": false, "grade_id": "summary", "locked": true, "schema_version": 3, "solution": false}
# ## 9. Summary
#
# * Errors inside a model loss function surface at the `dlfeval` line. **Technique 1:** call the function directly,
#   without `dlfeval`, on generated input of the right size (`rand([28 28 1 100],"single")`,
#   `repmat(eye(10,"single"),[1 10])`). Outside `dlfeval` the `dlgradient` line always throws — if that is the error you
#   get, every line before it ran.
# * **Technique 2:** run the lines by hand and look at each result: size, format, type, values (probabilities in
#   [0, 1] with columns summing to 1; a first loss of the order of $\log 10 \approx 2.3$ for ten classes — 3.6 for our
#   untrained network on random images), and with `inspect_activations` inside the network.
# * **Technique 3:** `gradient_check` compares the gradients with central finite differences in double precision and
#   names the learnable whose gradient is wrong (relative error above its tolerance, $10^{-6}$ by default).
# * **The overfit test:** a correct training step drives the loss of a tiny batch to about 0. It catches broken losses
#   and gradients in a second — but passing it proves little.
# * The bug hunt: logits into `crossentropy` (error message), a forgotten `net.State = state` (predict accuracy and a
#   warning — the loss curve cannot show it), a learning rate too large for the network (loss curve; `diagnose` flags a
#   smoothed loss above 1.5 × the first), targets in the wrong layout (error message — except for a batch of 10!), the
#   gradient with respect to the wrong variable (a warning and the gradient norms).
#
# **Next.** Debugging continues in every lesson from here: when a training run disappoints, look at the loss curve, the
# gradient norms and `diagnose` before changing anything.

# %% [markdown]
# ## 10. Experiments (ungraded)
#
# Open questions to try in new cells — nothing here is graded.
#
# 1. Run `trainBriefly(modelLoss, dlnetwork(layers), learnRate=lr)` for `lr` = 0.1 and 1. When does `diagnose` report
#    `nan_loss`? Look at `inspect_activations(net, X).dead_fraction("relu")` of the trained networks: what happened to
#    the ReLU units?
# 2. In `modelHandSoftmax`, keep only the **first** `extractdata` (the shift) and run `gradient_check` again. Then keep
#    only the second. Explain the two results.
# 3. Run the overfit test on the convolutional network (`dlnetwork(layers)`, `modelLoss`, a batch of 8): you need to
#    store the state as well. Which learning rates pass?
# 4. Train `modelLossRows` written with `Trows.T if Trows.shape[0] != 10 else Trows` on mini-batches of 10: how much
#    worse is the test accuracy than with `dlarray(Trows, "BC")`?
# 5. Give `diagnose` the losses of the run with `learnRate=0.005` (lesson text: safe up to about 3e-3). Is the rule
#    "smoothed loss above 1.5 × the first" too strict, too lax, or about right for this network?
