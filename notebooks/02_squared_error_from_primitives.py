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
# 1. state NNC's rule for the loss — *the mean of every terminal output, summed* — show that a network with two
#    terminal losses trains exactly like one that averages and adds them itself, and predict how the weight of a term
#    changes when outputs of different sizes are averaged together;
# 2. explain why taking **means** makes the loss independent of the batch size, and convert between NNC's squared error,
#    MATLAB's `l2loss` and MATLAB's `mse` (which is *half* the squared error);
# 3. build squared error and other losses — a weighted binary cross-entropy, the Huber loss — from elementary layers
#    (Sub2, PowScalar, Log, Abs, ...), and verify value **and gradient**, including a gradient derived by hand;
# 4. train an autoencoder on handwritten digits with such a custom loss in a custom training loop;
# 5. build the **inference network** of a model trained with a custom loss (no loss part, batch statistics off) — in
#    `dlteach` and MATLAB that is `predict` — and explain why `forward` and `predict` give different outputs when the
#    network has batch normalisation;
# 6. recognise the symptom of a network state that was never stored, and repair it.
#
# **Time:** about 60 minutes. **Builds on:** lesson 01 (model loss functions, `dlfeval`, `dlgradient`, `forward`,
# `predict`, `net.State`). No NNC installation is needed.
#
# **How the exercises work.** There are six graded exercises (11 points) and two written questions (4 points, graded by
# your instructor). Write your answer in the exercise cell (replace the blank `____`), run it, then run the one-line
# check below it, such as `ex1.check("rule")`. It shows one box: **Correct** (with the list of what was
# checked), **Incorrect** (with what is wrong) or **Not attempted yet**. An exercise with two checks gives a point for
# each, so a half-right answer earns half. Grading runs the same checks again on other inputs (other sizes, random
# values, weights), so an answer that only fits the visible example does not score. Stuck? `ex1.hint()` shows the next
# hint — first the idea, then where to look, then partial code; `ex1.solution()` shows a full solution (unless your
# instructor has switched solutions off). The check code is in `dlteach/exercises/lesson02.py`.
#
# *Run All* runs the whole lesson even before you solve anything: an unsolved exercise shows a "Not attempted yet" box
# and the run goes on; the cells that use your answers fall back to stand-ins until they work.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import warnings

import numpy as np
import matplotlib.pyplot as plt

from dlteach import (dlarray, dims, extractdata, dlfeval, dlgradient,              # arrays and autodiff
                     nnc,                                                          # NNC layers as functions
                     fullyconnect, batchnorm, relu, sigmoid, l2loss, mse,          # MATLAB operations and losses
                     dlnetwork, forward, predict, featureInputLayer, fullyConnectedLayer,
                     batchNormalizationLayer, reluLayer, sigmoidLayer,             # network-object style
                     adamupdate, minibatchqueue, hasdata, shuffle, load_digits)
from dlteach import next          # MATLAB's next(mbq); on anything else it behaves like Python's next
from dlteach.errors import StateNotUpdatedWarning
# the check code of this lesson's exercises: dlteach/exercises/lesson02.py
from dlteach.exercises.lesson02 import ex1, ex2, ex3, ex4, ex5, ex6, ____

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
# ### Exercise 1 (1 point) — the loss NNC minimises
#
# Write `sum_of_means(terminals)`: given a **list** of terminal outputs (dlarrays or NumPy arrays, of any sizes), return
# the loss NNC minimises.
#
# Your function will be used inside `dlfeval`, so `dlgradient` must be able to differentiate its result: with dlarray
# inputs it must return a scalar dlarray (not a Python or NumPy number). With dlarrays, NumPy's functions and operators
# work as usual and are recorded for `dlgradient`. The NNC way to spell the pieces are the layers `nnc.Mean(y)` and
# `nnc.Add2(a, b)`.
#
# The check tests the value for one and for two terminal outputs of different sizes, that float32 stays float32, and
# the gradient that `dlgradient` finds through your function.

# %% nbgrader={"grade": false, "grade_id": "ex1_answer", "locked": false, "schema_version": 3, "solution": true}
def sum_of_means(terminals):
    # NNC's optimised loss for a list of terminal outputs
    ### BEGIN SOLUTION
    loss = 0
    for y in terminals:
        loss = loss + np.mean(y)
    return loss
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1_rule", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex1.check("rule")
### BEGIN HIDDEN TESTS
ex1.check("rule", seed=101)
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
if ex1.solved:      # your sum_of_means, once it passes its check
    print(f"loss A = {float(lossA):.4f}   loss B = {float(lossB):.4f}   sum_of_means(terminalsA) = "
          f"{float(sum_of_means(terminalsA)):.4f}")
else:
    print(f"loss A = {float(lossA):.4f}   loss B = {float(lossB):.4f}   (sum_of_means: Exercise 1 not solved yet)")

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
# of their means".
#
# **A note on NNC's engine.** The sum of the means is the rule NNC *documents*. Its training engine, nnabla, implements
# it differently: it back-propagates from all terminal outputs at once, each element with the gradient
# $1/n_1$, where $n_1$ is the number of elements of the **first** loss output. `dlteach` follows the documented rule.
#
# ### Written question 1 (2 points, graded by your instructor)
#
# For network A ($784 \times N$ reconstruction errors listed first, $32 \times N$ penalty values second), which loss does
# nnabla's rule actually minimise, written with the two means $m_1 = \operatorname{mean}(\text{reconstruction})$ and
# $m_2 = \operatorname{mean}(\text{sparsity})$? What changes if the two terminal layers are listed the other way round?
# Finally: how can you build the network so that nnabla's implementation and NNC's documented rule give the same loss,
# whatever the order? (Look at network B.)

# %% [markdown] nbgrader={"grade": true, "grade_id": "w1_answer", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer** (the student version shows "YOUR ANSWER HERE" instead).
# Every element gets the gradient 1/(784 N), so nnabla minimises (Σ reconstruction + Σ sparsity)/(784 N)
# = m₁ + (32/784)·m₂ ≈ m₁ + 0.041·m₂: the penalty has 1/24.5 of its documented weight. In the other order the divisor is
# 32 N: (784/32)·m₁ + m₂ = 24.5·(m₁ + 0.041·m₂) — the same balance between the two terms, but the whole loss and its
# gradient are 24.5 times larger (a 24.5 times larger step for plain gradient descent; Adam hardly notices). To make
# both rules agree, end the network in one terminal output with a single element: Mean on each loss, Add2 (network B).
# Then n₁ = 1 and both give m₁ + m₂.
# Grading: 1 point for the loss in nnabla's rule (either order), 1 point for the effect of the order and the fix.

# %% [markdown]
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
#
# ### Exercise 2 (2 points) — one Mean over outputs of different sizes
#
# A colleague draws network A differently. Instead of two terminal layers, network **C** concatenates the two loss
# outputs (NNC's `Concatenate` layer, along the channel axis) into **one** terminal output and lets NNC average it:
#
# ```
# network C (one terminal layer, no Mean layers)
#
#    SquaredError(y, x) ─────────────────┐                  P x N numbers (P = 784 pixels per image)
#                                        Concatenate        ◀ the only terminal: (P + K) x N
#    Abs(h) ── MulScalar(lamC) ──────────┘                  K x N numbers (K = 32 code values per image)
# ```
#
# NNC's loss of C is the mean of all $(P + K)\,N$ numbers of that output. It is not the loss of A — but for the right
# penalty weight `lamC` it is a constant multiple of it: $c \cdot \text{loss}_C = \text{loss}_A$ for every batch,
# where $\text{loss}_A = \operatorname{mean}(\text{SquaredError}) + \lambda \operatorname{mean}(|h|)$. Then C trains
# like A (Adam hardly notices the constant $c$; with plain gradient descent, $c$ is part of the learning rate).
#
# Write `network_C_settings(P, K, lam)` that returns the pair `(c, lamC)` — as formulas in `P`, `K` and `lam`, valid
# for every size and weight. Work it out on paper first: write both losses with the two means
# $m_1 = \operatorname{mean}(\text{SquaredError})$ and $m_2 = \operatorname{mean}(|h|)$.
#
# The check evaluates both losses on random terminal outputs for several `P`, `K` and `lam`.

# %% nbgrader={"grade": false, "grade_id": "ex2_answer", "locked": false, "schema_version": 3, "solution": true}
def network_C_settings(P, K, lam):
    # returns (c, lamC) such that c * loss_C == loss_A for every batch
    ### BEGIN SOLUTION
    c = (P + K) / P
    lamC = lam * P / K
    return c, lamC
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2_settings", "locked": true, "points": 2, "schema_version": 3, "solution": false}
ex2.check("settings")
### BEGIN HIDDEN TESTS
ex2.check("settings", seed=102)
### END HIDDEN TESTS

# %% [markdown]
# The lesson of Exercise 2: inside one mean, a term's weight grows with its **number of elements**. NNC's rule — one
# mean per terminal output — keeps the weight of each loss independent of its size, which is why λ means the same
# thing whatever the image size or the code size.

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
# ### Exercise 3 (2 points) — a weighted binary cross-entropy from primitives
#
# Squared error is not the only sensible loss for our autoencoder. Its output is a Sigmoid, a number between 0 and 1 per
# pixel, and the pixels of the input are between 0 and 1 too: we can read them as probabilities of "ink" and use NNC's
# `BinaryCrossEntropy` layer, which allows such *soft* targets $t$. Per element, with $x$ the prediction,
#
# $$y = -\bigl(t \ln x + (1 - t)\ln(1 - x)\bigr).$$
#
# Most pixels of a digit are background, though:

# %%
print(f"pixels above 0.5 (ink): {np.mean(XTrain > 0.5):.1%}   pixels below 0.1 (background): {np.mean(XTrain < 0.1):.1%}")

# %% [markdown]
# A network can make most of the loss small by drawing background everywhere and blurring the strokes. A **weighted**
# binary cross-entropy gives the ink term a weight $w$ (for example $w = 3$ makes a missed stroke pixel three times as
# expensive as a wrongly inked background pixel):
#
# $$y = -\bigl(w\, t \ln x + (1 - t)\ln(1 - x)\bigr).$$
#
# NNC has no such layer, so build it from primitives. Write `weighted_bce(x, t, w=1.0)`:
#
# * element-wise, like NNC's loss layers: the result has the size of the inputs (NNC averages later), and float32 stays
#   float32;
# * **without** `nnc.BinaryCrossEntropy` — with `w = 1` it must give the same values as that layer;
# * differentiable: `dlgradient` must find the gradient of the formula above.
#
# Building blocks (all work on dlarrays): `nnc.Log` or `np.log`, `nnc.Mul2`/`nnc.MulScalar` or `*`, `nnc.Add2` or `+`,
# `nnc.RSubScalar(x, 1)` (which is $1 - x$) or `1 - x`. The test inputs stay strictly between 0 and 1, so you need no
# clamping (see the experiments at the end).
#
# Two graded checks: `ex3.check("bce")` (1 point) tests `weighted_bce(x, t)` with the default `w = 1` — values against
# NNC's layer, size, float32, gradient; `ex3.check("weighted")` (1 point) tests the same with weights `w ≠ 1`.

# %% nbgrader={"grade": false, "grade_id": "ex3_answer", "locked": false, "schema_version": 3, "solution": true}
def weighted_bce(x, t, w=1.0):
    # element-wise weighted binary cross-entropy; x: probabilities, t: targets between 0 and 1
    ### BEGIN SOLUTION
    ink = nnc.MulScalar(nnc.Mul2(t, nnc.Log(x)), w)
    background = nnc.Mul2(nnc.RSubScalar(t, 1), nnc.Log(nnc.RSubScalar(x, 1)))
    return nnc.MulScalar(nnc.Add2(ink, background), -1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3_bce", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex3.check("bce")
### BEGIN HIDDEN TESTS
ex3.check("bce", seed=103)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex3_weighted", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex3.check("weighted")
### BEGIN HIDDEN TESTS
ex3.check("weighted", seed=104)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 4 (2 points) — the Huber loss from primitives, and its gradient by hand
#
# The Huber loss is quadratic for small errors and linear for large ones, so outliers pull less than with squared error.
# NNC's `HuberLoss` layer computes, element by element, with $d = x_0 - x_1$:
#
# $$y = \begin{cases} d^2 & \text{if } |d| < \delta \\ \delta\,(2|d| - \delta) & \text{otherwise.}\end{cases}$$
#
# (This is **twice** the textbook Huber loss and MATLAB's `huber`, which use $\tfrac12 d^2$ and $\delta(|d| - \tfrac12\delta)$
# — the same factor-2 story as `mse`.)
#
# **The loss** (1 point, `ex4.check("loss")`). Write `huber_loss(x0, x1, delta=1.0)` from primitives, **without** `nnc.HuberLoss`:
# element-wise, float32 in, float32 out, differentiable by `dlgradient`. A Python `if` cannot choose per element;
# NumPy functions that do, and that work on dlarrays: `np.where(condition, A, B)`, `np.minimum`, `np.maximum`.
#
# **The slope** (1 point, `ex4.check("gradient")`). Derive $\partial y / \partial x_0$ **by hand**, for both pieces, and write it as
# `huber_gradient(x0, x1, delta=1.0)`: NumPy arrays in, a NumPy array of the same size out (no `dlgradient` — this is
# the number a gradient check compares `dlgradient` with). The check compares your formula with what `dlgradient`
# finds for NNC's `HuberLoss`, inside and outside $\delta$ and for several $\delta$.

# %% nbgrader={"grade": false, "grade_id": "ex4_answer", "locked": false, "schema_version": 3, "solution": true}
def huber_loss(x0, x1, delta=1.0):
    # NNC's HuberLoss, element-wise, from primitives (dlarrays in, dlarray out)
    ### BEGIN SOLUTION
    a = nnc.Abs(nnc.Sub2(x0, x1))
    q = np.minimum(a, delta)
    return q ** 2 + 2 * delta * (a - q)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "ex4_gradient_answer", "locked": false, "schema_version": 3, "solution": true}
def huber_gradient(x0, x1, delta=1.0):
    # d huber_loss / d x0, element by element, derived by hand (NumPy arrays in and out)
    ### BEGIN SOLUTION
    d = x0 - x1
    return np.where(np.abs(d) < delta, 2 * d, 2 * delta * np.sign(d))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex4_loss", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex4.check("loss")
### BEGIN HIDDEN TESTS
ex4.check("loss", seed=105)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex4_gradient", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex4.check("gradient")
### BEGIN HIDDEN TESTS
ex4.check("gradient", seed=106)
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
# ### Exercise 5 (2 points) — the autoencoder's model loss function
#
# Write `modelLoss(net, X)` for the autoencoder: the Python twin of the MATLAB function on the left, with the loss
# written the NNC way — the terminal output of `Sub2` and `PowScalar` (the last two layers of NNC's Main network above),
# reduced by NNC's rule. There is no separate target: the input `X` is the target. Requirements:
#
# * `ex5.check("loss")` (1 point): the loss is NNC's loss of that terminal output, computed from the network's output **in
#   training mode** (batch statistics), returned as a scalar dlarray;
# * `ex5.check("gradients")` (1 point): the gradients of the loss with respect to **all** learnables of `net` (a table like
#   `net.Learnables`), and the **updated** state, returned as `loss, gradients, state`; `net` itself is not changed.
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
#
# The checks call your function through `dlfeval` on a smaller network of the same structure (20 pixels, a code of 5).

# %% nbgrader={"grade": false, "grade_id": "ex5_answer", "locked": false, "schema_version": 3, "solution": true}
def modelLoss(net, X):
    # loss, gradients and updated state of the autoencoder; the input is the target
    ### BEGIN SOLUTION
    Y, state = forward(net, X, return_state=True)
    loss = nnc.nnc_loss(nnc.PowScalar(nnc.Sub2(Y, X), 2))
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex5_loss", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex5.check("loss")
### BEGIN HIDDEN TESTS
ex5.check("loss", seed=107)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex5_gradients", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex5.check("gradients")
### BEGIN HIDDEN TESTS
ex5.check("gradients", seed=108)
### END HIDDEN TESTS

# %% [markdown]
# ### The training loop
#
# The loop is the one of every custom training loop (lesson 03 studies it in detail): a `minibatchqueue` hands out
# mini-batches of 100 images in a new random order every epoch; for each, `dlfeval` evaluates the model loss function,
# **the state is stored** with `net.State = state`, and `adamupdate` takes a step. NNC's default Adam learning rate
# is 0.001; for a short run we use 0.01. Ten epochs over the 4,000 training images take a few seconds.
#
# The cell trains with your `modelLoss` once it passes both checks of Exercise 5; until then it uses a stand-in that
# computes the same loss with a MATLAB function: `l2loss(Y, X, NormalizationFactor="all-elements")` — the plain mean of
# the squared errors.

# %%
def modelLossStandIn(net, X):
    # stand-in for Exercise 5: the same loss with MATLAB's l2loss (mean over all elements)
    Y, state = forward(net, X, return_state=True)
    loss = l2loss(Y, X, NormalizationFactor="all-elements")
    return loss, dlgradient(loss, net.Learnables), state


if ex5.solved:                  # both checks of Exercise 5 pass (checked silently)
    lossFcn = modelLoss
else:
    print("(Exercise 5 is not solved yet: training with the stand-in modelLossStandIn.)")
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
ax.set_title("Training the autoencoder with " + ("your modelLoss (Sub2 + PowScalar)" if lossFcn is not modelLossStandIn
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
difference = np.abs(extractdata(Yf) - extractdata(Yp))
print(f"loss with forward (batch statistics):  {float(nnc.nnc_loss(nnc.SquaredError(Yf, Xtb))):.4f}")
print(f"loss with predict (stored statistics): {float(nnc.nnc_loss(nnc.SquaredError(Yp, Xtb))):.4f}")
print(f"|forward - predict| per pixel: mean {difference.mean():.4f}, largest {difference.max():.3f}; "
      f"{np.mean(difference > 0.05):.1%} of the pixels differ by more than 0.05")

# %% [markdown]
# On a batch of 100 images the two **losses** are close (0.0150 and 0.0146), and so is the typical pixel (a mean
# difference of about 0.01): the mean and variance of 100 images are near the running averages stored during training.
# But the two outputs are **not** the same: almost 8 % of the pixels differ by more than 0.05, and the largest difference,
# 0.37, is over a third of a pixel's whole range (0 to 1). A reconstruction should not change that much with the company
# it is computed in. Now the case inference is made for — **one image at a time**:

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
# ### Written question 2 (2 points, graded by your instructor)
#
# Explain, with what batch normalisation computes, the three observations above: (1) on the batch of 100 test images
# `forward` and `predict` give close losses but pixels that differ by up to the largest difference printed; (2) with a
# single image, `forward` returns the same output whatever the digit; (3) the reconstruction of image 0 by `forward`
# changes with the other images in its batch, by `predict` not at all. Which NNC network corresponds to each of the two
# functions, and which one must an inference network use?

# %% [markdown] nbgrader={"grade": true, "grade_id": "w2_answer", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# **Model answer** (the student version shows "YOUR ANSWER HERE" instead).
# `forward` is NNC's Main with BatchStat True: batch normalisation subtracts the mean of the *current batch* and divides
# by its standard deviation. `predict` is the Runtime network, BatchStat False: it uses the stored running averages
# TrainedMean/TrainedVariance. (1) The statistics of 100 test images are close to the stored ones, so most pixels and the
# loss agree; but they are not equal, and the sigmoid amplifies small shifts of the pre-activations for some pixels.
# (2) For one image the batch mean is the image's own feature value, so every normalised feature is 0 and the layer
# outputs its Offset: the same code, hence the same output, for every image. (3) With batch statistics, the other images
# change the mean and variance used to normalise image 0; with stored statistics nothing depends on the batch.
# Inference must use `predict` (BatchStat False): the output must be a function of the image and the trained network only.
# Grading: 1 point for the mechanism (batch vs stored statistics, mapped to Main / Runtime), 1 point for explaining (2)
# and (3) with it.

# %% [markdown]
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
# ### Exercise 6 (2 points) — build the Runtime network yourself
#
# `predict` does NNC's five steps for you. To see that nothing else is involved, build the runtime network by hand, in
# the model-function form of lesson 01. Here is NNC's **Main** network of section 3 — the autoencoder *and* its loss, with
# BatchStat True — as a function of parameter and state dictionaries (the helper `tableToDict` turns `net.Learnables`
# and `net.State` into such dictionaries). MATLAB's `batchnorm` is the BatchNormalization layer as a function: with
# `training=True` it normalises with the batch statistics and returns the updated running statistics too.

# %%
def tableToDict(table):
    # a Learnables or State table -> {layer: {parameter: value}}, the dictionaries of the model-function form
    d = {}
    for row in table:
        d.setdefault(row.Layer, {})[row.Parameter] = row.Value
    return d


def mainNetwork(params, state, X):
    # NNC's Main network: Affine, BatchNormalization (BatchStat True), ReLU, Affine, Sigmoid, then the loss Sub2, PowScalar
    H = fullyconnect(X, params["fc1"]["Weights"], params["fc1"]["Bias"])
    H, trainedMean, trainedVariance = batchnorm(H, params["bn1"]["Offset"], params["bn1"]["Scale"],
                                                state["bn1"]["TrainedMean"], state["bn1"]["TrainedVariance"],
                                                training=True)
    H = relu(H)
    Y = sigmoid(fullyconnect(H, params["fc2"]["Weights"], params["fc2"]["Bias"]))     # x(0), the reconstruction
    E = nnc.PowScalar(nnc.Sub2(Y, X), 2)                                              # x(1) = X: the loss part
    newState = {"bn1": {"TrainedMean": trainedMean, "TrainedVariance": trainedVariance}}
    return E, newState


params, stateDict = tableToDict(net.Learnables), tableToDict(net.State)
E, _ = mainNetwork(params, stateDict, Xtb)
print("Main's terminal output:", dims(E), E.shape)
print("equal to SquaredError(forward(net, X), X):",
      np.allclose(extractdata(E), extractdata(nnc.SquaredError(forward(net, Xtb), Xtb)), rtol=1e-5, atol=1e-7))

# %% [markdown]
# Write `runtimeNetwork(params, state, X)`: NNC's MainRuntime for this network — steps 1 to 4 of the recipe above
# applied to `mainNetwork`. It returns one output, the reconstruction (the Identity output $y'$), for any number of
# images including one, and changes nothing in `params` or `state`.
#
# * `ex6.check("output")` (1 point): the loss part is gone — the output is the reconstruction, one column per image.
# * `ex6.check("batchstat")` (1 point): BatchStat is False — the output equals inference with the stored statistics (what `predict`
#   computes), for a batch and for a single image.
#
# The checks use their own random parameters and statistics (other sizes, too), so your function must read everything
# from `params` and `state`. `help(batchnorm)` lists its call forms.

# %% nbgrader={"grade": false, "grade_id": "ex6_answer", "locked": false, "schema_version": 3, "solution": true}
def runtimeNetwork(params, state, X):
    # NNC's MainRuntime: Main without its loss part, BatchStat False; returns the reconstruction
    ### BEGIN SOLUTION
    H = fullyconnect(X, params["fc1"]["Weights"], params["fc1"]["Bias"])
    H = batchnorm(H, params["bn1"]["Offset"], params["bn1"]["Scale"],
                  state["bn1"]["TrainedMean"], state["bn1"]["TrainedVariance"], training=False)
    H = relu(H)
    return sigmoid(fullyconnect(H, params["fc2"]["Weights"], params["fc2"]["Bias"]))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex6_output", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex6.check("output")
### BEGIN HIDDEN TESTS
ex6.check("output", seed=109)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex6_batchstat", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex6.check("batchstat")
### BEGIN HIDDEN TESTS
ex6.check("batchstat", seed=110)
### END HIDDEN TESTS

# %% [markdown]
# Your runtime network and `predict` side by side, on the trained autoencoder (this cell needs Exercise 6):

# %%
if ex6.solved:
    for name, Xin in (("the batch of 100 test images", Xtb), ("test image 3 alone", dlarray(XTest[:, [3]], "CB"))):
        mine = extractdata(runtimeNetwork(params, stateDict, Xin))
        print(f"{name}: largest |runtimeNetwork - predict| = {np.max(np.abs(mine - extractdata(predict(net, Xin)))):.2g}")
else:
    print("(Exercise 6 is not solved yet.)")

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
# | `BinaryCrossEntropy` (x, t) | `-(T.*log(Y) + (1-T).*log(1-Y))`; reduced: `crossentropy(Y,T,ClassificationMode="multilabel")` | `nnc.BinaryCrossEntropy(x, t)` |
# | weighted BCE from `Log`, `Mul2`, `RSubScalar`, `Add2`, `MulScalar` | `-(w*T.*log(Y) + (1-T).*log(1-Y))` | `-(w * t * np.log(x) + (1 - t) * np.log(1 - x))` |
# | `Concatenate` + one terminal | `mean([a; b],"all")` — weights each term by its size | `np.mean(np.concatenate(...))` |
# | the optimised loss: sum of the means of the terminal layers | `mean(a,"all") + mean(b,"all")` | `nnc.nnc_loss(a, b)` |
# | squared-error loss as NNC reduces it | `l2loss(Y,T,NormalizationFactor="all-elements")` | `nnc.nnc_loss(nnc.SquaredError(Y, T))` |
# | — | `l2loss(Y,T)` (784 × that), `mse(Y,T)` (half of `l2loss`) | `l2loss(Y, T)`, `mse(Y, T)` |
# | `Affine` | `fullyConnectedLayer` / `fullyconnect` | `fullyConnectedLayer` / `fullyconnect` |
# | `BatchNormalization`, `ReLU`, `Sigmoid` | `batchNormalizationLayer`, `reluLayer`, `sigmoidLayer` | the same names |
# | BatchNormalization as a function, BatchStat True / False | `[Y,mu,v] = batchnorm(X,off,sc,mu,v)` / `Y = batchnorm(X,off,sc,mu,v)` | `batchnorm(..., training=True)` / `training=False` |
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
#   and gradient ($2(y - x)/n$ for the mean). Math and Arithmetic layers build other losses the same way: absolute error,
#   a weighted binary cross-entropy, Huber. Check value **and** gradient — against the built-in layer where there is one,
#   against a derivative worked out by hand where there is not; at kinks, implementations may pick different
#   subgradients.
# * **One mean per terminal output** keeps each term's weight independent of its size; a single mean over concatenated
#   outputs weights each term by its number of elements.
# * **Training with a custom loss:** in MATLAB and `dlteach` the loss lives in the model loss function, not in the network.
# * **The inference network:** NNC cannot derive it for a custom loss — copy Main, delete the loss part, BatchStat False,
#   Identity output (you did exactly that in Exercise 6). In MATLAB and `dlteach` the network already has no loss part and
#   `predict` is inference: stored statistics, independent of the batch. `forward` uses the batch's statistics: on 100
#   images its output is close to `predict`'s but not equal, and on a single image it is the same for every image.
# * **Store the state.** Forgetting `net.State = state` leaves training unchanged and breaks only `predict`;
#   `dlteach` warns with a `StateNotUpdatedWarning`. Repair a trained network by passing training batches through
#   `forward` and storing the state.
#
# **Next.** Lesson 03 turns the loop used here into a complete custom training loop: the update functions `adamupdate`,
# `rmspropupdate`, `sgdmupdate` and `dlupdate`, mini-batch queues and progress monitoring.

# %% [markdown]
# ## 7. Experiments (not graded)
#
# Open questions to try on your own; change the cells above or add new ones. None of them is checked.
#
# 1. **Train with your weighted cross-entropy.** Replace the loss in `modelLoss` by
#    `nnc.nnc_loss(weighted_bce(Y, X, w))` for `w = 1` and `w = 3`, train, and compare the reconstructions with those of
#    the squared error. Are the strokes sharper? Which loss value can you compare between the runs — and which not?
# 2. **When does `weighted_bce` break?** Feed it a prediction of exactly `0.0` or `1.0` (a saturated Sigmoid in float32
#    rounds to 1.0 for inputs above about 17). What do the value and the gradient become? nnabla clamps the logarithm:
#    `ln(max(x, FLT_MIN))`. Add such a clamp with `np.maximum` — what gradient flows through a clamped element?
# 3. **Huber instead of squared error.** Train with `nnc.nnc_loss(huber_loss(Y, X, delta))` for `delta = 0.1` and
#    `delta = 1`. For pixel values between 0 and 1, which `delta` makes it behave exactly like the squared error?
# 4. **Sum instead of mean, with plain gradient descent.** Train a few epochs with `sgdmupdate` (lesson 03) and the loss
#    `nnc.Sum(...)` for mini-batches of 50 and of 200 images, with the same learning rate. What happens, and why does the
#    same experiment with `nnc.nnc_loss` behave?
# 5. **How small can a batch be?** Repeat the `forward`-versus-`predict` comparison of section 4 with batches of 2, 5, 20
#    and 500 test images. How does the largest difference change with the batch size?
