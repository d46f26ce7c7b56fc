# ---
# jupyter:
#   dlteach:
#     estimated_minutes: 45
#     lesson: 1
#     seed: 'MATLAB: Define Model Loss Function for Custom Training Loop (A1-A4)'
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
# # Lesson 1 — Model loss functions
#
# *The one function every custom training loop is built around.*
#
# This lesson follows MATLAB's documentation page **"Define Model Loss Function for Custom Training Loop"**,
# retold in our own words and in Python with `dlteach`, a small library that mirrors MATLAB's custom-training-loop
# API (`dlarray`, `dlfeval`, `dlgradient`, `dlnetwork`, ...).
#
# **After this lesson you can**
#
# 1. explain why a custom training loop needs a *model loss function*, and what goes in and comes out of it;
# 2. write one for a model held in a network object (`dlnetwork`) — the **network-object form** — including one with an
#    extra input (class weights);
# 3. write one for a model written as a plain function of a dictionary of parameters — the **model-function form** —
#    including a penalty term (weight decay);
# 4. evaluate it with `dlfeval` and predict the structure and sizes of the gradients it returns;
# 5. return extra outputs, such as the updated batch-normalisation state, and store them back in the network;
# 6. recognise the error you get when the function is called without `dlfeval`.
#
# **Time:** about 40–45 minutes. **Prerequisites:** Python and NumPy basics (arrays, functions, dictionaries) and the
# idea of gradient descent. MATLAB is *not* required: MATLAB code is shown next to the Python for those who know it.
#
# **How the exercises work.** There are five graded exercises (12 points) and two written questions (4 points, graded
# by your instructor). Each exercise has a cell where you write code — replace the blank `____` with your answer —
# followed by one or more *test cells* (one per part, each worth its own points): run a test cell and you get a green
# **Correct** that lists what was checked, a red **Incorrect** that says what is wrong, or a blue **Not attempted yet**.
# Grading runs the same checks on other inputs as well, so an answer that only fits the visible example does not score.
# Stuck? `ex1.hint()` gives a hint — first the idea, then where to look, then partial code; `ex1.solution()` shows a
# full solution. *Run ▸ Run All Cells* goes through the whole lesson even when exercises are not done yet: unsolved
# exercises just show their box.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import numpy as np
import matplotlib.pyplot as plt

from dlteach import (dlarray, dims, extractdata, dlfeval, dlgradient,            # arrays and autodiff
                     dlnetwork, forward, predict, Table,                          # network-object style
                     imageInputLayer, convolution2dLayer, batchNormalizationLayer, reluLayer,
                     maxPooling2dLayer, fullyConnectedLayer, softmaxLayer,        # layers
                     fullyconnect, relu, softmax, batchnorm, crossentropy,        # model-function style
                     load_digits, make_regression_line)                           # shipped data
from dlteach.errors import NotTracedError

# The exercises' checks (for instructors: the check code is in dlteach/exercises/lesson01.py).
from dlteach.exercises.lesson01 import ex1, ex2, ex3, ex4, q1, ____

np.random.seed(0)   # networks and our own initialisers draw from NumPy's global random generator

# %% [markdown]
# ### The data: handwritten digits
#
# `dlteach` ships 5,000 real MNIST digits (28 × 28 grey images), nothing is downloaded. `load_digits("train")` returns
# them in **MATLAB's layout**: the observations are the *last* dimension, so the images are
# height × width × channels × observations (28 × 28 × 1 × 4000) and the one-hot targets are classes × observations
# (10 × 4000).
#
# A `dlarray` is an array with a **format**: one letter per dimension saying what the dimension means —
# `S` spatial, `C` channel, `B` batch (observations), `T` time. Images are `"SSCB"`, feature vectors and targets `"CB"`.
# The layers and loss functions read the format to know which dimension is which. We take a mini-batch of the first
# 128 images:

# %%
X, labels, T = load_digits("train")

Xb = dlarray(X[:, :, :, :128], "SSCB")   # MATLAB: Xb = dlarray(X(:,:,:,1:128), "SSCB");
Tb = dlarray(T[:, :128], "CB")           # MATLAB: Tb = dlarray(T(:,1:128), "CB");

print("Xb:", dims(Xb), Xb.shape, Xb.dtype)
print("Tb:", dims(Tb), Tb.shape, Tb.dtype)
print("labels of the first 10 images:", labels[:10])
print("one-hot target of the first image:", extractdata(Tb)[:, 0])

# %%
# NBVAL_IGNORE_OUTPUT
fig, axes = plt.subplots(1, 10, figsize=(10, 1.6))
for n, ax in enumerate(axes):
    ax.imshow(X[:, :, 0, n], cmap="gray")
    ax.set_title(f"label {labels[n]}", fontsize=9)
    ax.set_xticks([]); ax.set_yticks([])
axes[0].set_xlabel("width (28 px)")
axes[0].set_ylabel("height (28 px)")
fig.suptitle("The first 10 training digits (28 × 28 pixels each)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 1. Why a model loss function?
#
# Training a model means finding values of its **learnable parameters** θ (weights, biases, ...) that make a **loss**
# $L(\theta)$ small — a number that measures how wrong the model's predictions are on a mini-batch. A custom training loop
# does this by gradient descent (or a relative of it, such as Adam):
#
# $$\theta \leftarrow \theta - \eta\, \nabla_\theta L(\theta).$$
#
# Everything hinges on the **gradient** $\nabla_\theta L$: one number per learnable parameter, saying how the loss changes
# when that parameter changes. Nobody derives it by hand for a network with thousands of parameters. **Automatic
# differentiation** computes it: it *records* every operation while the loss is computed, then walks the record backwards
# applying the chain rule.
#
# So MATLAB (and `dlteach`) asks you to put the whole computation — the model's forward pass, the loss, and the request
# for the gradients — into **one function**, the *model loss function*:
#
# * `dlfeval(fun, inputs...)` evaluates `fun` with recording switched on;
# * inside it, `dlgradient(loss, wrt)` walks the record backwards and returns $\partial\,\text{loss} / \partial\,\text{wrt}$.
#
# Let us see this on the smallest possible model before any network: a line $\hat y = w x + b$ fitted to noisy points,
# with the mean squared error as the loss. Here the gradient is easy by hand:
#
# $$L = \frac1N\sum_n (w x_n + b - y_n)^2, \qquad
# \frac{\partial L}{\partial w} = \frac2N\sum_n (w x_n + b - y_n)\,x_n, \qquad
# \frac{\partial L}{\partial b} = \frac2N\sum_n (w x_n + b - y_n).$$

# %%
x, y = make_regression_line(n=50, slope=2.0, intercept=-1.0, noise=0.2, seed=0)   # 1 x 50 each, float32
x, y = dlarray(x, "CB"), dlarray(y, "CB")
w = dlarray(np.float32(0.5))     # a poor first guess for the slope ...
b = dlarray(np.float32(0.0))     # ... and for the intercept


def lineLoss(w, b, x, y):
    # a (tiny) model loss function: forward pass, loss, gradients
    yhat = w * x + b                      # the model
    loss = np.mean((yhat - y) ** 2)       # the loss: mean squared error
    gradW, gradB = dlgradient(loss, w, b) # d loss / d w and d loss / d b
    return loss, gradW, gradB


loss, gradW, gradB = dlfeval(lineLoss, w, b, x, y)

# the same gradients by the hand formulas above
r = extractdata(w * x + b - y)
print(f"loss              = {float(loss):.4f}")
print(f"dL/dw  dlgradient = {float(gradW):.4f}   by hand = {float(2 * np.mean(r * extractdata(x))):.4f}")
print(f"dL/db  dlgradient = {float(gradB):.4f}   by hand = {float(2 * np.mean(r)):.4f}")

# %% [markdown]
# The gradient is the slope of the loss curve. Keep $b$ fixed and plot the loss as a function of $w$: the line through the
# current point with slope `gradW` is the tangent. It points uphill, so a gradient-descent step moves $w$ the other way —
# towards the minimum near the true slope 2.

# %%
# NBVAL_IGNORE_OUTPUT
ws = np.linspace(-1.0, 4.0, 101)
xs, ys = extractdata(x), extractdata(y)
losses = [np.mean((wi * xs + float(b) - ys) ** 2) for wi in ws]

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(ws, losses, label="loss L(w) (b fixed at 0)")
w0, L0, g0 = float(w), float(loss), float(gradW)
ax.plot(ws, L0 + g0 * (ws - w0), "--", label=f"tangent at w = {w0}, slope dL/dw = {g0:.2f}")
ax.plot([w0], [L0], "o", color="k", label="current w")
# the step w -> w - 1.0 * dL/dw as an arrow; its label sits above the arrow, not on it
ax.annotate("", xy=(w0 - g0, L0), xytext=(w0, L0),
            arrowprops=dict(arrowstyle="->", color="tab:green", lw=2))
ax.text(w0 - g0 / 2, L0 + 0.06 * max(losses), "gradient-descent step\nw - 1.0 * dL/dw", color="tab:green",
        ha="center", va="bottom", fontsize=8)
ax.set_ylim(0, max(losses))
ax.set_xlabel("slope w")
ax.set_ylabel("mean squared error")
ax.set_title("dlgradient returns the slope of the loss")
ax.legend(fontsize=8, loc="upper center")
plt.show()

# %% [markdown]
# The same three steps — **forward pass, loss, gradients** — make up every model loss function. MATLAB's documentation
# shows them in two companion styles, and this lesson teaches both:
#
# | | network-object form | model-function form |
# |---|---|---|
# | the model is | a `dlnetwork` object built from layers | a function you write, `model(parameters, X)` |
# | the learnables live in | `net.Learnables` (a table) | a dictionary `parameters` you create |
# | the loss function takes | `modelLoss(net, X, T)` | `modelLoss(parameters, X, T)` |
# | MATLAB example | "Train Network Using Custom Training Loop" | "Train Network Using Model Function" |
#
# `X` is the input mini-batch and `T` the targets.

# %% [markdown]
# ## 2. The network-object form
#
# We build the small image classifier of MATLAB's example: a convolution with 20 filters of size 5 × 5, batch
# normalisation, ReLU, 2 × 2 max pooling, a fully connected layer with 10 outputs (one per digit) and a softmax that turns
# them into probabilities. The code is almost letter for letter the same in both languages:
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# layers = [
#     imageInputLayer([28 28 1], Normalization="none")
#     convolution2dLayer(5, 20)
#     batchNormalizationLayer
#     reluLayer
#     maxPooling2dLayer(2, Stride=2)
#     fullyConnectedLayer(10)
#     softmaxLayer];
# net = dlnetwork(layers);
# </pre>
# </td><td>
# <pre>
# layers = [
#     imageInputLayer([28, 28, 1], Normalization="none"),
#     convolution2dLayer(5, 20),
#     batchNormalizationLayer(),
#     reluLayer(),
#     maxPooling2dLayer(2, Stride=2),
#     fullyConnectedLayer(10),
#     softmaxLayer()]
# net = dlnetwork(layers)
# </pre>
# </td></tr>
# </table>
#
# The network is *initialised* when it is built: every learnable parameter gets a (random) starting value.

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
np.random.seed(0)          # MATLAB: rng(0) - the initial weights are random
net = dlnetwork(layers)
net.Learnables

# %% [markdown]
# `net.Learnables` is a **table** with one row per learnable parameter and three columns: the `Layer` it belongs to, the
# `Parameter` name and its `Value` (a `dlarray`). Where do the sizes come from?
#
# * `conv` — `Weights` 5 × 5 × 1 × 20: a 5 × 5 filter over 1 input channel, 20 filters; one `Bias` per filter.
# * `batchnorm` — an `Offset` and a `Scale` per channel (20 each).
# * `fc` — the image shrinks to 24 × 24 after the 5 × 5 convolution (no padding) and to 12 × 12 after pooling with stride 2,
#   so each image reaches the fully connected layer as 12 · 12 · 20 = 2880 numbers: `Weights` 10 × 2880, `Bias` 10 × 1.
#
# The network's **forward pass** is `forward(net, X)`. The output is a `"CB"` array: 10 class probabilities for each of
# the 128 images (each column sums to 1).

# %%
Y = forward(net, Xb)
print("Y:", dims(Y), Y.shape)
print("column sums of the first 5 observations:", np.round(extractdata(Y)[:, :5].sum(axis=0), 4))

# %% [markdown]
# The loss for classification is the **cross-entropy** between the predicted probabilities $Y$ and the one-hot targets
# $T$, averaged over the $N$ observations of the mini-batch:
#
# $$\text{loss} = -\frac1N \sum_{n=1}^{N}\sum_{k=1}^{10} T_{kn}\,\log Y_{kn}.$$
#
# Because $T$ is one-hot, this is the average of $-\log(\text{probability given to the correct class})$. A model that
# always guessed uniformly, $Y_{kn} = 1/10$, would score $\log 10 \approx 2.30$. Our untrained network does worse (about 2.9,
# printed below): its random weights make it *confidently* guess at random. (Lesson 02 looks at losses in much more detail.)

# %%
loss = crossentropy(Y, Tb)
byHand = -np.sum(extractdata(Tb) * np.log(extractdata(Y))) / Tb.shape[1]
print(f"crossentropy(Y, Tb) = {float(loss):.4f}")
print(f"by hand             = {float(byHand):.4f}")
print(f"log(10)             = {np.log(10):.4f}")

# %% [markdown]
# ### The model loss function, network-object form
#
# Put the three steps together and you have the model loss function of MATLAB's example. It returns the loss **and** the
# gradients of the loss with respect to the network's learnable parameters; a Python function returns several values as
# a tuple, `return loss, gradients`:
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# function [loss,gradients] = modelLoss(net,X,T)
#     Y = forward(net,X);
#     loss = crossentropy(Y,T);
#     gradients = dlgradient(loss,net.Learnables);
# end
# </pre>
# </td><td>
# <pre>
# def modelLoss(net, X, T):
#     Y = forward(net, X)
#     loss = crossentropy(Y, T)
#     gradients = dlgradient(loss, net.Learnables)
#     return loss, gradients
# </pre>
# </td></tr>
# </table>

# %%
def modelLoss(net, X, T):
    """Loss and gradients of a dlnetwork classifier. MATLAB: [loss,gradients] = modelLoss(net,X,T)."""
    Y = forward(net, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients

# %% [markdown]
# ## 3. Evaluating the model loss function with `dlfeval`
#
# `dlfeval` evaluates a function **with automatic differentiation switched on**. Its first argument is the function
# itself, the remaining arguments are passed on to that function, and it returns whatever the function returns:
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td><pre>[loss,gradients] = dlfeval(@modelLoss,net,X,T);</pre></td>
# <td><pre>loss, gradients = dlfeval(modelLoss, net, X, T)</pre></td></tr>
# </table>
#
# MATLAB needs `@modelLoss`, a *function handle*. In Python a function is already a value you can pass around, so you
# write the bare name `modelLoss` — **without** parentheses. `dlfeval(modelLoss(net, X, T))` would be a mistake: Python
# would call `modelLoss` first, outside `dlfeval`, before `dlfeval` could switch recording on.
#
# What does `dlfeval` record? Every floating-point array inside its arguments — `X`, `T` and every learnable inside
# `net` — is *traced*, so `dlgradient` can differentiate with respect to any of them. The outputs come back as ordinary,
# untraced values.

# %%
loss, gradients = dlfeval(modelLoss, net, Xb, Tb)
print(f"loss = {float(loss):.4f}")
gradients

# %% [markdown]
# What the structure tells you:
#
# * **One gradient per learnable, with the same size and type.** `dlgradient(loss, net.Learnables)` returns a table with
#   exactly the rows of `net.Learnables`; each `Value` is $\partial\,\text{loss}/\partial\,\text{parameter}$ and has the
#   size of that parameter (5 × 5 × 1 × 20 for the filters) and its type (`single`, i.e. float32). That pairing is what
#   lets an update function (lesson 03) subtract "learning rate × gradient" row by row.
# * **Layers without learnables do not appear.** The input layer (with `Normalization="none"` it passes the data
#   through), ReLU, max pooling and softmax compute a fixed function: there is nothing in them to learn, so nothing to
#   differentiate with respect to. The gradient still *flows through* them on its way back to `conv` — that is the chain
#   rule at work.
#
# ### Exercise 1 (3 points) — a model loss function with an extra input: class weights
#
# In the digits data every class is about equally frequent. Often they are not — ten times fewer examples of a rare
# disease than of healthy cases — and the network then learns to neglect the rare class. A common remedy gives each
# class $k$ a **weight** $w_k$ in the loss, larger for rare classes:
#
# $$\text{loss} = -\frac1N \sum_{n=1}^{N}\sum_{k} w_k\, T_{kn}\,\log Y_{kn}.$$
#
# With all $w_k = 1$ this is the cross-entropy above.
#
# Write `modelLossWeighted(net, X, T, classWeights)`: like `modelLoss`, but with this weighted loss. `classWeights` is a
# float32 NumPy vector with one weight per class; the function is evaluated as
# `dlfeval(modelLossWeighted, net, X, T, classWeights)` — an extra input is simply passed on by `dlfeval`. It returns
# `loss, gradients` (with respect to `net.Learnables`), must work for any network, batch and weights, and must not change
# its inputs.
#
# Two test cells grade it: the loss (2 points) and the gradients (1 point).

# %% nbgrader={"grade": false, "grade_id": "ex1_answer", "locked": false, "schema_version": 3, "solution": true}
def modelLossWeighted(net, X, T, classWeights):
    """Class-weighted cross-entropy model loss. MATLAB: [loss,gradients] = modelLoss(net,X,T,classWeights)."""
    ### BEGIN SOLUTION
    Y = forward(net, X)
    loss = crossentropy(Y, T, dlarray(classWeights, "C"))
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1_loss", "locked": true, "points": 2, "schema_version": 3, "solution": false}
ex1.check("loss")
### BEGIN HIDDEN TESTS
ex1.check("loss", seed=101)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex1_gradients", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex1.check("gradients")
### BEGIN HIDDEN TESTS
ex1.check("gradients", seed=102)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 2 (3 points) — predict the gradients before you compute them
#
# Here is a second network. **Do not build it or run anything yet**: from the layers alone, predict what
# `dlgradient(loss, net2.Learnables)` would return.
#
# ```python
# layers2 = [
#     imageInputLayer([28, 28, 1], Normalization="none"),
#     convolution2dLayer(3, 8, Padding="same"),     # 8 filters of 3 x 3; "same" padding keeps the height and width
#     reluLayer(),
#     maxPooling2dLayer(2, Stride=2),
#     fullyConnectedLayer(10),
#     softmaxLayer(),
# ]
# ```
#
# Store your predictions:
#
# * `n_rows2` — the number of rows of the gradients table (an `int`);
# * `free_layers2` — the set of the names of the layers that have **no** row (the layers are named like those of `net`:
#   `"imageinput"`, `"conv"`, `"relu"`, `"maxpool"`, `"fc"`, `"softmax"`);
# * `conv_weights_size2` — the size of the gradient of the convolution weights, as a tuple of ints;
# * `fc_weights_size2` — the size of the gradient of the fully connected weights, as a tuple of ints.
#
# Two test cells grade it: the rows (1 point) and the sizes (2 points). The cell after them builds `net2` so that you can
# compare.

# %% nbgrader={"grade": false, "grade_id": "ex2_answer", "locked": false, "schema_version": 3, "solution": true}
# n_rows2 = ...
# free_layers2 = {...}
# conv_weights_size2 = (...)
# fc_weights_size2 = (...)
### BEGIN SOLUTION
n_rows2 = 4
free_layers2 = {"imageinput", "relu", "maxpool", "softmax"}
conv_weights_size2 = (3, 3, 1, 8)
fc_weights_size2 = (10, 14 * 14 * 8)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex2_rows", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex2.check("rows")

# %% nbgrader={"grade": true, "grade_id": "ex2_sizes", "locked": true, "points": 2, "schema_version": 3, "solution": false}
ex2.check("sizes")

# %%
# Now build net2 and compare with your prediction
np.random.seed(0)
net2 = dlnetwork([
    imageInputLayer([28, 28, 1], Normalization="none"),
    convolution2dLayer(3, 8, Padding="same"),
    reluLayer(),
    maxPooling2dLayer(2, Stride=2),
    fullyConnectedLayer(10),
    softmaxLayer(),
])
net2.Learnables

# %% [markdown]
# ## 4. The model-function form
#
# Instead of a network object you can write the model as a plain function and keep the learnable parameters yourself.
# This gives full control (any computation you can write is a model) at the price of some bookkeeping. MATLAB keeps the
# parameters in a nested *struct*; in Python we use a nested **dictionary**:
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td><pre>parameters.fc1.Weights</pre></td><td><pre>parameters["fc1"]["Weights"]</pre></td></tr>
# </table>
#
# Our model is a small two-layer perceptron on the flattened images: `fc1` (784 → 64), ReLU, `fc2` (64 → 10), softmax.
#
# We also have to **initialise** the parameters ourselves — the `dlnetwork` did that for us before. We use the *Glorot*
# (Xavier) initialiser, the default of MATLAB's fully connected layer: weights drawn uniformly from $[-B, B]$ with
# $B = \sqrt{6 / (\text{numIn} + \text{numOut})}$, which keeps the size of the signal roughly constant from layer to layer.
# Biases start at zero. Everything is float32 (MATLAB's `single`), as learnables should be.
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# function weights = initializeGlorot(sz,numOut,numIn)
#     Z = 2*rand(sz,"single") - 1;
#     bound = sqrt(6 / (numIn + numOut));
#     weights = dlarray(bound * Z);
# end
# </pre>
# </td><td>
# <pre>
# def initializeGlorot(sz, numOut, numIn):
#     Z = 2 * np.random.rand(*sz).astype(np.float32) - 1
#     bound = np.float32(np.sqrt(6 / (numIn + numOut)))
#     return dlarray(bound * Z)
# </pre>
# </td></tr>
# </table>

# %%
def initializeGlorot(sz, numOut, numIn):
    # Glorot (Xavier) uniform initialisation: U(-bound, bound), bound = sqrt(6 / (numIn + numOut)); float32
    Z = 2 * np.random.rand(*sz).astype(np.float32) - 1
    bound = np.float32(np.sqrt(6 / (numIn + numOut)))
    return dlarray(bound * Z)


def initializeZeros(sz):
    return dlarray(np.zeros(sz, dtype=np.float32))


numInputs, numHidden, numClasses = 28 * 28, 64, 10
np.random.seed(0)
parameters = {
    "fc1": {"Weights": initializeGlorot((numHidden, numInputs), numHidden, numInputs),
            "Bias": initializeZeros((numHidden, 1))},
    "fc2": {"Weights": initializeGlorot((numClasses, numHidden), numClasses, numHidden),
            "Bias": initializeZeros((numClasses, 1))},
}

for layerName, params in parameters.items():
    for name, value in params.items():
        print(f"{layerName:4s} {name:8s} {str(value.shape):10s} {value.dtype}  largest |value| = {float(np.max(np.abs(value))):.4f}")
print(f"Glorot bound of fc1 = {np.sqrt(6 / (numInputs + numHidden)):.4f}")

# %% [markdown]
# ### The model function
#
# The model is fully connected layer `fc1`, ReLU, fully connected layer `fc2`, softmax. The model-function operations are
# `fullyconnect(X, weights, bias)`, `relu(X)` and `softmax(X)`. `fullyconnect` flattens each 28 × 28 × 1 image of an
# `"SSCB"` input into 784 numbers by itself and returns a `"CB"` array.
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# function Y = model(parameters,X)
#     Y = fullyconnect(X,parameters.fc1.Weights,parameters.fc1.Bias);
#     Y = relu(Y);
#     Y = fullyconnect(Y,parameters.fc2.Weights,parameters.fc2.Bias);
#     Y = softmax(Y);
# end
# </pre>
# </td><td>
# <pre>
# def model(parameters, X):
#     Y = fullyconnect(X, parameters["fc1"]["Weights"], parameters["fc1"]["Bias"])
#     Y = relu(Y)
#     Y = fullyconnect(Y, parameters["fc2"]["Weights"], parameters["fc2"]["Bias"])
#     Y = softmax(Y)
#     return Y
# </pre>
# </td></tr>
# </table>

# %%
def model(parameters, X):
    """Two-layer perceptron: fc1 -> relu -> fc2 -> softmax. MATLAB: Y = model(parameters,X)."""
    Y = fullyconnect(X, parameters["fc1"]["Weights"], parameters["fc1"]["Bias"])
    Y = relu(Y)
    Y = fullyconnect(Y, parameters["fc2"]["Weights"], parameters["fc2"]["Bias"])
    Y = softmax(Y)
    return Y


Y2 = model(parameters, Xb)
print("model(parameters, Xb):", dims(Y2), Y2.shape, Y2.dtype)

# %% [markdown]
# ### The model loss function, model-function form
#
# It has the same three steps as `modelLoss`; only the first argument changes — the dictionary of parameters instead of
# the network — and the gradients are taken with respect to that dictionary:
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# function [loss,gradients] = modelLoss(parameters,X,T)
#     Y = model(parameters,X);
#     loss = crossentropy(Y,T);
#     gradients = dlgradient(loss,parameters);
# end
# </pre>
# </td><td>
# <pre>
# def modelLossFcn(parameters, X, T):
#     Y = model(parameters, X)
#     loss = crossentropy(Y, T)
#     gradients = dlgradient(loss, parameters)
#     return loss, gradients
# </pre>
# </td></tr>
# </table>
#
# (In MATLAB both examples call their function `modelLoss`; they live in separate scripts. In one notebook we need two
# names, so this one is `modelLossFcn`.) It is evaluated in exactly the same way. `dlgradient(loss, parameters)`
# returns the gradients **in the structure of `parameters`**: a dictionary with the same keys, whose leaves have the
# sizes and types of the parameters.

# %%
def modelLossFcn(parameters, X, T):
    """Loss and gradients of the model function. MATLAB: [loss,gradients] = modelLoss(parameters,X,T)."""
    Y = model(parameters, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, parameters)
    return loss, gradients


lossFcn, gradientsFcn = dlfeval(modelLossFcn, parameters, Xb, Tb)
print(f"loss = {float(lossFcn):.4f}")
for layerName, grads in gradientsFcn.items():
    for name, g in grads.items():
        print(f"d loss / d {layerName}.{name}: {g.shape} {g.dtype}")

# %% [markdown]
# Both forms are evaluated by `dlfeval` in exactly the same way, and `dlgradient` always answers in the shape of the
# question: ask for the gradients with respect to a table and you get a table with the same rows; ask with respect to a
# dictionary and you get a dictionary with the same keys (the same holds for a single `dlarray` or a list). That is
# what makes the update step of lesson 03 work with either form.
#
# ### Exercise 3 (3 points) — a penalty term in the loss: weight decay
#
# Large weights often mean a network that memorises its training data. **L2 regularisation** (weight decay) adds a
# penalty to the loss that grows with the size of the weights:
#
# $$\text{loss} = \text{crossentropy}(Y, T) + \frac{\lambda}{2} \sum_{\text{layers}} \sum_{i,j} W_{ij}^2,$$
#
# where the sum runs over the `"Weights"` of **every** layer, and the biases are **not** penalised. $\lambda$ is a small
# number such as 0.0001.
#
# Write `modelLossL2(parameters, X, T, l2)` (with `l2` $=\lambda$): like `modelLossFcn`, with the penalty added to the loss,
# returning `loss, gradients` (the gradients with respect to `parameters`). Think about *where* the penalty must be
# added so that the gradients include it. It is evaluated as `dlfeval(modelLossL2, parameters, X, T, l2)`, must work for
# any two-layer parameters of this form and any `l2` (a Python float), and must not change its inputs.
#
# Two test cells grade it: the loss (2 points) and the gradients (1 point).

# %% nbgrader={"grade": false, "grade_id": "ex3_answer", "locked": false, "schema_version": 3, "solution": true}
def modelLossL2(parameters, X, T, l2):
    """Cross-entropy + (l2/2) * sum of the squared weights. MATLAB: [loss,gradients] = modelLoss(parameters,X,T,l2)."""
    ### BEGIN SOLUTION
    Y = model(parameters, X)
    loss = crossentropy(Y, T)
    penalty = sum(np.sum(p["Weights"] ** 2) for p in parameters.values())
    loss = loss + l2 / 2 * penalty
    gradients = dlgradient(loss, parameters)
    return loss, gradients
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3_loss", "locked": true, "points": 2, "schema_version": 3, "solution": false}
ex3.check("loss")
### BEGIN HIDDEN TESTS
ex3.check("loss", seed=301)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex3_gradients", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex3.check("gradients")
### BEGIN HIDDEN TESTS
ex3.check("gradients", seed=302)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Extra inputs and outputs: the network's state
#
# A model loss function may take **extra inputs** the loss needs (a regularisation weight, class weights, a mask, ...)
# and return **extra outputs** besides the loss and the gradients. The most common extra output is the network's
# updated **state**.
#
# Our network contains a batch-normalisation layer. During training it normalises each channel with the mean and
# variance *of the current mini-batch*, and it also keeps running averages of them — `TrainedMean` and
# `TrainedVariance` — to use later, at inference time (`predict`), when there may be a single image and no batch to
# average over. These running averages are not learned by gradient descent, so they are not in `net.Learnables`; they are
# in `net.State`, a table with the same three columns:

# %%
print(net.State)
print("\nTrainedMean of the first 5 channels:", np.round(extractdata(net.State.value("batchnorm", "TrainedMean")).ravel()[:5], 4))

# %% [markdown]
# `forward(net, X)` does **not** change `net`: it *returns* the updated state when you ask for it. MATLAB asks by
# requesting a second output, `[Y, state] = forward(net, X)`; Python cannot see how many outputs you want, so you say it
# with `return_state=True`. The model loss function passes the state out, and the caller writes it back into the network
# — otherwise the running statistics are never updated and `predict` later normalises with the initial values (mean 0,
# variance 1), a classic silent bug.
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# function [loss,gradients,state] = modelLoss(net,X,T)
#     [Y,state] = forward(net,X);
#     loss = crossentropy(Y,T);
#     gradients = dlgradient(loss,net.Learnables);
# end
# &nbsp;
# [loss,gradients,state] = dlfeval(@modelLoss,net,X,T);
# net.State = state;
# </pre>
# </td><td>
# <pre>
# def modelLossWithState(net, X, T):
#     ...
#     return loss, gradients, state
# &nbsp;
# loss, gradients, state = dlfeval(modelLossWithState, net, X, T)
# net.State = state
# </pre>
# </td></tr>
# </table>
#
# ### Exercise 4 (2 points) — return the updated state
#
# Write `modelLossWithState(net, X, T)`, returning `loss, gradients, state` in this order, where `state` is the
# **updated** state. The test cells evaluate it on networks with a batch-normalisation layer, write the state back and
# check that the running statistics changed as batch normalisation says they should:
# $\text{TrainedMean}_\text{new} = 0.1\cdot\text{batch mean} + 0.9\cdot\text{TrainedMean}_\text{old}$ (and the same for the
# variance). The function itself must not change `net`: storing the state is the caller's job.
#
# Two test cells grade it: the loss and gradients (1 point) and the state (1 point).

# %% nbgrader={"grade": false, "grade_id": "ex4_answer", "locked": false, "schema_version": 3, "solution": true}
def modelLossWithState(net, X, T):
    """Loss, gradients and updated state. MATLAB: [loss,gradients,state] = modelLoss(net,X,T)."""
    ### BEGIN SOLUTION
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex4_outputs", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex4.check("outputs")
### BEGIN HIDDEN TESTS
ex4.check("outputs", seed=401)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex4_state", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex4.check("state")
### BEGIN HIDDEN TESTS
ex4.check("state", seed=402)
### END HIDDEN TESTS

# %% [markdown]
# Now do it for real on `net`, as a training loop does after each `dlfeval` — and see the difference between `forward`
# (training behaviour: batch statistics) and `predict` (inference behaviour: the stored running statistics). The cell
# uses your `modelLossWithState` once Exercise 4 is solved, and `forward` directly until then.

# %%
meanBefore = extractdata(net.State.value("batchnorm", "TrainedMean")).ravel()
if ex4.solved:
    loss, gradients, state = dlfeval(modelLossWithState, net, Xb, Tb)
else:
    print("(Exercise 4 is not solved yet: taking the state from forward directly so that the lesson can go on)")
    _, state = forward(net, Xb, return_state=True)
net.State = state                 # MATLAB: net.State = state;
meanAfter = extractdata(net.State.value("batchnorm", "TrainedMean")).ravel()

print("TrainedMean, first 5 channels, before:", np.round(meanBefore[:5], 4))
print("TrainedMean, first 5 channels, after: ", np.round(meanAfter[:5], 4))

Yf = extractdata(forward(net, Xb))
Yp = extractdata(predict(net, Xb))
print(f"largest |forward - predict| on this batch: {np.max(np.abs(Yf - Yp)):.4f}   "
      "(running statistics after one batch are still far from the batch statistics)")

# %% [markdown] nbgrader={"grade": false, "grade_id": "w1_text", "locked": true, "schema_version": 3, "solution": false}
# ### Written question 1 (2 points, graded by your instructor)
#
# `TrainedMean` and `TrainedVariance` live in `net.State`, not in `net.Learnables`. In three or four sentences: why are
# they not learnables, and what goes wrong — in which function, and how would you notice it — if a training loop never
# writes `net.State = state` back?

# %% [markdown] nbgrader={"grade": true, "grade_id": "w1_answer", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# *Model answer (for graders).* They are not parameters that gradient descent adjusts: they are running averages of the
# batch statistics, updated by a fixed rule (0.1 · batch value + 0.9 · old value) during the forward pass, and the
# loss has no gradient with respect to them. If the loop never stores the state, the running averages stay at their
# initial values (mean 0, variance 1). Training itself looks fine, because `forward` normalises with the statistics of
# each mini-batch; the error appears in `predict` (inference), which normalises with the stale stored statistics: the
# accuracy measured with `predict` is much worse than the training loss suggests, and `forward` and `predict` give very
# different outputs on the same batch.

# %% [markdown]
# The model-function form handles state the same way, by hand: a `state` dictionary with batch normalisation's running
# statistics is an **extra input** of the model loss function, and its updated version an **extra output**. Called with
# `training=True`, the operation `batchnorm` normalises with the batch statistics and returns the updated running
# statistics (MATLAB decides this by the number of outputs you request; Python says it with `training=`). A flag such as
# `doTraining` lets the same model function serve for inference. The state is *not* differentiated — it is passed in and
# out but is not an argument of `dlgradient`.

# %%
np.random.seed(0)
parametersBN = {
    "fc1": {"Weights": initializeGlorot((numHidden, numInputs), numHidden, numInputs),
            "Bias": initializeZeros((numHidden, 1))},
    "bn1": {"Offset": initializeZeros((numHidden, 1)),
            "Scale": dlarray(np.ones((numHidden, 1), dtype=np.float32))},
    "fc2": {"Weights": initializeGlorot((numClasses, numHidden), numClasses, numHidden),
            "Bias": initializeZeros((numClasses, 1))},
}
stateBN = {"bn1": {"TrainedMean": np.zeros((numHidden, 1), dtype=np.float32),
                   "TrainedVariance": np.ones((numHidden, 1), dtype=np.float32)}}


def modelBN(parameters, X, doTraining, state):
    # MATLAB: [Y,state] = model(parameters,X,doTraining,state)
    Y = fullyconnect(X, parameters["fc1"]["Weights"], parameters["fc1"]["Bias"])
    bn, st = parameters["bn1"], state["bn1"]
    if doTraining:
        Y, trainedMean, trainedVariance = batchnorm(Y, bn["Offset"], bn["Scale"], st["TrainedMean"],
                                                    st["TrainedVariance"], training=True)
        state = {"bn1": {"TrainedMean": trainedMean, "TrainedVariance": trainedVariance}}
    else:
        Y = batchnorm(Y, bn["Offset"], bn["Scale"], st["TrainedMean"], st["TrainedVariance"], training=False)
    Y = relu(Y)
    Y = fullyconnect(Y, parameters["fc2"]["Weights"], parameters["fc2"]["Bias"])
    return softmax(Y), state


def modelLossBN(parameters, X, T, state):
    # an extra input (state) and an extra output (the updated state)
    Y, state = modelBN(parameters, X, True, state)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, parameters)
    return loss, gradients, state


lossBN, gradientsBN, stateBN = dlfeval(modelLossBN, parametersBN, Xb, Tb, stateBN)
print(f"loss = {float(lossBN):.4f}")
print("gradient keys:", {k: list(v) for k, v in gradientsBN.items()})
print("updated TrainedMean of the first 5 hidden units:", np.round(stateBN["bn1"]["TrainedMean"].ravel()[:5], 4))

# %% [markdown]
# ## 6. What happens without `dlfeval`?
#
# So far every model loss function was evaluated through `dlfeval`. What if you simply call it, like any other Python
# function?
#
# ```python
# loss, gradients = modelLoss(net, Xb, Tb)      # no dlfeval
# ```
#
# ### Question 1 (1 point) — predict, then observe
#
# **Before running anything**, predict what happens. Choose one letter:
#
# * **A** — it works exactly as through `dlfeval`: same loss, same gradients.
# * **B** — the forward pass and the loss are computed, but `dlgradient` raises an error that says to use `dlfeval`.
# * **C** — it returns the loss, and gradients that are all zero.
# * **D** — `forward` fails at once, because `Xb` is not a traced array.
#
# Store your answer as a string, e.g. `prediction = "A"`. Then run the test cell, and the cell after it to observe.

# %% nbgrader={"grade": false, "grade_id": "q1_answer", "locked": false, "schema_version": 3, "solution": true}
# prediction = "A", "B", "C" or "D"
### BEGIN SOLUTION
prediction = "B"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "q1_tests", "locked": true, "points": 1, "schema_version": 3, "solution": false}
q1.check()

# %%
# Observe: call the model loss function of Section 2 directly, without dlfeval
try:
    loss, gradients = modelLoss(net, Xb, Tb)
    print("No error: the call returned normally.")
except NotTracedError as err:
    print(f"{type(err).__name__} raised by dlgradient:\n\n{err}")

# %% [markdown]
# Only `dlgradient` needs `dlfeval`. `forward` and `crossentropy` are ordinary computations and run fine outside it —
# which is exactly why calling the model loss function directly is a useful **debugging** trick (lesson 04): an error in
# the forward pass then shows up with its full details, and only the `dlgradient` line fails, with the message above.
#
# When the error is not caught, Python shows the whole *traceback*: the chain of calls, most recent last, ending in the
# line that raised and the message. Read it from the bottom up.

# %%
# NBVAL_IGNORE_OUTPUT
# The tiny model loss function of Section 1, called without dlfeval. The error is caught and its traceback printed
# as Jupyter shows an uncaught error, so that the notebook goes on.
import sys
try:
    loss, gradW, gradB = lineLoss(w, b, x, y)
except NotTracedError:
    tb = get_ipython().InteractiveTB
    print(tb.stb2text(tb.structured_traceback(*sys.exc_info())))

# %% [markdown]
# The fix is always the same: `loss, gradW, gradB = dlfeval(lineLoss, w, b, x, y)`.

# %% [markdown] nbgrader={"grade": false, "grade_id": "w2_text", "locked": true, "schema_version": 3, "solution": false}
# ### Written question 2 (2 points, graded by your instructor)
#
# A classmate writes `loss, gradients = dlfeval(modelLoss(net, Xb, Tb))` and gets an error. In three or four
# sentences: which line fails, why — in terms of what `dlfeval` records and when — and what the correct call is. Then
# say why, when the loss value itself looks wrong, calling `modelLoss(net, Xb, Tb)` directly can still be useful.

# %% [markdown] nbgrader={"grade": true, "grade_id": "w2_answer", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# *Model answer (for graders).* Python evaluates the argument `modelLoss(net, Xb, Tb)` first, before `dlfeval` runs, so
# the function runs without recording: `forward` and `crossentropy` work, and the `dlgradient` line raises
# `NotTracedError`, because nothing was recorded to differentiate (dlfeval traces its *arguments* and records what the
# function does with them while it runs). The correct call passes the function itself and its inputs separately:
# `loss, gradients = dlfeval(modelLoss, net, Xb, Tb)`. Calling the function directly runs the forward pass and the loss
# outside autodiff, so an error or a wrong value there shows up with its plain traceback and can be inspected line by line;
# only the `dlgradient` line then fails.

# %% [markdown]
# ## 7. MATLAB ↔ Python, side by side
#
# | | MATLAB | Python (dlteach) |
# |---|---|---|
# | formatted data | `X = dlarray(X, "SSCB")` | `X = dlarray(X, "SSCB")` |
# | format of an array | `dims(X)` | `dims(X)` (or `X.fmt`) |
# | size | `size(X)` | `X.shape` |
# | the data as a plain array | `extractdata(X)` | `extractdata(X)` (a NumPy array) |
# | evaluate with autodiff | `[loss,gradients] = dlfeval(@modelLoss,net,X,T)` | `loss, gradients = dlfeval(modelLoss, net, X, T)` |
# | function handle | `@modelLoss` | `modelLoss` (no parentheses) |
# | several outputs | `function [loss,gradients] = f(...)` | `def f(...): ... return loss, gradients` |
# | gradients | `dlgradient(loss, net.Learnables)` | `dlgradient(loss, net.Learnables)` |
# | several gradients | `[gw,gb] = dlgradient(loss,w,b)` | `gw, gb = dlgradient(loss, w, b)` |
# | forward pass with state | `[Y,state] = forward(net,X)` | `Y, state = forward(net, X, return_state=True)` |
# | store the state | `net.State = state` | `net.State = state` |
# | inference | `Y = predict(net,X)` | `Y = predict(net, X)` |
# | batchnorm, training call | `[Y,m,v] = batchnorm(X,off,sc,m,v)` | `Y, m, v = batchnorm(X, off, sc, m, v, training=True)` |
# | parameters | struct: `parameters.fc1.Weights` | dict: `parameters["fc1"]["Weights"]` |
# | learnables / state | `table` with `Layer`, `Parameter`, `Value` | `Table` with `.Layer`, `.Parameter`, `.Value` |
# | one value of a table | `net.Learnables.Value{1}` | `net.Learnables.Value[0]` or `.value("conv", "Weights")` |
# | empty ("no value yet") | `[]` | `None` (e.g. `averageGrad = None`, lesson 03) |
# | single precision | `rand(sz, "single")` | `np.random.rand(*sz).astype(np.float32)` |
# | indexing | 1-based, `X(:,:,:,1:128)` | 0-based, `X[:, :, :, :128]` (end excluded) |
# | name-value options | `maxPooling2dLayer(2, Stride=2)` | `maxPooling2dLayer(2, Stride=2)` |
#
# Mind the indexing: MATLAB's `X(:,:,:,1:128)` and Python's `X[:, :, :, :128]` are the same 128 images — Python counts
# from 0 and a slice stops *before* its end.

# %% [markdown] nbgrader={"grade": false, "grade_id": "summary", "locked": true, "schema_version": 3, "solution": false}
# ## 8. Summary
#
# * A custom training loop minimises a loss with respect to the learnable parameters, using the **gradients** of the loss.
#   Automatic differentiation computes them, provided the computation is put into a **model loss function** and
#   evaluated with **`dlfeval`**.
# * **Network-object form:** `modelLoss(net, X, T)` — `Y = forward(net, X)`, `loss = crossentropy(Y, T)`,
#   `gradients = dlgradient(loss, net.Learnables)`; the gradients are a table with the rows of `net.Learnables`, each
#   with the size and type of its parameter; layers without learnables have no row.
# * **Model-function form:** `modelLoss(parameters, X, T)` — `Y = model(parameters, X)`, the same loss,
#   `gradients = dlgradient(loss, parameters)`; the gradients are a dictionary shaped like `parameters`.
# * **Evaluation:** `loss, gradients = dlfeval(modelLoss, net, X, T)` (or with `parameters`): the function first, then its
#   inputs; the outputs are the function's outputs.
# * **Extra inputs** (class weights, a regularisation factor) are passed on by `dlfeval`; everything that should shape the
#   gradients — a weighting, a penalty — must be part of the loss **before** `dlgradient`.
# * **Extra outputs:** e.g. return the batch-normalisation state from `forward(net, X, return_state=True)` and store it
#   with `net.State = state`; in the model-function form, pass a `state` dictionary in and out.
# * Outside `dlfeval`, `dlgradient` raises `NotTracedError` — everything else in the function still runs.
#
# **Next.**
#
# * **Lesson 02** asks *which value is the loss* — Neural Network Console's view, squared error built from primitives, and
#   the inference network.
# * **Lesson 03** uses the gradients: the update functions `adamupdate`, `rmspropupdate`, `sgdmupdate` and `dlupdate`, and
#   a complete custom training loop that calls `dlfeval(modelLoss, ...)` for every mini-batch.
# * **Lesson 04** debugs model loss functions: calling them directly with generated inputs and running them line by line.

# %% [markdown] nbgrader={"grade": false, "grade_id": "experiments", "locked": true, "schema_version": 3, "solution": false}
# ## 9. Experiments (not graded)
#
# Open questions to explore in cells of your own; there is no test and no single right answer.
#
# 1. **Class weights and the gradient.** With your `modelLossWeighted`, give one digit a weight of 10 and the others 1.
#    Compare the gradient of the `fc` bias with the unweighted one: which entries change, and by how much? Why does the
#    weight of a class that does not occur in the batch change nothing?
# 2. **How strong is weight decay?** Evaluate `modelLossL2` for `l2` = 0, 1e-4, 1e-2 and 1. For which value does the
#    penalty dominate the cross-entropy? Compare the gradient of `fc1` `Weights` with `l2 * Weights`.
# 3. **Predict again.** Change `layers2` of Exercise 2 — `convolution2dLayer(5, 16)` without padding, or a pooling
#    stride of 4 — predict the sizes first, then build the network and check.
# 4. **State over many batches.** Call your `modelLossWithState` on ten different mini-batches, storing the state each
#    time. How does the largest `|forward - predict|` difference evolve? Roughly how many batches until the running
#    mean has forgotten its initial value (0.9 to the power of what is small)?
