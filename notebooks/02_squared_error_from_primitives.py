# ---
# jupyter:
#   dlteach:
#     estimated_minutes: 50
#     lesson: 2
#     seed: 'Sony Neural Network Console: tutorial using your own loss function (B1-B3)'
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
# # Lesson 2 — Squared error from primitives
#
# *Which number does training minimise — and how to build that number yourself.*
#
# This lesson follows Sony's **Neural Network Console** (NNC) tutorial on **using your own loss function**, retold in our
# own words. NNC is a graphical tool: you drag layers onto a canvas and connect them. Here every NNC layer is a Python
# function of `dlteach.nnc` with NNC's name (`nnc.SquaredError`, `nnc.Sub2`, `nnc.PowScalar`, ...), so a network drawn in
# NNC becomes a few lines of code — and it sits next to MATLAB's custom-training-loop API, which `dlteach` mirrors.
#
# **After this lesson you can**
#
# 1. state NNC's rule for the loss — *the mean of every terminal output, summed* — and show that a network with two
#    terminal losses trains exactly like one that averages and adds them itself;
# 2. explain why taking **means** makes the loss independent of the batch size, and convert between NNC's squared error,
#    MATLAB's `l2loss` and MATLAB's `mse` (which is *half* the squared error);
# 3. build squared error — and other losses such as the Huber loss — from elementary layers (Sub2, PowScalar, Abs, ...),
#    and verify value **and gradient** against the built-in layer;
# 4. train an autoencoder on handwritten digits with such a custom loss in a custom training loop;
# 5. set up the **inference network** of a model trained with a custom loss (no loss part, batch statistics off) — in
#    `dlteach` and MATLAB that is `predict` — and tell `forward` from `predict` when the network has batch normalisation;
# 6. recognise the symptom of a network state that was never stored, and repair it.
#
# **Time:** about 50 minutes. **Builds on:** lesson 01 (model loss functions, `dlfeval`, `dlgradient`, `forward`,
# `predict`, `net.State`). No NNC installation is needed.
#
# **How the exercises work.** There are five graded exercises (10 points). Replace `raise NotImplementedError()` in the
# exercise cell with your answer, then run the test cell below it: you get a green **Correct** or a red box that says
# what was expected. Stuck? `ex1.hint()`, then `ex1.hint(2)`. *Run All* works even before you solve anything: the lesson
# uses stand-ins where an exercise is missing.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import copy
import warnings

import numpy as np
import matplotlib.pyplot as plt

from dlteach import (dlarray, dims, extractdata, dlfeval, dlgradient,              # arrays and autodiff
                     nnc,                                                          # NNC layers as functions
                     fullyconnect, sigmoid, l2loss, mse,                           # MATLAB operations and losses
                     dlnetwork, forward, predict, featureInputLayer, fullyConnectedLayer,
                     batchNormalizationLayer, reluLayer, sigmoidLayer,             # network-object style
                     adamupdate, minibatchqueue, hasdata, shuffle, load_digits)
from dlteach import next          # MATLAB's next(mbq); on anything else it behaves like Python's next
from dlteach.errors import StateNotUpdatedWarning
from dlteach.checks import Exercise, ____, check_close, check_equal, check_shape, check_true, check_dtype

np.random.seed(0)   # initial weights are drawn from NumPy's global random generator

# %% [markdown]
# ### The data: digits as columns of 784 pixels
#
# `load_digits("train")` returns 4,000 real MNIST digits as 28 × 28 × 1 × 4000 images (MATLAB's layout: observations
# last), pixel values between 0 and 1. An **autoencoder** needs no labels: it learns to reproduce its input, so the input
# image is also the target.
#
# Our networks start with fully connected layers, which see an image as one long vector. We flatten every image into a
# column of 28 · 28 = 784 numbers, giving a 784 × 4000 matrix with format `"CB"` (NNC's Affine layer flattens by itself;
# MATLAB would write `reshape(X, 784, [])`). Flattening and reshaping back use the same order, so nothing gets scrambled:

# %%
X, labels, _ = load_digits("train")              # 28 x 28 x 1 x 4000
Xtest, labelsTest, _ = load_digits("test")       # 28 x 28 x 1 x 1000
XTrain = X.reshape(28 * 28, -1)                  # 784 x 4000: image n is the column XTrain[:, n]
XTest = Xtest.reshape(28 * 28, -1)               # 784 x 1000

print("XTrain:", XTrain.shape, XTrain.dtype, "  XTest:", XTest.shape)
print("column 0 reshaped to 28 x 28 is image 0:", np.array_equal(XTrain[:, 0].reshape(28, 28), X[:, :, 0, 0]))

Xb = dlarray(XTrain[:, :64], "CB")   # a mini-batch of 64 images for the experiments of sections 1 and 2
print("mini-batch Xb:", dims(Xb), Xb.shape)


# %% [markdown]
# ## 1. Which value is the loss?
#
# In NNC the loss functions are ordinary layers — `SquaredError`, `BinaryCrossEntropy`, `CategoricalCrossEntropy`, ...
# — and, unlike MATLAB's loss *functions*, they do **not** reduce anything: `SquaredError` outputs one number per element,
# $(x_0 - x_1)^2$, an array as large as its inputs. So which single number does training minimise? The tutorial's answer:
#
# > For the network selected for training (the *Optimizer* on NNC's CONFIG tab), NNC takes every **terminal layer** — a
# > layer whose output goes nowhere else — averages its output over all its elements, and minimises the **sum of these
# > averages**.
#
# $$\text{loss} \;=\; \sum_{k\,\in\,\text{terminal layers}} \operatorname{mean}\bigl(\text{output}_k\bigr)$$
#
# Two consequences:
#
# * **Any loss can be used**: design the network so that the loss value appears at its end. Nothing is special about the
#   loss layers — a network ending in `Sub2` and `PowScalar` is as good a loss as one ending in `SquaredError`.
# * A network **A** with several terminal loss layers trains *exactly* like a network **B** that averages each of them
#   itself (`Mean` layers) and adds the averages (`Add2`) into one terminal value. Let us check that on a real example.
#
# **The example: a sparse autoencoder.** The encoder compresses each 784-pixel image into a *code* $h$ of 32 numbers, the
# decoder reconstructs the image $y$ from the code. Network A has two terminal layers:
#
# 1. the reconstruction error `SquaredError(y, x)` — 784 numbers per image;
# 2. a **sparsity penalty** $\lambda\,|h|$ (`Abs`, then `MulScalar`) — 32 numbers per image. It pushes the code towards
#    zero except where it is needed (an L1 penalty on the activations; with sigmoid codes, $|h| = h$).
#
# ```
# network A (two terminal layers)
#
# x ── Affine(32) ── Sigmoid ─┬─ Affine(784) ── Sigmoid ── SquaredError(·, x)       ◀ terminal 1:  784 x N
#         (encoder)     h     │       (decoder)       y
#                             └─ Abs ── MulScalar(λ)                                 ◀ terminal 2:   32 x N
#
# network B (one terminal layer): the same, then
#    SquaredError ── Mean ──┐
#                           Add2                                                     ◀ the only terminal: 1 number
#    MulScalar(λ) ── Mean ──┘
# ```
#
# We write the two networks in the *model-function form* of lesson 01: a function of a dictionary of parameters that
# returns the list of its terminal outputs.

# %%
def initializeGlorot(numOut, numIn):
    # Glorot (Xavier) uniform initialisation, float32 (lesson 01)
    bound = np.sqrt(6 / (numIn + numOut))
    return dlarray((bound * (2 * np.random.rand(numOut, numIn) - 1)).astype(np.float32))


np.random.seed(0)
parameters = {
    "enc": {"Weights": initializeGlorot(32, 784), "Bias": dlarray(np.zeros((32, 1), np.float32))},
    "dec": {"Weights": initializeGlorot(784, 32), "Bias": dlarray(np.zeros((784, 1), np.float32))},
}
lam = 0.01   # weight of the sparsity penalty


def autoencoder(parameters, X):
    # NNC: Affine -> Sigmoid (the code h), Affine -> Sigmoid (the reconstruction y)
    H = sigmoid(fullyconnect(X, parameters["enc"]["Weights"], parameters["enc"]["Bias"]))
    Y = sigmoid(fullyconnect(H, parameters["dec"]["Weights"], parameters["dec"]["Bias"]))
    return H, Y


def networkA(parameters, X):
    # two terminal layers: the reconstruction error and the sparsity penalty
    H, Y = autoencoder(parameters, X)
    reconstruction = nnc.SquaredError(Y, X)          # terminal 1: 784 x N
    sparsity = nnc.MulScalar(nnc.Abs(H), lam)        # terminal 2:  32 x N
    return [reconstruction, sparsity]


def networkB(parameters, X):
    # one terminal layer: the network averages each loss and adds the averages itself
    reconstruction, sparsity = networkA(parameters, X)
    return [nnc.Add2(nnc.Mean(reconstruction), nnc.Mean(sparsity))]


terminalsA = networkA(parameters, Xb)
terminalsB = networkB(parameters, Xb)
print("network A, sizes of the terminal outputs:", [t.shape for t in terminalsA])
print("network B, sizes of the terminal outputs:", [t.shape for t in terminalsB], "(a single number)")

# %% [markdown]
# ### Exercise 1 (2 points) — the loss NNC minimises
#
# Write `sum_of_means(terminals)`: given a **list** of terminal outputs (dlarrays or NumPy arrays, of any sizes), return
# the loss NNC minimises — the mean of each, summed.
#
# With dlarrays, NumPy's functions and operators work as usual: `np.mean(y)` is the mean of all elements of `y`, and
# `a + b` adds. (The NNC way, with layers: `nnc.Mean(y)` and `nnc.Add2(a, b)`.) Your function must work inside `dlfeval`,
# so that `dlgradient` can differentiate its result: use no `extractdata` or `float` inside it.

# %% nbgrader={"grade": false, "grade_id": "ex1_setup", "locked": true, "schema_version": 3, "solution": false}
ex1 = Exercise("ex1", "sum_of_means: NNC's rule", hints=[
    "Loop over the list: for y in terminals: ... and add np.mean(y) to a running total that starts at 0.",
    "In one line: return sum(np.mean(y) for y in terminals). Do not convert to float: the result must stay a "
    "dlarray so that dlgradient can differentiate it.",
])


# %% nbgrader={"grade": false, "grade_id": "ex1_solution", "locked": false, "schema_version": 3, "solution": true}
def sum_of_means(terminals):
    # NNC's optimised loss: mean of each terminal output, summed
    ### BEGIN SOLUTION
    loss = 0
    for y in terminals:
        loss = loss + np.mean(y)
    return loss
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
with ex1:
    _a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32)       # mean 3.5
    _b = np.array([[10.0], [0.0]], np.float32)                          # mean 5.0
    check_close("sum_of_means([a, b])", sum_of_means([_a, _b]), 8.5, rtol=1e-6,
                hint="The mean of EACH array (3.5 and 5.0), then their sum - not the mean of all numbers together.")
    check_close("sum_of_means([a])", sum_of_means([_a]), 3.5, rtol=1e-6,
                hint="With one terminal output the loss is just its mean.")
    _mine = sum_of_means(terminalsA)
    check_true("sum_of_means(terminalsA)", type(_mine).__name__ == "dlarray",
               f"with dlarray inputs the result should be a dlarray, got {type(_mine).__name__}.",
               hint="Do not convert with float() or extractdata(): keep the dlarray that np.mean returns.")
    check_close("sum_of_means(terminalsA)", float(_mine),
                float(np.mean(extractdata(terminalsA[0]))) + float(np.mean(extractdata(terminalsA[1]))), rtol=1e-5)
    ### BEGIN HIDDEN TESTS
    # three terminals of different sizes, including a scalar; float32 stays float32
    _rng = np.random.default_rng(7)
    _ts = [dlarray(_rng.normal(size=(5, 3)).astype(np.float32), "CB"),
           dlarray(_rng.normal(size=(2, 7)).astype(np.float32)), dlarray(np.float32(1.25))]
    _got = sum_of_means(_ts)
    assert abs(float(_got) - float(nnc.nnc_loss(_ts))) <= 1e-5, "sum_of_means differs from nnc.nnc_loss"
    assert extractdata(_got).dtype == np.float32, "sum_of_means of float32 inputs should be float32"
    # gradient through the learner's function equals the gradient through nnc.nnc_loss
    def _withMine(p, X):
        _l = sum_of_means(networkA(p, X))
        return _l, dlgradient(_l, p)
    def _withRef(p, X):
        _l = nnc.nnc_loss(networkA(p, X))
        return _l, dlgradient(_l, p)
    _lm, _gm = dlfeval(_withMine, parameters, Xb)
    _lr, _gr = dlfeval(_withRef, parameters, Xb)
    assert abs(float(_lm) - float(_lr)) <= 1e-6 * abs(float(_lr)), "loss differs from nnc.nnc_loss"
    for _k in _gr:
        for _n in _gr[_k]:
            assert np.allclose(extractdata(_gm[_k][_n]), extractdata(_gr[_k][_n]), rtol=1e-5, atol=1e-9), \
                f"gradient {_k}/{_n} differs"
    # network B gives the same value
    assert abs(float(sum_of_means(terminalsB)) - float(_lr)) <= 1e-6 * abs(float(_lr)), "A and B should agree"
    ### END HIDDEN TESTS


# %% [markdown]
# ### The library way: `nnc.nnc_loss` — and A against B
#
# `dlteach` implements the rule as `nnc.nnc_loss(*terminal_outputs)` (also accepts a list). Now the claim of the
# tutorial, checked in full: the two networks have the **same loss** and the **same gradients**. As in lesson 01 we put
# the forward pass, the loss and `dlgradient` into a model loss function and evaluate it with `dlfeval`:

# %%
def modelLossA(parameters, X):
    loss = nnc.nnc_loss(networkA(parameters, X))      # NNC's rule applied to A's two terminal outputs
    gradients = dlgradient(loss, parameters)
    return loss, gradients


def modelLossB(parameters, X):
    loss = nnc.nnc_loss(networkB(parameters, X))      # B's single output: its mean is itself
    gradients = dlgradient(loss, parameters)
    return loss, gradients


lossA, gradientsA = dlfeval(modelLossA, parameters, Xb)
lossB, gradientsB = dlfeval(modelLossB, parameters, Xb)
try:
    print(f"loss A = {float(lossA):.4f}   loss B = {float(lossB):.4f}   sum_of_means(terminalsA) = "
          f"{float(sum_of_means(terminalsA)):.4f}")
except (NotImplementedError, NameError):
    print(f"loss A = {float(lossA):.4f}   loss B = {float(lossB):.4f}   (sum_of_means: Exercise 1 not done yet)")

print("\ngradient          size        A and B equal")
for layer in gradientsA:
    for name in gradientsA[layer]:
        gA, gB = extractdata(gradientsA[layer][name]), extractdata(gradientsB[layer][name])
        print(f"{layer}/{name:8s}  {str(gA.shape):10s}  {np.allclose(gA, gB, rtol=1e-6, atol=0)}")

# %% [markdown]
# Equal losses and equal gradients mean equal training: every optimiser step sees the same numbers. Five Adam steps on
# five different mini-batches, starting from the same parameters:

# %%
paramsA, paramsB = parameters, parameters
avgGA = avgSqGA = avgGB = avgSqGB = None           # Adam's moving averages (MATLAB: [])
for iteration in range(1, 6):
    Xmb = dlarray(XTrain[:, 64 * iteration:64 * (iteration + 1)], "CB")
    lossA, gradientsA = dlfeval(modelLossA, paramsA, Xmb)
    lossB, gradientsB = dlfeval(modelLossB, paramsB, Xmb)
    paramsA, avgGA, avgSqGA = adamupdate(paramsA, gradientsA, avgGA, avgSqGA, iteration)
    paramsB, avgGB, avgSqGB = adamupdate(paramsB, gradientsB, avgGB, avgSqGB, iteration)
    print(f"step {iteration}: loss A = {float(lossA):.4f}   loss B = {float(lossB):.4f}")

same = all(np.allclose(extractdata(paramsA[k][n]), extractdata(paramsB[k][n]), rtol=1e-6, atol=0)
           for k in paramsA for n in paramsA[k])
print("parameters of A and B after 5 steps are the same:", same)

# %% [markdown]
# A and B are the same model trained the same way — NNC's rule turns "several terminal losses" into "one loss, the sum
# of their means". (A note for the curious: this is the rule NNC documents. Its training engine, nnabla, implements it by
# scaling the back-propagated gradient with 1 / size of the *first* loss output, which is the same thing when all
# terminal outputs have equal sizes; `dlteach` follows the documented rule.)
#
# ### Means, not sums — and the batch size
#
# NNC takes the **mean** of each terminal output, not its sum. That matters. Feed the network the same 64 images twice,
# as one batch of 128: the data carry no new information, and a sensible loss should not change.

# %%
Xtwice = dlarray(np.concatenate([XTrain[:, :64], XTrain[:, :64]], axis=1), "CB")   # the same 64 images twice


def sumLoss(parameters, X):
    # a loss that SUMS the squared errors instead of averaging them
    loss = nnc.Sum(networkA(parameters, X)[0])
    return loss, dlgradient(loss, parameters)


def meanLoss(parameters, X):
    # NNC's rule: the mean
    loss = nnc.nnc_loss(networkA(parameters, X)[0])
    return loss, dlgradient(loss, parameters)


print("                          batch of 64    the same 64 twice (128)")
for name, fun in (("sum of squared errors ", sumLoss), ("mean of squared errors", meanLoss)):
    (l64, g64), (l128, g128) = dlfeval(fun, parameters, Xb), dlfeval(fun, parameters, Xtwice)
    n64 = np.linalg.norm(extractdata(g64["dec"]["Weights"]))
    n128 = np.linalg.norm(extractdata(g128["dec"]["Weights"]))
    print(f"{name}    loss {float(l64):9.4g}   loss {float(l128):9.4g}   (ratio {float(l128) / float(l64):.2f})")
    print(f"  size of the decoder-weights gradient  {n64:9.4g}        {n128:9.4g}   (ratio {n128 / n64:.2f})")

# %% [markdown]
# With a **sum**, doubling the batch doubles the loss *and the gradient*: every step becomes twice as large, so the
# learning rate would have to be re-tuned whenever the batch size changes. With the **mean**, loss and gradient are
# independent of the batch size (and of the number of pixels per image): one learning rate fits all. This is why NNC —
# and MATLAB's loss functions, which divide by the number of observations — normalise.
#
# The price of "mean over *all* elements" is a different scale than you may be used to: NNC's squared-error loss is the
# mean over 784 pixels **and** over the images, while MATLAB's `l2loss` sums over the pixels and averages over the images
# only. Section 2 puts numbers on this.

# %% [markdown]
# ## 2. Squared error from primitives
#
# Pretend that `SquaredError` did not exist. Squared error is the element-wise square of the difference of two inputs,
# so two elementary layers rebuild it. The tutorial does this on NNC's sample project **06_auto_encoder**, an autoencoder
# that compresses 28 × 28 MNIST images and reconstructs them: there `x(0)` is the reconstructed image (the output of the
# decoder's Sigmoid) and `x(1)` the input image. The SquaredError layer is replaced by
#
# * **Sub2** — the element-wise difference $x_0 - x_1$ (NNC: "Arithmetic" layers), then
# * **PowScalar** with `val = 2` — the element-wise square ("Math" layers).
#
# ```
# built in:           Sigmoid = x(0) ──┐
#                                      SquaredError                  (x0 - x1)^2 per element
#                     Input   = x(1) ──┘
# from primitives:    Sigmoid = x(0) ──┐
#                                      Sub2 ── PowScalar(val=2)      (x0 - x1)^2 per element
#                     Input   = x(1) ──┘
# ```
#
# In Python there is a third way: NumPy's operators work on dlarrays, so `(x0 - x1) ** 2` builds the same thing (this is
# also how nnabla's Python API spells it: `-` is Sub2 and `** 2` is PowScalar). All three must agree, in value and in
# gradient:

# %%
_, Y = autoencoder(parameters, Xb)        # x(0): the reconstructions of the 64 images; x(1) = Xb

seBuiltin = nnc.SquaredError(Y, Xb)                  # the built-in layer
seLayers = nnc.PowScalar(nnc.Sub2(Y, Xb), 2)         # NNC's Math/Arithmetic layers
seNumpy = (Y - Xb) ** 2                              # plain operators on dlarrays

for name, se in (("nnc.SquaredError(Y, Xb)", seBuiltin), ("PowScalar(Sub2(Y, Xb), 2)", seLayers),
                 ("(Y - Xb) ** 2", seNumpy)):
    same = np.allclose(extractdata(se), extractdata(seBuiltin), rtol=1e-6, atol=0)
    print(f"{name:27s} {dims(se)} {se.shape} {se.dtype}   equal to SquaredError: {same}")


# %% [markdown]
# Now the gradient. For the loss $L = \operatorname{mean}\bigl((y - x)^2\bigr)$ over all $n$ elements, the chain rule gives
# $\partial L / \partial y = 2\,(y - x) / n$. `dlgradient` must find exactly this for each of the three ways:

# %%
def squaredErrorGradient(squaredError):
    # loss and d loss / d Y when the squared error is computed by the function squaredError
    def lossAndGradient(Y, X):
        loss = nnc.nnc_loss(squaredError(Y, X))
        return loss, dlgradient(loss, Y)
    return dlfeval(lossAndGradient, Y, Xb)


gradByHand = 2 * (extractdata(Y) - extractdata(Xb)) / extractdata(Y).size
for name, fn in (("nnc.SquaredError", nnc.SquaredError),
                 ("PowScalar(Sub2(.), 2)", lambda y, x: nnc.PowScalar(nnc.Sub2(y, x), 2)),
                 ("(y - x) ** 2", lambda y, x: (y - x) ** 2)):
    loss, gradY = squaredErrorGradient(fn)
    ok = np.allclose(extractdata(gradY), gradByHand, rtol=1e-5, atol=1e-12)
    print(f"{name:22s} loss = {float(loss):.4f}   gradient {gradY.shape} {gradY.dtype}   = 2(y - x)/n: {ok}")

# %% [markdown]
# ### The same squared error, three scales
#
# The element-wise squared error is the same everywhere; what differs is how it is reduced to one number:
#
# | | formula | reduction |
# |---|---|---|
# | NNC (terminal `SquaredError`, averaged by the rule) | $\frac{1}{N\cdot P}\sum (y-x)^2$ | mean over all $P$ pixels and $N$ images |
# | MATLAB `l2loss(Y, T)` | $\frac{1}{N}\sum (y-x)^2$ | sum over the pixels, mean over the images |
# | MATLAB `mse(Y, T)` | $\frac{1}{2N}\sum (y-x)^2$ | **half** of `l2loss` |
# | MATLAB `l2loss(Y, T, NormalizationFactor="all-elements")` | $\frac{1}{N\cdot P}\sum (y-x)^2$ | the same as NNC |
#
# MATLAB's `mse` is *half* the mean squared error per observation: the ½ makes its gradient simply $(y - x)/N$. The names
# are misleading — `mse` is not the "mean squared error" of a statistics book. Check the factors on our batch
# ($P = 784$ pixels):

# %%
nncLoss = float(nnc.nnc_loss(nnc.SquaredError(Y, Xb)))
print(f"NNC: mean of SquaredError             = {nncLoss:.5f}")
print(f"MATLAB l2loss(Y, Xb)                  = {float(l2loss(Y, Xb)):.3f}  = {float(l2loss(Y, Xb)) / nncLoss:.1f} x NNC")
print(f"MATLAB mse(Y, Xb)                     = {float(mse(Y, Xb)):.3f}  = {float(mse(Y, Xb)) / nncLoss:.1f} x NNC"
      f"  (= l2loss / {float(l2loss(Y, Xb)) / float(mse(Y, Xb)):.0f})")
allElements = float(l2loss(Y, Xb, NormalizationFactor="all-elements"))
print(f"l2loss(Y, Xb, 'all-elements')         = {allElements:.5f}  = {allElements / nncLoss:.1f} x NNC")

# %% [markdown]
# A constant factor does not move the minimum, but it scales the gradient. With plain gradient descent that is a
# different effective learning rate (784 times larger for `l2loss` than for NNC's loss here); Adam divides the gradient by
# its own running size, so it hardly notices. Know which scale your learning rate was tuned for.
#
# ### Exercise 2 (2 points) — squared error from Sub2 and PowScalar
#
# Write `squared_error(x0, x1)`, the element-wise squared error, **without** `nnc.SquaredError`: use `nnc.Sub2` and
# `nnc.PowScalar` (or the operators `-` and `**`). It must return a dlarray of the same size as the inputs, stay float32,
# and be differentiable (the test cell checks its gradient with `dlgradient`).

# %% nbgrader={"grade": false, "grade_id": "ex2_setup", "locked": true, "schema_version": 3, "solution": false}
ex2 = Exercise("ex2", "squared_error from primitives", hints=[
    "Two layers: the difference d = nnc.Sub2(x0, x1), then the element-wise square nnc.PowScalar(d, 2).",
    "No reduction: return the whole array of squared differences (no np.mean, no np.sum). "
    "One line works too: return (x0 - x1) ** 2",
])


# %% nbgrader={"grade": false, "grade_id": "ex2_solution", "locked": false, "schema_version": 3, "solution": true}
def squared_error(x0, x1):
    # NNC's SquaredError, element-wise, built from Sub2 and PowScalar
    ### BEGIN SOLUTION
    return nnc.PowScalar(nnc.Sub2(x0, x1), 2)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
with ex2:
    _x0 = dlarray(np.array([[0.5, 1.0], [2.0, -1.0], [0.0, 3.0]], np.float32), "CB")
    _x1 = dlarray(np.array([[1.0, 1.0], [0.0, 1.0], [0.5, 1.0]], np.float32), "CB")
    # the built-in layer is watched: it must not be used
    _builtin, _calls = nnc.SquaredError, []
    nnc.SquaredError = lambda *a, **k: _calls.append(1) or _builtin(*a, **k)
    try:
        _se = squared_error(_x0, _x1)
    finally:
        nnc.SquaredError = _builtin
    check_true("squared_error's building blocks", not _calls,
               "squared_error called nnc.SquaredError - build it from nnc.Sub2 and nnc.PowScalar instead.",
               hint="return nnc.PowScalar(nnc.Sub2(x0, x1), 2)")
    check_shape("squared_error(x0, x1)", _se, (3, 2),
                hint="Element-wise: no np.mean or np.sum - the result has the size of the inputs.")
    check_close("squared_error(x0, x1)", _se, np.array([[0.25, 0.0], [4.0, 4.0], [0.25, 4.0]], np.float32),
                rtol=1e-6, dtype=np.float32, hint="(x0 - x1) squared, element by element: (0.5 - 1)^2 = 0.25, ...")
    check_close("squared_error(Y, Xb)", squared_error(Y, Xb), extractdata(nnc.SquaredError(Y, Xb)), rtol=1e-6,
                dtype=np.float32)
    ### BEGIN HIDDEN TESTS
    _rng = np.random.default_rng(3)
    for _shape, _fmt in (((2, 3, 1, 4), "SSCB"), ((5, 1), "CB"), ((7,), "")):
        _a = dlarray(_rng.normal(size=_shape).astype(np.float32), _fmt or None)
        _b = dlarray(_rng.normal(size=_shape).astype(np.float32), _fmt or None)
        _r = squared_error(_a, _b)
        assert tuple(_r.shape) == _shape, f"squared_error changed the size {_shape}"
        assert extractdata(_r).dtype == np.float32, "squared_error should keep float32"
        assert np.allclose(extractdata(_r), (extractdata(_a) - extractdata(_b)) ** 2, rtol=1e-6), "wrong values"
    # gradients with respect to both inputs: 2 (x0 - x1) / n and -2 (x0 - x1) / n
    def _lg(a, b):
        _l = nnc.nnc_loss(squared_error(a, b))
        return _l, dlgradient(_l, a, b)
    _a = dlarray(_rng.normal(size=(4, 6)).astype(np.float32), "CB")
    _b = dlarray(_rng.normal(size=(4, 6)).astype(np.float32), "CB")
    _l, (_ga, _gb) = dlfeval(_lg, _a, _b)
    _d = extractdata(_a) - extractdata(_b)
    assert np.allclose(extractdata(_ga), 2 * _d / 24, rtol=1e-5), "gradient w.r.t. x0 should be 2(x0 - x1)/n"
    assert np.allclose(extractdata(_gb), -2 * _d / 24, rtol=1e-5), "gradient w.r.t. x1 should be -2(x0 - x1)/n"
    assert extractdata(_ga).dtype == np.float32, "gradient should be float32"
    ### END HIDDEN TESTS

# %% [markdown]
# ### Other losses from the same building blocks
#
# NNC's Math and Arithmetic layers — `Add2`, `Sub2`, `Mul2`, `Div2`, `AddScalar`, `MulScalar`, `PowScalar`, `Abs`,
# `Exp`, `Log`, `Mean`, `Sum`, ... — express many other losses the same way: a weighted squared error (`Mul2` with a
# weight), a log-cosh loss (`Log`, `Exp`), or the **absolute error** $|x_0 - x_1|$, which is `Abs(Sub2(x0, x1))`:

# %%
x0 = dlarray(np.array([[0.5, 1.0, 2.0]], np.float32), "CB")      # prediction; note the tie x0 = x1 in the middle
x1 = dlarray(np.array([[1.0, 1.0, 1.0]], np.float32), "CB")      # target

for name, absoluteError in (("nnc.AbsoluteError", nnc.AbsoluteError),
                            ("Abs(Sub2(x0, x1))", lambda a, b: nnc.Abs(nnc.Sub2(a, b))),
                            ("np.abs(x0 - x1)", lambda a, b: np.abs(a - b))):
    def lossAndGradient(a, b):
        loss = nnc.Sum(absoluteError(a, b))
        return loss, dlgradient(loss, a)
    loss, grad = dlfeval(lossAndGradient, x0, x1)
    print(f"{name:18s} value {extractdata(absoluteError(x0, x1)).ravel()}   gradient w.r.t. x0 "
          f"{extractdata(grad).ravel()}")

# %% [markdown]
# The values agree, and so do the gradients — except at the tie $x_0 = x_1$, where $|d|$ has a kink and any number
# between −1 and 1 is a valid *sub*gradient. Each implementation picks one: nnabla's `Abs` layer passes +1, its
# `AbsoluteError` layer −1, NumPy's `abs` (through autograd) 0. With real-valued predictions exact ties are rare, so
# training is not affected — but a gradient check at a kink will disagree, which is worth knowing when you test your own
# losses.
#
# ### Exercise 3 (2 points) — the Huber loss from primitives
#
# The Huber loss is quadratic for small errors and linear for large ones, so outliers pull less than with squared error.
# NNC's `HuberLoss` layer computes, element by element, with $d = x_0 - x_1$:
#
# $$y = \begin{cases} d^2 & \text{if } |d| < \delta \\ \delta\,(2|d| - \delta) & \text{otherwise.}\end{cases}$$
#
# (This is **twice** the textbook Huber loss and MATLAB's `huber`, which use $\tfrac12 d^2$ and $\delta(|d| - \tfrac12\delta)$
# — the same factor-2 story as `mse`.) Write `huber_loss(x0, x1, delta=1.0)` from primitives, **without**
# `nnc.HuberLoss`. A branch-free way, which is how nnabla's own tests state it: with $a = |d|$ and $q = \min(a, \delta)$,
#
# $$y = q^2 + 2\delta\,(a - q).$$
#
# Useful: `nnc.Sub2`, `nnc.Abs` (or `np.abs`), `np.minimum(a, delta)` (works on dlarrays and is differentiable),
# `nnc.PowScalar` (or `**`), `nnc.MulScalar` (or `*`). `np.where(condition, A, B)` also works.

# %% nbgrader={"grade": false, "grade_id": "ex3_setup", "locked": true, "schema_version": 3, "solution": false}
ex3 = Exercise("ex3", "huber_loss from primitives", hints=[
    "d = nnc.Sub2(x0, x1); a = nnc.Abs(d); q = np.minimum(a, delta). Then y = q ** 2 + 2 * delta * (a - q).",
    "Check both pieces by hand: for |d| < delta, q = a and the second term is 0, so y = d^2. For |d| >= delta, "
    "q = delta and y = delta^2 + 2 delta (|d| - delta) = delta (2|d| - delta).",
])


# %% nbgrader={"grade": false, "grade_id": "ex3_solution", "locked": false, "schema_version": 3, "solution": true}
def huber_loss(x0, x1, delta=1.0):
    # NNC's HuberLoss, element-wise, from primitives
    ### BEGIN SOLUTION
    a = nnc.Abs(nnc.Sub2(x0, x1))
    q = np.minimum(a, delta)
    return q ** 2 + 2 * delta * (a - q)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
with ex3:
    _x0 = dlarray(np.array([[0.0, 0.5, 2.0, -3.0]], np.float32), "CB")
    _x1 = dlarray(np.array([[0.0, 0.0, 0.0, 0.0]], np.float32), "CB")
    _builtin, _calls = nnc.HuberLoss, []
    nnc.HuberLoss = lambda *a, **k: _calls.append(1) or _builtin(*a, **k)
    try:
        _h = huber_loss(_x0, _x1)
        _h2 = huber_loss(_x0, _x1, delta=2.5)
    finally:
        nnc.HuberLoss = _builtin
    check_true("huber_loss's building blocks", not _calls,
               "huber_loss called nnc.HuberLoss - build it from Sub2, Abs, np.minimum, ... instead.")
    check_close("huber_loss(x0, x1)  (delta = 1)", _h, np.array([[0.0, 0.25, 3.0, 5.0]], np.float32), rtol=1e-6,
                dtype=np.float32,
                hint="d = 0.5 is inside (d^2 = 0.25); d = 2 is outside: 1 * (2*2 - 1) = 3; d = -3: 1 * (2*3 - 1) = 5.")
    check_close("huber_loss(x0, x1, delta=2.5)", _h2, np.array([[0.0, 0.25, 4.0, 8.75]], np.float32), rtol=1e-6,
                hint="With delta = 2.5, d = 2 is inside (4.0) and d = -3 outside: 2.5 * (6 - 2.5) = 8.75.")
    check_close("huber_loss(Y, Xb, 0.3)", huber_loss(Y, Xb, 0.3), extractdata(nnc.HuberLoss(Y, Xb, 0.3)), rtol=1e-5,
                atol=1e-7, dtype=np.float32)
    ### BEGIN HIDDEN TESTS
    _rng = np.random.default_rng(11)
    _a = dlarray(_rng.normal(scale=2.0, size=(6, 5)).astype(np.float32), "CB")
    _b = dlarray(_rng.normal(size=(6, 5)).astype(np.float32), "CB")
    for _delta in (0.5, 1.0, 3.0):
        _r = huber_loss(_a, _b, _delta)
        assert tuple(_r.shape) == (6, 5), "huber_loss should be element-wise"
        assert np.allclose(extractdata(_r), extractdata(nnc.HuberLoss(_a, _b, _delta)), rtol=1e-5, atol=1e-7), \
            f"values differ from NNC's HuberLoss for delta={_delta}"
        def _lg(p, t, _delta=_delta):
            _l = nnc.nnc_loss(huber_loss(p, t, _delta))
            return _l, dlgradient(_l, p)
        def _lgRef(p, t, _delta=_delta):
            _l = nnc.nnc_loss(nnc.HuberLoss(p, t, _delta))
            return _l, dlgradient(_l, p)
        _g = extractdata(dlfeval(_lg, _a, _b)[1])
        _gr = extractdata(dlfeval(_lgRef, _a, _b)[1])
        assert np.allclose(_g, _gr, rtol=1e-5, atol=1e-8), f"gradient differs from HuberLoss's for delta={_delta}"
        assert _g.dtype == np.float32, "gradient should be float32"
    # 4-D input keeps its size
    _c = dlarray(_rng.normal(size=(2, 2, 1, 3)).astype(np.float32), "SSCB")
    assert tuple(huber_loss(_c, _c * 0).shape) == (2, 2, 1, 3), "4-D inputs keep their size"
    ### END HIDDEN TESTS

# %% [markdown]
# ## 3. Training an autoencoder with the custom loss
#
# Now the real thing, in the style of NNC's 06_auto_encoder: an autoencoder trained to reproduce its input, with *our*
# squared error as the loss. We use the **network-object form** this time and add batch normalisation, so that the
# inference question of section 4 becomes interesting. The encoder compresses 784 pixels to a code of 32 numbers.
#
# <table>
# <tr><th>NNC (Main network)</th><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# Input (1,28,28)
# Affine (OutShape 32)
# BatchNormalization
# ReLU
# Affine (OutShape 784)
# Sigmoid          = x(0)
# Sub2 (x(0), Input = x(1))
# PowScalar (Val 2)
# </pre>
# </td><td>
# <pre>
# layers = [
#     featureInputLayer(784)
#     fullyConnectedLayer(32,Name="fc1")
#     batchNormalizationLayer(Name="bn1")
#     reluLayer(Name="relu1")
#     fullyConnectedLayer(784,Name="fc2")
#     sigmoidLayer(Name="sigmoid")];
# net = dlnetwork(layers);
# % the loss: in the model loss function
# </pre>
# </td><td>
# <pre>
# layers = [
#     featureInputLayer(784),
#     fullyConnectedLayer(32, Name="fc1"),
#     batchNormalizationLayer(Name="bn1"),
#     reluLayer(Name="relu1"),
#     fullyConnectedLayer(784, Name="fc2"),
#     sigmoidLayer(Name="sigmoid")]
# net = dlnetwork(layers)
# # the loss: in the model loss function
# </pre>
# </td></tr>
# </table>
#
# Note the one structural difference. In NNC the loss is **part of the network** (the last two layers of Main). In MATLAB
# and `dlteach` the network ends at the Sigmoid; the loss lives in the **model loss function**. Keep this in mind for
# section 4. (NNC's actual sample may use other layer sizes; the structure is what matters here.)

# %%
layers = [
    featureInputLayer(784),
    fullyConnectedLayer(32, Name="fc1"),
    batchNormalizationLayer(Name="bn1"),
    reluLayer(Name="relu1"),
    fullyConnectedLayer(784, Name="fc2"),
    sigmoidLayer(Name="sigmoid"),
]
np.random.seed(0)
net = dlnetwork(layers)
print(net.Learnables)
print()
print(net.State)

# %% [markdown]
# ### Exercise 4 (2 points) — the autoencoder's model loss function
#
# Write `modelLoss(net, X)` for the autoencoder (lesson 01, with state). There is no separate target: the input `X` is
# the target.
#
# 1. `Y, state = forward(net, X, return_state=True)` — the reconstruction, and the updated batch-normalisation state;
# 2. the loss: **your** `squared_error(Y, X)` from Exercise 2, reduced by NNC's rule (`nnc.nnc_loss(...)`, or your
#    `sum_of_means([...])`);
# 3. `gradients = dlgradient(loss, net.Learnables)`;
# 4. `return loss, gradients, state`.
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# function [loss,gradients,state] = modelLoss(net,X)
#     [Y,state] = forward(net,X);
#     loss = mean((Y - X).^2,"all");
#     gradients = dlgradient(loss,net.Learnables);
# end
# </pre>
# </td><td>
# <pre>
# def modelLoss(net, X):
#     ...
#     return loss, gradients, state
# </pre>
# </td></tr>
# </table>

# %% nbgrader={"grade": false, "grade_id": "ex4_setup", "locked": true, "schema_version": 3, "solution": false}
ex4 = Exercise("ex4", "modelLoss of the autoencoder", hints=[
    "Y, state = forward(net, X, return_state=True); loss = nnc.nnc_loss(squared_error(Y, X)).",
    "Then gradients = dlgradient(loss, net.Learnables) and return loss, gradients, state - in this order. "
    "If the test says squared_error is not defined, solve Exercise 2 first.",
])


# %% nbgrader={"grade": false, "grade_id": "ex4_solution", "locked": false, "schema_version": 3, "solution": true}
def modelLoss(net, X):
    # loss, gradients and updated state of the autoencoder; the input is the target
    ### BEGIN SOLUTION
    Y, state = forward(net, X, return_state=True)
    loss = nnc.nnc_loss(squared_error(Y, X))
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex4_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
with ex4:
    _Xmb = dlarray(XTrain[:, 100:164], "CB")
    _net = copy.deepcopy(net)
    _out = dlfeval(modelLoss, _net, _Xmb)
    check_true("modelLoss's result", isinstance(_out, tuple) and len(_out) == 3,
               "modelLoss should return three values: loss, gradients, state.",
               hint="End with: return loss, gradients, state")
    _loss, _grads, _state = _out
    _Yref, _stateRef = forward(net, _Xmb, return_state=True)
    check_close("the loss", float(_loss), float(np.mean((extractdata(_Yref) - extractdata(_Xmb)) ** 2)), rtol=1e-5,
                hint="The mean over ALL elements of the squared error between forward's output and X: "
                     "nnc.nnc_loss(squared_error(Y, X)).")
    check_equal("the gradients' (Layer, Parameter) rows", _grads.keys(), net.Learnables.keys(),
                hint="gradients = dlgradient(loss, net.Learnables)")
    check_equal("the state's (Layer, Parameter) rows", _state.keys(), net.State.keys(),
                hint="Y, state = forward(net, X, return_state=True), and return that state.")
    check_close("the state's TrainedMean", extractdata(_state.value("bn1", "TrainedMean")),
                extractdata(_stateRef.value("bn1", "TrainedMean")), rtol=1e-5, atol=1e-7,
                hint="Return the state that forward(net, X, return_state=True) gives you.")
    ### BEGIN HIDDEN TESTS
    # hand formula for the last bias: dL/db2 = sum over the batch of 2 (Y - X) Y (1 - Y) / (784 N)
    _Y = extractdata(_Yref).astype(np.float64)
    _D = 2 * (_Y - extractdata(_Xmb)) * _Y * (1 - _Y) / _Y.size
    assert np.allclose(extractdata(_grads.value("fc2", "Bias")).ravel(), _D.sum(axis=1), rtol=1e-3, atol=1e-9), \
        "fc2 Bias gradient differs from the hand formula"
    def _ref(n, X):
        _Yr, _s = forward(n, X, return_state=True)
        _l = nnc.nnc_loss(nnc.SquaredError(_Yr, X))
        return _l, dlgradient(_l, n.Learnables), _s
    _rl, _rg, _rs = dlfeval(_ref, net, _Xmb)
    for _a, _r in zip(_grads.Value, _rg.Value):
        assert np.allclose(extractdata(_a), extractdata(_r), rtol=1e-4, atol=1e-9), "gradients differ from the reference"
        assert extractdata(_a).dtype == np.float32, "gradients should be float32"
    for _a, _r in zip(_state.Value, _rs.Value):
        assert np.allclose(extractdata(_a), extractdata(_r), rtol=1e-5, atol=1e-8), "state differs from the reference"
    assert np.array_equal(extractdata(net.State.Value[0]), np.zeros((32, 1), np.float32)), "net must not be modified"
    ### END HIDDEN TESTS


# %% [markdown]
# ### The training loop
#
# The loop is the one of every custom training loop (lesson 03 studies it in detail): a `minibatchqueue` hands out
# mini-batches of 100 images in a new random order every epoch; for each, `dlfeval` evaluates the model loss function,
# **the state is stored** with `net.State = state`, and `adamupdate` takes a step. NNC's default Adam learning rate
# is 0.001; for a short run we use 0.01. Ten epochs over the 4,000 training images take a few seconds.
#
# If your `modelLoss` is not ready yet, the cell trains with a stand-in that computes the same loss with a MATLAB
# function: `l2loss(Y, X, NormalizationFactor="all-elements")` — the plain mean of the squared errors.

# %%
def modelLossStandIn(net, X):
    # stand-in for Exercise 4: the same loss with MATLAB's l2loss (mean over all elements)
    Y, state = forward(net, X, return_state=True)
    loss = l2loss(Y, X, NormalizationFactor="all-elements")
    return loss, dlgradient(loss, net.Learnables), state


try:
    _loss, _gradients, _state = dlfeval(modelLoss, net, dlarray(XTrain[:, :100], "CB"))   # a trial call
    copy.deepcopy(net).State = _state            # the state must fit the network
    lossFcn = modelLoss
except Exception as err:   # not written yet (NotImplementedError, NameError) or not working
    print(f"(Your modelLoss is not ready - {type(err).__name__} - training with the stand-in instead.)")
    lossFcn = modelLossStandIn


def trainAutoencoder(net, lossFcn, numEpochs=10, miniBatchSize=100, learnRate=0.01, storeState=True):
    mbq = minibatchqueue(XTrain, MiniBatchSize=miniBatchSize, MiniBatchFormat="CB", seed=0)
    averageGrad = averageSqGrad = None
    iteration = 0
    lossHistory = []
    for epoch in range(1, numEpochs + 1):
        shuffle(mbq)
        while hasdata(mbq):
            Xmb = next(mbq)
            iteration += 1
            loss, gradients, state = dlfeval(lossFcn, net, Xmb)
            if storeState:
                net.State = state                   # MATLAB: net.State = state;
            net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, iteration,
                                                         learnRate=learnRate)
            lossHistory.append(float(loss))
    return net, lossHistory


net, lossHistory = trainAutoencoder(net, lossFcn)
perEpoch = np.mean(np.reshape(lossHistory, (10, -1)), axis=1)
print("mean training loss per epoch:", np.round(perEpoch, 4))

# %%
# NBVAL_IGNORE_OUTPUT
fig, ax = plt.subplots(figsize=(6.5, 3.3))
ax.plot(np.arange(1, len(lossHistory) + 1), lossHistory, lw=1, label="mini-batch loss")
ax.plot(np.arange(1, 11) * len(lossHistory) // 10, perEpoch, "o-", label="mean over the epoch")
ax.set_yscale("log")
ax.set_xlabel("iteration (mini-batch of 100 images)")
ax.set_ylabel("mean squared error per pixel (log scale)")
ax.set_title("Training the autoencoder with " + ("your squared error (Sub2 + PowScalar)" if lossFcn is not modelLossStandIn
                                                  else "the stand-in loss (l2loss, all elements)"))
ax.legend()
plt.show()

# %% [markdown]
# How good are the reconstructions of digits the network has **not** seen? We reconstruct test images with `predict` —
# why `predict` and not `forward` is the subject of section 4:

# %%
Yt = predict(net, dlarray(XTest, "CB"))
print(f"mean squared error per pixel on the 1000 test images: "
      f"{float(nnc.nnc_loss(nnc.SquaredError(Yt, dlarray(XTest, 'CB')))):.4f}")
firstOfEach = [int(np.flatnonzero(labelsTest == d)[0]) for d in range(10)]   # one test image per digit


# %%
# NBVAL_IGNORE_OUTPUT
def showRows(rows, rowTitles, title, columnLabels=None):
    # rows: list of 784 x K arrays; one image per column
    fig, axes = plt.subplots(len(rows), rows[0].shape[1], figsize=(1.0 * rows[0].shape[1], 1.15 * len(rows) + 0.4))
    axes = np.atleast_2d(axes)
    for r, (images, rowTitle) in enumerate(zip(rows, rowTitles)):
        for k in range(images.shape[1]):
            ax = axes[r, k]
            ax.imshow(images[:, k].reshape(28, 28), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]); ax.set_yticks([])
            if r == 0 and columnLabels is not None:
                ax.set_title(columnLabels[k], fontsize=9)
        axes[r, 0].set_ylabel(rowTitle, fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle(title)
    plt.tight_layout()
    plt.show()


showRows([XTest[:, firstOfEach], extractdata(Yt)[:, firstOfEach]],
         ["input x(1)", "reconstruction\nx(0) = predict"],
         "Test digits compressed to 32 numbers and reconstructed",
         columnLabels=[f"digit {d}" for d in range(10)])

# %% [markdown]
# Thirty-two numbers are enough to recognise every digit in the reconstructions, if somewhat blurred — the squared error
# favours a safe, smooth average over sharp but possibly misplaced strokes.

# %% [markdown]
# ## 4. The caveat: the inference network
#
# A trained network is used for **inference**: give it an image, get the reconstruction (or, for a classifier, the
# class). Inference differs from training in two ways: there is no target, so **no loss**; and batch normalisation must
# use the statistics stored during training (`TrainedMean`, `TrainedVariance`), not those of the current batch — at
# inference time there may be a single image, and the output for one image should not depend on which other images
# happen to be processed with it.
#
# **In NNC.** From the training network *Main* (BatchNormalization with **BatchStat = True**), NNC derives two more:
# *MainValidation* (the same graph with BatchStat False, used to compute the validation error) and *MainRuntime*, the
# inference network: the loss layers and their target inputs removed, BatchStat False, output = whatever fed the loss
# layers. But NNC finds "the loss layers" by their type. With a **custom** loss (Sub2 + PowScalar) there is no built-in
# loss layer in Main, so MainRuntime outputs nothing, and you must define the inference network **by hand**:
#
# 1. add a new network and copy Main into it;
# 2. delete the part that computes the loss (Sub2, PowScalar);
# 3. set **BatchStat to False** on every BatchNormalization layer;
# 4. connect an **Identity** layer at the end, named as the output you want (e.g. `y'`);
# 5. select this network for execution instead of MainRuntime.
#
# **In MATLAB and `dlteach`** the loss was never part of the network — it lives in the model loss function — so the
# network *is* the runtime network, and BatchStat is chosen by the function you call:
#
# | NNC | MATLAB / `dlteach` |
# |---|---|
# | Main (training, BatchStat True) | `forward(net, X)` inside the model loss function, loss computed there |
# | MainRuntime / hand-made inference network (BatchStat False, no loss) | `predict(net, X)` |
# | Identity layer named as the wanted output | `predict(net, X, Outputs="layerName")` |
#
# Let us see what the difference between `forward` and `predict` means in practice.

# %%
Xtb = dlarray(XTest[:, :100], "CB")          # a batch of 100 test images
Yf, Yp = forward(net, Xtb), predict(net, Xtb)
print(f"largest |forward - predict| on a batch of 100 test images: {np.max(np.abs(extractdata(Yf - Yp))):.3f}")
print(f"loss with forward (batch statistics):  {float(nnc.nnc_loss(nnc.SquaredError(Yf, Xtb))):.4f}")
print(f"loss with predict (stored statistics): {float(nnc.nnc_loss(nnc.SquaredError(Yp, Xtb))):.4f}")

# %% [markdown]
# On a large batch the two are close: the statistics of 100 images are close to the stored running averages. Now the
# case inference is made for — **one image at a time**:

# %%
singles = [dlarray(XTest[:, [k]], "CB") for k in firstOfEach[:4]]       # four single images (digits 0 to 3)
forwardSingles = [extractdata(forward(net, s)) for s in singles]
predictSingles = [extractdata(predict(net, s)) for s in singles]

print("forward: largest difference between the outputs for digit 0 and digits 1, 2, 3:",
      [round(float(np.max(np.abs(f - forwardSingles[0]))), 4) for f in forwardSingles[1:]])
print("predict: largest difference between the outputs for digit 0 and digits 1, 2, 3:",
      [round(float(np.max(np.abs(p - predictSingles[0]))), 4) for p in predictSingles[1:]])

# %%
# NBVAL_IGNORE_OUTPUT
showRows([XTest[:, firstOfEach[:4]], np.hstack(forwardSingles), np.hstack(predictSingles)],
         ["input", "forward\n(one image)", "predict\n(one image)"],
         "One image at a time: forward gives the same output for every input",
         columnLabels=[f"digit {d}" for d in range(4)])

# %% [markdown]
# With a batch of **one** image, `forward` returns the same blurry blob for every input. Why? Batch normalisation in
# training mode subtracts the batch mean. The mean of a single observation is the observation itself, so every feature
# becomes $0$ and the layer outputs its `Offset`, whatever the image was. `predict` subtracts the stored `TrainedMean`
# instead and keeps the information. (In NNC terms: running Main, with BatchStat True, as the inference network.)
#
# Less dramatic, but just as wrong for inference: with `forward` the output for an image **depends on the other images
# in the batch**. Reconstruct test image 0 inside two different batches:

# %%
batch1 = dlarray(XTest[:, :100], "CB")                                              # image 0 and images 1..99
batch2 = dlarray(np.concatenate([XTest[:, :1], XTest[:, 500:599]], axis=1), "CB")   # image 0 and images 500..598

for name, f in (("forward", forward), ("predict", predict)):
    y1 = extractdata(f(net, batch1))[:, 0]
    y2 = extractdata(f(net, batch2))[:, 0]
    print(f"{name}: largest change of image 0's reconstruction between the two batches = {np.max(np.abs(y1 - y2)):.4f}")

# %% [markdown]
# `predict`'s answer for an image is a property of the image and the trained network alone — which is what an inference
# network must guarantee.
#
# **The Identity output.** NNC's step 4 names the output of the inference network. `predict` (and `forward`) can return
# the activation of any layer by name. The encoder's output, the 32-number code of each image, is the output of `relu1`:

# %%
codes = predict(net, dlarray(XTest[:, firstOfEach], "CB"), Outputs="relu1")    # NNC: an Identity layer after ReLU
print("codes:", dims(codes), codes.shape, "- 32 numbers per image instead of 784")
print("fraction of exactly-zero code entries (ReLU):", round(float(np.mean(extractdata(codes) == 0)), 2))

# %% [markdown]
# ### When the state is never stored
#
# `predict` relies on `net.State`. `forward` never changes the network: it *returns* the new state, and the training loop
# must store it (`net.State = state`, lesson 01). What if that line is missing? Train the same network again with the same
# mini-batches, but without storing the state:

# %%
np.random.seed(0)
netForgot, _ = trainAutoencoder(dlnetwork(layers), lossFcn, storeState=False)   # no "net.State = state" in the loop

sameLearnables = all(np.array_equal(extractdata(a), extractdata(b))
                     for a, b in zip(net.Learnables.Value, netForgot.Learnables.Value))
print("learnables identical to the network trained with the state stored:", sameLearnables)
print("TrainedMean of bn1, first 4 channels - stored:", np.round(extractdata(net.State.value("bn1", "TrainedMean")).ravel()[:4], 3),
      "  never stored:", extractdata(netForgot.State.value("bn1", "TrainedMean")).ravel()[:4])

# %% [markdown]
# The **training** is not affected at all: `forward` uses batch statistics whatever the state holds, so the learnables are
# identical. Only inference breaks — silently, in most frameworks. `dlteach` notices that a network was trained while its
# state still holds the initial values, and `predict` warns (a `StateNotUpdatedWarning`). We catch the warning to print
# its message:

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    YtForgot = predict(netForgot, dlarray(XTest, "CB"))
for w in caught:
    print(f"{w.category.__name__}: {w.message}\n")

lossForgot = float(nnc.nnc_loss(nnc.SquaredError(YtForgot, dlarray(XTest, "CB"))))
lossStored = float(nnc.nnc_loss(nnc.SquaredError(Yt, dlarray(XTest, "CB"))))
print(f"test loss with predict - state stored: {lossStored:.4f}   state never stored: {lossForgot:.4f}")

# %% [markdown]
# **The fix.** In the loop: store the state after every `dlfeval` (that is how `net` was trained). For a network that
# has *already* been trained without it, there is no need to train again: the learnables are fine, only the statistics
# are missing. Pass training mini-batches through `forward` — no loss, no gradients, no update of the learnables — and
# store the state each time. The running averages converge to the statistics of the training data (each batch moves them
# 10 % of the way):

# %%
mbq = minibatchqueue(XTrain, MiniBatchSize=100, MiniBatchFormat="CB", seed=1)
shuffle(mbq)
while hasdata(mbq):
    _, state = forward(netForgot, next(mbq), return_state=True)
    netForgot.State = state            # the missing line

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    YtRepaired = predict(netForgot, dlarray(XTest, "CB"))
print("warnings now:", len(caught))
print(f"test loss with predict after re-estimating the statistics: "
      f"{float(nnc.nnc_loss(nnc.SquaredError(YtRepaired, dlarray(XTest, 'CB')))):.4f}   (state stored: {lossStored:.4f})")

# %%
# NBVAL_IGNORE_OUTPUT
showRows([XTest[:, firstOfEach], extractdata(Yt)[:, firstOfEach], extractdata(YtForgot)[:, firstOfEach],
          extractdata(YtRepaired)[:, firstOfEach]],
         ["input", "predict,\nstate stored", "predict,\nstate never\nstored", "predict,\nstatistics\nre-estimated"],
         "The same learnables, three different states",
         columnLabels=[f"digit {d}" for d in range(10)])

# %% [markdown]
# ### Exercise 5 (2 points) — the inference function
#
# Write `reconstruct(net, images)` — the "runtime network" of our autoencoder as a function. `images` is a NumPy array of
# 28 × 28 × 1 × N images (like `Xtest`, any N including 1). Return the reconstructions as a **NumPy** float32 array of
# the same size, 28 × 28 × 1 × N, computed in **inference mode**:
#
# 1. flatten to 784 × N (`images.reshape(784, -1)`) and make a `"CB"` dlarray;
# 2. run the network in inference mode (which function?);
# 3. `extractdata`, and reshape back to 28 × 28 × 1 × N.
#
# The test checks that a reconstruction does not depend on the batch it is in — the property `forward` does not have.

# %% nbgrader={"grade": false, "grade_id": "ex5_setup", "locked": true, "schema_version": 3, "solution": false}
ex5 = Exercise("ex5", "reconstruct: the inference function", hints=[
    "Inference mode is predict(net, X): stored statistics, batch statistics off (NNC: BatchStat False).",
    "Xf = dlarray(images.reshape(784, -1), 'CB'); Y = predict(net, Xf); return extractdata(Y).reshape(28, 28, 1, -1)",
])


# %% nbgrader={"grade": false, "grade_id": "ex5_solution", "locked": false, "schema_version": 3, "solution": true}
def reconstruct(net, images):
    # inference: 28 x 28 x 1 x N images -> 28 x 28 x 1 x N reconstructions (NumPy)
    ### BEGIN SOLUTION
    Xf = dlarray(images.reshape(28 * 28, -1), "CB")
    Y = predict(net, Xf)
    return extractdata(Y).reshape(28, 28, 1, -1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex5_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
with ex5:
    _imgs = Xtest[:, :, :, :8]
    _R = reconstruct(net, _imgs)
    check_true("reconstruct's result", isinstance(_R, np.ndarray),
               f"reconstruct should return a NumPy array, got {type(_R).__name__}.",
               hint="Convert the dlarray at the end with extractdata(Y).")
    check_shape("reconstruct(net, 8 images)", _R, (28, 28, 1, 8), hint="Reshape back: .reshape(28, 28, 1, -1)")
    check_dtype("reconstruct(net, 8 images)", _R, np.float32)
    _R1 = reconstruct(net, Xtest[:, :, :, 3:4])
    check_shape("reconstruct(net, one image)", _R1, (28, 28, 1, 1))
    check_close("reconstruct(net, image 3 alone)", _R1[..., 0], _R[..., 3], rtol=1e-4, atol=1e-6,
                hint="The reconstruction of image 3 alone differs from its reconstruction in the batch: forward uses "
                     "batch statistics. Use the inference-mode function.")
    check_close("reconstruct(net, 8 images)", _R,
                extractdata(predict(net, dlarray(XTest[:, :8], "CB"))).reshape(28, 28, 1, 8), rtol=1e-5, atol=1e-7,
                hint="Flatten with images.reshape(784, -1) and reshape back with .reshape(28, 28, 1, -1): the same "
                     "order both ways.")
    ### BEGIN HIDDEN TESTS
    # independent reference: the network's layers by hand with the stored statistics
    _L = {(r.Layer, r.Parameter): extractdata(r.Value).astype(np.float64) for r in net.Learnables}
    _S = {(r.Layer, r.Parameter): extractdata(r.Value).astype(np.float64) for r in net.State}
    _x = Xtest[:, :, :, 20:25].reshape(784, -1).astype(np.float64)
    _h = _L["fc1", "Weights"] @ _x + _L["fc1", "Bias"]
    _h = (_h - _S["bn1", "TrainedMean"]) / np.sqrt(_S["bn1", "TrainedVariance"] + 1e-5)
    _h = np.maximum(_L["bn1", "Scale"] * _h + _L["bn1", "Offset"], 0)
    _y = 1 / (1 + np.exp(-(_L["fc2", "Weights"] @ _h + _L["fc2", "Bias"])))
    _got = reconstruct(net, Xtest[:, :, :, 20:25])
    assert _got.shape == (28, 28, 1, 5), "5 images in, 5 reconstructions out"
    assert np.allclose(_got.reshape(784, 5), _y, rtol=1e-4, atol=1e-5), "differs from inference by hand"
    # single images differ from each other (forward on one image would give the same output for all)
    _a = reconstruct(net, Xtest[:, :, :, 0:1]); _b = reconstruct(net, Xtest[:, :, :, 1:2])
    assert np.max(np.abs(_a - _b)) > 0.05, "reconstructions of two different single images should differ"
    # the network is not changed
    _before = [extractdata(v).copy() for v in net.State.Value]
    reconstruct(net, Xtest[:, :, :, :50])
    assert all(np.array_equal(a, extractdata(b)) for a, b in zip(_before, net.State.Value)), "net.State changed"
    ### END HIDDEN TESTS

# %% [markdown]
# ## 5. NNC ↔ MATLAB ↔ Python, side by side
#
# | NNC | MATLAB | Python (`dlteach`) |
# |---|---|---|
# | `SquaredError` layer (x0, x1) | `(Y - T).^2` | `nnc.SquaredError(x0, x1)` |
# | `Sub2` | `x0 - x1` | `nnc.Sub2(x0, x1)` or `x0 - x1` |
# | `PowScalar` (Val 2) | `x.^2` | `nnc.PowScalar(x, 2)` or `x ** 2` |
# | `Add2`, `Mul2`, `Div2` | `+`, `.*`, `./` | `nnc.Add2`, `nnc.Mul2`, `nnc.Div2` or `+`, `*`, `/` |
# | `MulScalar`, `AddScalar` (Val) | `c*x`, `x + c` | `nnc.MulScalar(x, c)`, `nnc.AddScalar(x, c)` |
# | `Abs`, `Exp`, `Log` | `abs`, `exp`, `log` | `nnc.Abs`, `nnc.Exp`, `nnc.Log` or `np.abs`, `np.exp`, `np.log` |
# | `Mean`, `Sum` (all axes) | `mean(x,"all")`, `sum(x,"all")` | `nnc.Mean(x)`, `nnc.Sum(x)` or `np.mean(x)`, `np.sum(x)` |
# | `AbsoluteError` | `abs(Y - T)`; reduced: `l1loss` | `nnc.AbsoluteError(x0, x1)` |
# | `HuberLoss` (delta) | `2 * huber` per element | `nnc.HuberLoss(x0, x1, delta)` |
# | the optimised loss: sum of the means of the terminal layers | `mean(a,"all") + mean(b,"all")` | `nnc.nnc_loss(a, b)` |
# | squared-error loss as NNC reduces it | `l2loss(Y,T,NormalizationFactor="all-elements")` | `nnc.nnc_loss(nnc.SquaredError(Y, T))` |
# | — | `l2loss(Y,T)` (784 × that), `mse(Y,T)` (half of `l2loss`) | `l2loss(Y, T)`, `mse(Y, T)` |
# | `Affine` | `fullyConnectedLayer` / `fullyconnect` | `fullyConnectedLayer` / `fullyconnect` |
# | `BatchNormalization`, `ReLU`, `Sigmoid` | `batchNormalizationLayer`, `reluLayer`, `sigmoidLayer` | the same names |
# | Main network incl. loss (BatchStat True) | `forward` + loss in `modelLoss` | `forward` + loss in `modelLoss` |
# | inference network: no loss, BatchStat False | `predict(net,X)` | `predict(net, X)` |
# | Identity layer named as the output | `predict(net,X,Outputs="relu1")` | `predict(net, X, Outputs="relu1")` |
# | (automatic) | `net.State = state` after `dlfeval` | `net.State = state` after `dlfeval` |
# | Optimizer: Adam (α = 0.001) | `adamupdate` | `adamupdate` |
# | Max Epoch, Batch Size (CONFIG tab) | loop and `minibatchqueue` | loop and `minibatchqueue` |

# %% [markdown] nbgrader={"grade": false, "grade_id": "summary", "locked": true, "schema_version": 3, "solution": false}
# ## 6. Summary
#
# * **Which value is the loss.** NNC's loss layers are element-wise. NNC averages the output of every terminal layer and
#   minimises the **sum of the means** (`nnc.nnc_loss`). So a network with several terminal losses (A) trains exactly
#   like one that adds their means itself (B): same loss, same gradients, same parameters after training.
# * **Means, not sums:** the loss and its gradient do not grow with the batch size, so a learning rate keeps working when
#   the batch size changes. The scale still differs between tools: NNC's mean squared error per element, MATLAB's
#   `l2loss` (sum over features, mean over observations) and MATLAB's `mse` (**half** of `l2loss`).
# * **Squared error from primitives:** `Sub2` then `PowScalar(2)` — or `(x0 - x1) ** 2` — equals `SquaredError` in value
#   and gradient ($2(y - x)/n$ for the mean). Math and Arithmetic layers build other losses the same way (absolute error,
#   Huber); at kinks, implementations may pick different subgradients.
# * **Training with a custom loss:** in MATLAB and `dlteach` the loss lives in the model loss function, not in the network.
# * **The inference network:** NNC cannot derive it for a custom loss — copy Main, delete the loss part, BatchStat False,
#   Identity output. In MATLAB and `dlteach` the network already has no loss part and `predict` is inference: stored
#   statistics, independent of the batch. `forward` on a single image with batch normalisation returns the same output for
#   every image.
# * **Store the state.** Forgetting `net.State = state` leaves training unchanged and breaks only `predict`;
#   `dlteach` warns with a `StateNotUpdatedWarning`. Repair a trained network by passing training batches through
#   `forward` and storing the state.
#
# **Next.** Lesson 03 turns the loop used here into a complete custom training loop: the update functions `adamupdate`,
# `rmspropupdate`, `sgdmupdate` and `dlupdate`, mini-batch queues and progress monitoring.
