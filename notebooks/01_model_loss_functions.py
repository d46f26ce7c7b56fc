# ---
# jupyter:
#   dlteach:
#     estimated_minutes: 40
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
# 2. write one for a model held in a network object (`dlnetwork`) — the **network-object form**;
# 3. write one for a model written as a plain function of a dictionary of parameters — the **model-function form**;
# 4. evaluate it with `dlfeval` and read the structure of the gradients it returns;
# 5. return extra outputs, such as the updated batch-normalisation state, and store them back in the network;
# 6. recognise the error you get when the function is called without `dlfeval`.
#
# **Time:** about 35–40 minutes. **Prerequisites:** Python and NumPy basics (arrays, functions, dictionaries) and the
# idea of gradient descent. MATLAB is *not* required: MATLAB code is shown next to the Python for those who know it.
#
# **How the exercises work.** There are six graded exercises (11 points). Each has a cell where you write code — replace
# the line `raise NotImplementedError()` with your answer — followed by a *test cell*: run it and you get a green
# **Correct** or a red box that says what was expected. Stuck? Every exercise has hints: `ex1.hint()`, then `ex1.hint(2)`.
# Run the cells from top to bottom (*Run ▸ Run All Cells* works too: the lesson keeps going even if an exercise is not done yet).

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
from dlteach.checks import (Exercise, ____, check_close, check_equal, check_shape, check_structure,
                            check_true, check_dtype)

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
w0 = float(w)
ax.plot(ws, float(loss) + float(gradW) * (ws - w0), "--", label=f"tangent at w = {w0}, slope dL/dw = {float(gradW):.2f}")
ax.plot([w0], [float(loss)], "o", color="k", label="current w")
ax.annotate("gradient-descent step\nw - 1.0 * dL/dw", xy=(w0 - float(gradW), float(loss)), xytext=(w0, float(loss)),
            arrowprops=dict(arrowstyle="->", color="tab:green", lw=2), color="tab:green",
            textcoords="data", va="bottom", fontsize=8)
ax.set_ylim(0, max(losses))
ax.set_xlabel("slope w")
ax.set_ylabel("mean squared error")
ax.set_title("dlgradient returns the slope of the loss")
ax.legend(fontsize=8)
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
# always guessed uniformly, $Y_{kn} = 1/10$, would score $\log 10 \approx 2.30$. Our untrained network does a little
# worse: its random weights make it *confidently* guess at random. (Lesson 02 looks at losses in much more detail.)

# %%
loss = crossentropy(Y, Tb)
byHand = -np.sum(extractdata(Tb) * np.log(extractdata(Y))) / Tb.shape[1]
print(f"crossentropy(Y, Tb) = {float(loss):.4f}")
print(f"by hand             = {float(byHand):.4f}")
print(f"log(10)             = {np.log(10):.4f}")

# %% [markdown]
# ### Exercise 1 (2 points) — the model loss function, network-object form
#
# Write `modelLoss(net, X, T)` that returns the loss **and** the gradients of the loss with respect to the network's
# learnable parameters:
#
# 1. the forward pass `Y = forward(net, X)`;
# 2. the loss `loss = crossentropy(Y, T)`;
# 3. the gradients `gradients = dlgradient(loss, net.Learnables)`.
#
# MATLAB returns several outputs with `[loss, gradients] = ...`; a Python function returns several values as a tuple,
# `return loss, gradients`.
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
#     # your three lines
#     return loss, gradients
# </pre>
# </td></tr>
# </table>
#
# You cannot test the function by calling it directly — Section 6 shows why. The test cell evaluates it with
# `dlfeval(modelLoss, net, Xb, Tb)`.

# %% nbgrader={"grade": false, "grade_id": "ex1_setup", "locked": true, "schema_version": 3, "solution": false}
ex1 = Exercise("ex1", "modelLoss, network-object form", hints=[
    "Three lines: Y = forward(net, X), then loss = crossentropy(Y, T), then gradients = dlgradient(loss, net.Learnables).",
    "Do not forget the last line of the function: return loss, gradients (in this order).",
])


# %% nbgrader={"grade": false, "grade_id": "ex1_solution", "locked": false, "schema_version": 3, "solution": true}
def modelLoss(net, X, T):
    """Loss and gradients of a dlnetwork classifier. MATLAB: [loss,gradients] = modelLoss(net,X,T)."""
    ### BEGIN SOLUTION
    Y = forward(net, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
with ex1:
    _out = dlfeval(modelLoss, net, Xb, Tb)
    check_true("modelLoss's result", isinstance(_out, tuple) and len(_out) == 2,
               f"modelLoss should return two values (loss, gradients); it returned {type(_out).__name__}"
               + (f" of length {len(_out)}" if isinstance(_out, tuple) else "") + ".",
               hint="End the function with: return loss, gradients")
    _loss, _grads = _out
    check_true("the first value returned (the loss)", getattr(_loss, "size", None) == 1,
               f"it should be the scalar loss, got {type(_loss).__name__}.", hint="return loss, gradients - the loss first.")
    _expected = float(crossentropy(forward(net, Xb), Tb))
    check_close("the loss", float(_loss), _expected, rtol=1e-5,
                hint="The loss is crossentropy(Y, T) with Y = forward(net, X).")
    check_true("the gradients", isinstance(_grads, Table),
               f"the gradients should be a Table like net.Learnables, got {type(_grads).__name__}.",
               hint="Differentiate with respect to the whole table: dlgradient(loss, net.Learnables).")
    check_equal("the gradients' (Layer, Parameter) rows", _grads.keys(), net.Learnables.keys(),
                hint="Differentiate with respect to the whole table: dlgradient(loss, net.Learnables).")
    ### BEGIN HIDDEN TESTS
    # hand formula for the last layer: softmax + cross-entropy gives dloss/dz = (Y - T) / N, so the fc bias
    # gradient is the mean over the batch of (Y - T) and the sum over classes of (Y - T) is zero
    _Y = extractdata(forward(net, Xb))
    _gb = extractdata(_grads.value("fc", "Bias"))
    assert _gb.shape == (10, 1), f"fc Bias gradient has shape {_gb.shape}, expected (10, 1)"
    assert np.allclose(_gb.ravel(), (_Y - extractdata(Tb)).mean(axis=1), rtol=1e-4, atol=1e-6), \
        "fc Bias gradient differs from mean(Y - T) over the batch"
    for _row, _ref in zip(_grads, net.Learnables):
        _g = extractdata(_row.Value)
        assert _g.shape == tuple(_ref.Value.shape), f"gradient {_row.Layer}/{_row.Parameter} has a wrong shape"
        assert _g.dtype == np.float32, f"gradient {_row.Layer}/{_row.Parameter} is {_g.dtype}, not float32"
        assert np.all(np.isfinite(_g)) and np.any(_g != 0), f"gradient {_row.Layer}/{_row.Parameter} is zero or not finite"
    # compare every gradient with a reference model loss
    def _refModelLoss(net, X, T):
        _l = crossentropy(forward(net, X), T)
        return _l, dlgradient(_l, net.Learnables)
    _rl, _rg = dlfeval(_refModelLoss, net, Xb, Tb)
    assert abs(float(_rl) - float(_loss)) <= 1e-5 * abs(float(_rl)), "loss differs from the reference"
    for _a, _r in zip(_grads.Value, _rg.Value):
        assert np.allclose(extractdata(_a), extractdata(_r), rtol=1e-4, atol=1e-6), "gradients differ from the reference"
    ### END HIDDEN TESTS

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
#
# ### Exercise 2 (2 points) — evaluate it and read the gradients
#
# 1. Evaluate your `modelLoss` on the mini-batch `Xb`, `Tb` with `dlfeval`, storing the results in `loss` and `gradients`.
# 2. Look at `gradients` (display it in a cell of your own, or explore it with code) and store the answers:
#    * `n_rows` — the number of rows of the `gradients` table (an `int`);
#    * `conv_weights_grad_size` — the size of the gradient of the convolution weights, as a tuple such as `(3, 4)`;
#    * `fc_weights_grad_size` — the size of the gradient of the fully connected weights, as a tuple;
#    * `parameter_free_layers` — the set of names of the layers of `net` that have **no** row in `gradients`.
#      (`net.Layers` lists the layers; each has a `.Name`.)
#
# Useful: `len(table)`, `table.Layer`, `table.Parameter`, `table.value("conv", "Weights")`, `array.shape`.

# %% nbgrader={"grade": false, "grade_id": "ex2_setup", "locked": true, "schema_version": 3, "solution": false}
ex2 = Exercise("ex2", "dlfeval and the structure of the gradients", hints=[
    "loss, gradients = dlfeval(modelLoss, net, Xb, Tb) - the function without parentheses, then its inputs.",
    "Display `gradients` in a cell: it has the same rows as net.Learnables. gradients.value('conv', 'Weights').shape "
    "is the size of one gradient.",
    "Layers with no learnable parameter do not appear in the table at all: compare [layer.Name for layer in net.Layers] "
    "with set(gradients.Layer).",
])

# %% nbgrader={"grade": false, "grade_id": "ex2_solution", "locked": false, "schema_version": 3, "solution": true}
# 1. loss, gradients = ...
# 2. n_rows = ..., conv_weights_grad_size = ..., fc_weights_grad_size = ..., parameter_free_layers = ...
### BEGIN SOLUTION
loss, gradients = dlfeval(modelLoss, net, Xb, Tb)
n_rows = len(gradients)
conv_weights_grad_size = tuple(gradients.value("conv", "Weights").shape)
fc_weights_grad_size = tuple(gradients.value("fc", "Weights").shape)
parameter_free_layers = {layer.Name for layer in net.Layers} - set(gradients.Layer)
### END SOLUTION
print(f"loss = {float(loss):.4f}")
gradients

# %% nbgrader={"grade": true, "grade_id": "ex2_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
with ex2:
    _ref = net.Learnables
    check_true("gradients", isinstance(gradients, Table) and gradients.keys() == _ref.keys(),
               "gradients should be the table returned by dlfeval(modelLoss, net, Xb, Tb), with the rows of net.Learnables.",
               hint="loss, gradients = dlfeval(modelLoss, net, Xb, Tb)")
    check_close("loss", float(loss), float(crossentropy(forward(net, Xb), Tb)), rtol=1e-5,
                hint="loss, gradients = dlfeval(modelLoss, net, Xb, Tb)")
    check_equal("n_rows", n_rows, len(_ref), hint="One row per learnable parameter: len(gradients).")
    check_equal("conv_weights_grad_size", tuple(conv_weights_grad_size), tuple(_ref.value("conv", "Weights").shape),
                hint="A gradient has the size of its parameter: height x width x channels x filters.")
    check_equal("fc_weights_grad_size", tuple(fc_weights_grad_size), tuple(_ref.value("fc", "Weights").shape),
                hint="OutputSize x InputSize, and the input of fc is 12 * 12 * 20 numbers per image.")
    _want = {layer.Name for layer in net.Layers} - set(_ref.Layer)
    check_true("parameter_free_layers", isinstance(parameter_free_layers, (set, list, tuple, frozenset)),
               f"it should be a set of layer names such as {{'name1', 'name2'}}, got {type(parameter_free_layers).__name__}.")
    _got = set(parameter_free_layers)
    check_true("parameter_free_layers", _got == _want,
               f"you gave {sorted(_got)}: {len(_got & _want)} of the {len(_want)} layers without learnables"
               + (f"; {sorted(_got - _want)} do(es) not belong: not a layer of net, or it has learnables" if _got - _want else "")
               + ".",
               hint="Which layers compute a fixed function with nothing to learn? [layer.Name for layer in net.Layers] lists all names.")
    ### BEGIN HIDDEN TESTS
    assert not loss.is_traced, "loss should be the untraced output of dlfeval"
    for _a, _r in zip(gradients, _ref):
        assert tuple(_a.Value.shape) == tuple(_r.Value.shape), f"gradient {_a.Layer}/{_a.Parameter} has a wrong size"
    assert isinstance(n_rows, (int, np.integer)) and n_rows == 6, "n_rows should be 6"
    assert tuple(conv_weights_grad_size) == (5, 5, 1, 20), "conv weights gradient is 5 x 5 x 1 x 20"
    assert tuple(fc_weights_grad_size) == (10, 12 * 12 * 20), "fc weights gradient is 10 x 2880"
    assert set(parameter_free_layers) == {"imageinput", "relu", "maxpool", "softmax"}, "parameter-free layers"
    assert not gradients.value("conv", "Weights").is_traced, "dlfeval's outputs should be untraced"
    ### END HIDDEN TESTS


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
# ### Exercise 3 (2 points) — the model function
#
# Write `model(parameters, X)`: fully connected layer `fc1`, ReLU, fully connected layer `fc2`, softmax. The model-function
# operations are `fullyconnect(X, weights, bias)`, `relu(X)` and `softmax(X)`. `fullyconnect` flattens each 28 × 28 × 1
# image of an `"SSCB"` input into 784 numbers by itself and returns a `"CB"` array.
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
#     ...
#     return Y
# </pre>
# </td></tr>
# </table>

# %% nbgrader={"grade": false, "grade_id": "ex3_setup", "locked": true, "schema_version": 3, "solution": false}
ex3 = Exercise("ex3", "the model function", hints=[
    'Start with Y = fullyconnect(X, parameters["fc1"]["Weights"], parameters["fc1"]["Bias"]).',
    "Then Y = relu(Y), the same fullyconnect with fc2's parameters, and finally Y = softmax(Y); return Y.",
])


# %% nbgrader={"grade": false, "grade_id": "ex3_solution", "locked": false, "schema_version": 3, "solution": true}
def model(parameters, X):
    """Two-layer perceptron: fc1 -> relu -> fc2 -> softmax. MATLAB: Y = model(parameters,X)."""
    ### BEGIN SOLUTION
    Y = fullyconnect(X, parameters["fc1"]["Weights"], parameters["fc1"]["Bias"])
    Y = relu(Y)
    Y = fullyconnect(Y, parameters["fc2"]["Weights"], parameters["fc2"]["Bias"])
    Y = softmax(Y)
    return Y
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
with ex3:
    _Y = model(parameters, Xb)
    check_shape("model(parameters, Xb)", _Y, (10, 128),
                hint="fc2 has 10 outputs, and there are 128 observations.")
    check_equal("dims(model(parameters, Xb))", dims(_Y), "CB",
                hint="Use the dlteach operations on the formatted input: they keep track of the format.")
    check_dtype("model(parameters, Xb)", _Y, np.float32)
    check_close("the column sums of model(parameters, Xb)", extractdata(_Y).sum(axis=0), np.ones(128, np.float32),
                rtol=1e-5, atol=1e-5, hint="The last operation should be softmax: each column then sums to 1.")
    ### BEGIN HIDDEN TESTS
    # independent NumPy computation of the same perceptron
    _x = extractdata(Xb).reshape(784, 128).astype(np.float64)
    _p = {k: {n: extractdata(v).astype(np.float64) for n, v in d.items()} for k, d in parameters.items()}
    _h = np.maximum(_p["fc1"]["Weights"] @ _x + _p["fc1"]["Bias"], 0)
    _z = _p["fc2"]["Weights"] @ _h + _p["fc2"]["Bias"]
    _e = np.exp(_z - _z.max(axis=0))
    assert np.allclose(extractdata(_Y), _e / _e.sum(axis=0), rtol=1e-4, atol=1e-6), \
        "model output differs from fc1 -> relu -> fc2 -> softmax"
    _Y1 = model(parameters, dlarray(X[:, :, :, 200:203], "SSCB"))
    assert _Y1.shape == (10, 3), "model should work for any batch size"
    ### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 4 (2 points) — the model loss function, model-function form
#
# Now the model loss function for this model. It has the same three steps; only the first argument changes — the
# dictionary of parameters instead of the network — and the gradients are taken with respect to that dictionary:
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
#     ...
#     return loss, gradients
# </pre>
# </td></tr>
# </table>
#
# (In MATLAB both examples call their function `modelLoss`; they live in separate scripts. In one notebook we need two
# names, so this one is `modelLossFcn`.) It is evaluated in exactly the same way:
# `loss, gradients = dlfeval(modelLossFcn, parameters, Xb, Tb)`.
#
# `dlgradient(loss, parameters)` returns the gradients **in the structure of `parameters`**: a dictionary with the same
# keys, whose leaves have the sizes and types of the parameters. The test cell checks this with
# `check_structure(..., gradients, parameters)`.

# %% nbgrader={"grade": false, "grade_id": "ex4_setup", "locked": true, "schema_version": 3, "solution": false}
ex4 = Exercise("ex4", "modelLossFcn, model-function form", hints=[
    "Y = model(parameters, X); loss = crossentropy(Y, T); gradients = dlgradient(loss, parameters).",
    "Return both values: return loss, gradients. If Exercise 3 failed, fix model first - this function uses it.",
])


# %% nbgrader={"grade": false, "grade_id": "ex4_solution", "locked": false, "schema_version": 3, "solution": true}
def modelLossFcn(parameters, X, T):
    """Loss and gradients of the model function. MATLAB: [loss,gradients] = modelLoss(parameters,X,T)."""
    ### BEGIN SOLUTION
    Y = model(parameters, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, parameters)
    return loss, gradients
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex4_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
with ex4:
    _out = dlfeval(modelLossFcn, parameters, Xb, Tb)
    check_true("modelLossFcn's result", isinstance(_out, tuple) and len(_out) == 2,
               "modelLossFcn should return two values (loss, gradients).", hint="End with: return loss, gradients")
    _loss, _grads = _out
    check_true("the first value returned (the loss)", getattr(_loss, "size", None) == 1,
               f"it should be the scalar loss, got {type(_loss).__name__}.", hint="return loss, gradients - the loss first.")
    check_close("the loss", float(_loss), float(crossentropy(model(parameters, Xb), Tb)), rtol=1e-5,
                hint="loss = crossentropy(model(parameters, X), T)")
    check_structure("the gradients", _grads, parameters,
                    hint="dlgradient(loss, parameters) returns a dict shaped like parameters.")
    ### BEGIN HIDDEN TESTS
    # hand formulas for the last layer: dloss/dz = (Y - T) / N, so
    # d/dBias2 = sum_n (Y - T) / N and d/dWeights2 = (Y - T) H^T / N with H the hidden activations
    _Y = extractdata(model(parameters, Xb)).astype(np.float64)
    _H = extractdata(relu(fullyconnect(Xb, parameters["fc1"]["Weights"], parameters["fc1"]["Bias"]))).astype(np.float64)
    _D = (_Y - extractdata(Tb)) / 128
    assert np.allclose(extractdata(_grads["fc2"]["Bias"]), _D.sum(axis=1, keepdims=True), rtol=1e-3, atol=1e-6), \
        "fc2 Bias gradient differs from the hand formula"
    assert np.allclose(extractdata(_grads["fc2"]["Weights"]), _D @ _H.T, rtol=1e-3, atol=1e-6), \
        "fc2 Weights gradient differs from the hand formula"
    # reference model loss for the first layer
    def _refLoss(p, X, T):
        _Yr = softmax(fullyconnect(relu(fullyconnect(X, p["fc1"]["Weights"], p["fc1"]["Bias"])),
                                   p["fc2"]["Weights"], p["fc2"]["Bias"]))
        _l = crossentropy(_Yr, T)
        return _l, dlgradient(_l, p)
    _rl, _rg = dlfeval(_refLoss, parameters, Xb, Tb)
    for _k in ("fc1", "fc2"):
        for _n in ("Weights", "Bias"):
            assert np.allclose(extractdata(_grads[_k][_n]), extractdata(_rg[_k][_n]), rtol=1e-4, atol=1e-7), \
                f"gradient {_k}/{_n} differs from the reference"
            assert extractdata(_grads[_k][_n]).dtype == np.float32, f"gradient {_k}/{_n} is not float32"
    assert np.any(extractdata(_grads["fc1"]["Weights"]) != 0), "fc1 Weights gradient is all zero"
    ### END HIDDEN TESTS

# %% [markdown]
# Both forms are evaluated by `dlfeval` in exactly the same way, and `dlgradient` always answers in the shape of the
# question: ask for the gradients with respect to a table and you get a table with the same rows; ask with respect to a
# dictionary and you get a dictionary with the same keys (the same holds for a single `dlarray` or a list). That is
# what makes the update step of lesson 03 work with either form.

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
# ### Exercise 5 (2 points) — return the updated state
#
# Write `modelLossWithState(net, X, T)`, returning `loss, gradients, state` in this order. The test cell evaluates it on a
# copy of the network, writes the state back and checks that `TrainedMean` changed as batch normalisation says it should:
# $\text{TrainedMean}_\text{new} = 0.1\cdot\text{batch mean} + 0.9\cdot\text{TrainedMean}_\text{old}$.

# %% nbgrader={"grade": false, "grade_id": "ex5_setup", "locked": true, "schema_version": 3, "solution": false}
ex5 = Exercise("ex5", "modelLossWithState", hints=[
    "Y, state = forward(net, X, return_state=True) gives both the output and the updated state.",
    "Then loss = crossentropy(Y, T), gradients = dlgradient(loss, net.Learnables), and return loss, gradients, state.",
])


# %% nbgrader={"grade": false, "grade_id": "ex5_solution", "locked": false, "schema_version": 3, "solution": true}
def modelLossWithState(net, X, T):
    """Loss, gradients and updated state. MATLAB: [loss,gradients,state] = modelLoss(net,X,T)."""
    ### BEGIN SOLUTION
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex5_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
import copy as _copy
with ex5:
    _net = _copy.deepcopy(net)
    _out = dlfeval(modelLossWithState, _net, Xb, Tb)
    check_true("modelLossWithState's result", isinstance(_out, tuple) and len(_out) == 3,
               "modelLossWithState should return three values (loss, gradients, state).",
               hint="End with: return loss, gradients, state")
    _loss, _grads, _state = _out
    check_true("the first value returned (the loss)", getattr(_loss, "size", None) == 1,
               f"it should be the scalar loss, got {type(_loss).__name__}.",
               hint="return loss, gradients, state - in this order.")
    check_close("the loss", float(_loss), float(crossentropy(forward(net, Xb), Tb)), rtol=1e-5,
                hint="The loss is computed from forward's output, as in Exercise 1.")
    check_true("the state", isinstance(_state, Table) and _state.keys() == net.State.keys(),
               "state should be a Table with the rows of net.State (batchnorm TrainedMean, TrainedVariance).",
               hint="Y, state = forward(net, X, return_state=True)")
    _before = extractdata(_net.State.value("batchnorm", "TrainedMean")).copy()
    _net.State = _state
    _after = extractdata(_net.State.value("batchnorm", "TrainedMean"))
    check_true("TrainedMean after net.State = state", not np.allclose(_after, _before),
               "TrainedMean did not change: the state you returned is not the updated one.",
               hint="Return the state that forward(net, X, return_state=True) gives you.")
    ### BEGIN HIDDEN TESTS
    assert _grads.keys() == net.Learnables.keys(), "gradients should have the rows of net.Learnables"
    # independent reference: batch mean / unbiased variance of the convolution output, per channel
    from dlteach import dlconv as _dlconv
    _c = extractdata(_dlconv(Xb, net.Learnables.value("conv", "Weights"), net.Learnables.value("conv", "Bias"))).astype(np.float64)
    _mu = _c.mean(axis=(0, 1, 3))
    _var = _c.var(axis=(0, 1, 3), ddof=1)
    _m_old = extractdata(net.State.value("batchnorm", "TrainedMean")).astype(np.float64).ravel()
    _v_old = extractdata(net.State.value("batchnorm", "TrainedVariance")).astype(np.float64).ravel()
    assert np.allclose(_after.ravel(), 0.1 * _mu + 0.9 * _m_old, rtol=1e-4, atol=1e-6), "TrainedMean update is wrong"
    _v_new = extractdata(_net.State.value("batchnorm", "TrainedVariance")).ravel()
    assert np.allclose(_v_new, 0.1 * _var + 0.9 * _v_old, rtol=1e-4, atol=1e-6), "TrainedVariance update is wrong"
    assert _after.dtype == np.float32, "state should stay float32"
    # the original network is unchanged by forward / dlfeval
    assert np.array_equal(extractdata(net.State.value("batchnorm", "TrainedMean")).ravel(), _m_old.astype(np.float32)), \
        "modelLossWithState must not modify net itself"
    ### END HIDDEN TESTS

# %% [markdown]
# Now do it for real on `net`, as a training loop does after each `dlfeval` — and see the difference between `forward`
# (training behaviour: batch statistics) and `predict` (inference behaviour: the stored running statistics):

# %%
meanBefore = extractdata(net.State.value("batchnorm", "TrainedMean")).ravel()
try:
    loss, gradients, state = dlfeval(modelLossWithState, net, Xb, Tb)
except (NotImplementedError, NameError):
    print("(modelLossWithState is not written yet - using forward directly so that the lesson can go on)")
    _, state = forward(net, Xb, return_state=True)
net.State = state                 # MATLAB: net.State = state;
meanAfter = extractdata(net.State.value("batchnorm", "TrainedMean")).ravel()

print("TrainedMean, first 5 channels, before:", np.round(meanBefore[:5], 4))
print("TrainedMean, first 5 channels, after: ", np.round(meanAfter[:5], 4))

Yf = extractdata(forward(net, Xb))
Yp = extractdata(predict(net, Xb))
print(f"largest |forward - predict| on this batch: {np.max(np.abs(Yf - Yp)):.4f}   "
      "(running statistics after one batch are still far from the batch statistics)")

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
# ### Exercise 6 (1 point) — predict, then observe
#
# **Before running anything**, predict what happens. Choose one letter:
#
# * **A** — it works exactly as through `dlfeval`: same loss, same gradients.
# * **B** — the forward pass and the loss are computed, but `dlgradient` raises an error that says to use `dlfeval`.
# * **C** — it returns the loss, and gradients that are all zero.
# * **D** — `forward` fails at once, because `Xb` is not a traced array.
#
# Store your answer as a string, e.g. `prediction = "A"`. Then run the next cell to observe, and finally the test cell.

# %% nbgrader={"grade": false, "grade_id": "ex6_setup", "locked": true, "schema_version": 3, "solution": false}
ex6 = Exercise("ex6", "predict, then observe", hints=[
    "Which part of the model loss function needs the recording that dlfeval switches on? forward and crossentropy "
    "are ordinary computations.",
    "Run the cell after your prediction and read the error message: which function raised it?",
])

# %% nbgrader={"grade": false, "grade_id": "ex6_solution", "locked": false, "schema_version": 3, "solution": true}
# prediction = "A", "B", "C" or "D"
### BEGIN SOLUTION
prediction = "B"
### END SOLUTION

# %%
# Observe: call the model loss function directly, without dlfeval
try:
    loss, gradients = modelLoss(net, Xb, Tb)
    print("No error: the call returned normally.")
except NotTracedError as err:
    print(f"{type(err).__name__} raised by dlgradient:\n\n{err}")
except (NotImplementedError, NameError):
    print("Your modelLoss (Exercise 1) is not written yet. The same experiment with lineLoss from Section 1:\n")
    try:
        lineLoss(w, b, x, y)
    except NotTracedError as err:
        print(f"{type(err).__name__} raised by dlgradient:\n\n{err}")

# %% nbgrader={"grade": true, "grade_id": "ex6_tests", "locked": true, "points": 1, "schema_version": 3, "solution": false}
with ex6:
    check_true("prediction", isinstance(prediction, str) and prediction.strip().upper() in ("A", "B", "C", "D"),
               f"prediction should be one of the letters 'A', 'B', 'C', 'D'; got {prediction!r}.")
    check_equal("prediction", prediction.strip().upper(), "B",
                hint="Read the message printed by the cell above: forward and crossentropy ran, then dlgradient raised.")
    ### BEGIN HIDDEN TESTS
    assert prediction.strip().upper() == "B", "the answer is B"
    ### END HIDDEN TESTS

# %% [markdown]
# Only `dlgradient` needs `dlfeval`. `forward` and `crossentropy` are ordinary computations and run fine outside it —
# which is exactly why calling the model loss function directly is a useful **debugging** trick (lesson 04): an error in
# the forward pass then shows up with its full details, and only the `dlgradient` line fails, with the message above.
#
# When the error is not caught, Python shows the whole *traceback*: the chain of calls, most recent last, ending in the
# line that raised and the message. Read it from the bottom up.

# %% tags=["raises-exception"]
# This cell fails on purpose: the tiny model loss function of Section 1, called without dlfeval.
loss, gradW, gradB = lineLoss(w, b, x, y)

# %% [markdown]
# The fix is always the same: `loss, gradW, gradB = dlfeval(lineLoss, w, b, x, y)`.

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
#   `gradients = dlgradient(loss, net.Learnables)`; the gradients are a table with the rows of `net.Learnables`.
# * **Model-function form:** `modelLoss(parameters, X, T)` — `Y = model(parameters, X)`, the same loss,
#   `gradients = dlgradient(loss, parameters)`; the gradients are a dictionary shaped like `parameters`.
# * **Evaluation:** `loss, gradients = dlfeval(modelLoss, net, X, T)` (or with `parameters`): the function first, then its
#   inputs; the outputs are the function's outputs.
# * **Extra inputs and outputs:** e.g. return the batch-normalisation state from `forward(net, X, return_state=True)` and
#   store it with `net.State = state`; in the model-function form, pass a `state` dictionary in and out.
# * Outside `dlfeval`, `dlgradient` raises `NotTracedError` — everything else in the function still runs.
#
# **Next.**
#
# * **Lesson 02** asks *which value is the loss* — Neural Network Console's view, squared error built from primitives, and
#   the inference network.
# * **Lesson 03** uses the gradients: the update functions `adamupdate`, `rmspropupdate`, `sgdmupdate` and `dlupdate`, and
#   a complete custom training loop that calls `dlfeval(modelLoss, ...)` for every mini-batch.
# * **Lesson 04** debugs model loss functions: calling them directly with generated inputs and running them line by line.
