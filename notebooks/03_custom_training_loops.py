# ---
# jupyter:
#   dlteach:
#     estimated_minutes: 50
#     lesson: 3
#     seed: 'MATLAB: Define Model Loss Function for Custom Training Loop (A5-A6)'
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
# # Lesson 3 — Custom training loops
#
# *Use the model loss function: evaluate it on every mini-batch and update the learnable parameters.*
#
# This lesson follows the second half of MATLAB's documentation page **"Define Model Loss Function for Custom Training
# Loop"** — *updating the learnable parameters* and *using the model loss function in a custom training loop* — retold in
# our own words and in Python with `dlteach`.
#
# **After this lesson you can**
#
# 1. feed a training loop with mini-batches from a `minibatchqueue` (size, format, a preprocessing function that builds
#    one-hot targets, shuffling with a seed);
# 2. write the complete custom training loop — epochs, mini-batches, the iteration counter, `dlfeval`, an updater — in
#    both styles: for a `dlnetwork` and for a model function with a dictionary of parameters; and measure the test
#    accuracy with `predict`;
# 3. watch training live in a `trainingProgressMonitor` and stop it with its Stop button;
# 4. state the update rule and MATLAB's default hyper-parameters of `adamupdate`, `rmspropupdate` and `sgdmupdate`, and
#    write your own update rule — plain SGD, SGD with momentum, weight decay, gradient clipping — with `dlupdate`;
# 5. find the two mistakes in the training-loop snippet of the MATLAB page itself;
# 6. explore how the learning rate changes training.
#
# **Time:** about 50 minutes. **Builds on:** lesson 01 (model loss functions, `dlfeval`, `dlgradient`, `dlnetwork`,
# the model-function form). MATLAB is *not* required: MATLAB code is shown next to the Python for those who know it.
#
# **How the exercises work.** There are five graded exercises (10 points). Each has a cell where you write code — replace
# the line `raise NotImplementedError()` with your answer — followed by a *test cell*: run it and you get a green
# **Correct** or a red box that says what was expected. Stuck? `ex1.hint()` shows a hint (`ex1.hint(2)` the next one).
# Cells that use your answers still run when an exercise is not done yet.
#
# **Run the cells in order, from the top.**

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import math
import numpy as np
import matplotlib.pyplot as plt
import ipywidgets as widgets
from IPython.display import display

from dlteach import (dlarray, dims, extractdata, dlfeval, dlgradient,                 # arrays and autodiff
                     dlnetwork, forward, predict, Table,                               # network-object style
                     imageInputLayer, fullyConnectedLayer, reluLayer, softmaxLayer,    # layers
                     fullyconnect, relu, softmax, crossentropy,                        # model-function style
                     onehotencode, onehotdecode,
                     adamupdate, rmspropupdate, sgdmupdate, dlupdate,                  # the four updaters
                     minibatchqueue, hasdata, shuffle, reset,                          # mini-batches
                     trainingProgressMonitor, recordMetrics, updateInfo, groupSubPlot, yscale,  # monitor
                     load_digits)
from dlteach.errors import StructureMismatchError, UpdaterArgumentError
from dlteach.checks import (Exercise, ____, check_close, check_equal, check_shape, check_structure,
                            check_true, check_dtype)

np.random.seed(0)   # networks and our own initialisers draw from NumPy's global random generator

# %% [markdown]
# ## 1. Mini-batches with `minibatchqueue`
#
# A training loop does not show the model all 4,000 training images at once. It takes a **mini-batch** — here 128
# images — computes the loss and its gradients on that mini-batch only, updates the parameters, and moves on to the
# next mini-batch. One pass over all the training data is an **epoch**; every update is an **iteration**.
#
# `minibatchqueue` hands out the mini-batches. As in MATLAB, it can prepare each mini-batch on the fly:
#
# * `MiniBatchSize` — the number of observations per mini-batch (MATLAB's default is 128);
# * `MiniBatchFcn` — a *preprocessing function* that receives the raw slices of a mini-batch and returns the arrays the
#   loop needs. Ours turns the digit labels (0…9) into **one-hot targets**, 10 × N (the `"CB"` layout of lesson 01);
# * `MiniBatchFormat` — the `dlarray` format of each output: `"SSCB"` for the images, `"CB"` for the targets;
# * `seed` — `shuffle(mbq)` draws a new random order of the observations (call it at the start of every epoch); with a
#   seed the orders are the same on every run. (MATLAB seeds with `rng(0)` instead; `dlteach` also accepts that style:
#   without `seed=` it uses NumPy's global generator.)
#
# The data in MATLAB come from a *datastore*; in `dlteach` you pass the arrays themselves, each with the observations
# along its **last** dimension (MATLAB's layout: images 28 × 28 × 1 × N, labels of length N).
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# function [X,T] = preprocessMiniBatch(dataX,dataT)
#     X = cat(4,dataX{:});
#     T = onehotencode(cat(2,dataT{:}),1);
# end
# &nbsp;
# mbq = minibatchqueue(ds, ...
#     MiniBatchSize=128, ...
#     MiniBatchFcn=@preprocessMiniBatch, ...
#     MiniBatchFormat=["SSCB" "CB"]);
# </pre>
# </td><td>
# <pre>
# def preprocessMiniBatch(X, labels):
#     T = onehotencode(labels, 1, ClassNames=classes)
#     return X, T
# &nbsp;
# &nbsp;
# mbq = minibatchqueue(XTrain, labelsTrain,
#     MiniBatchSize=128,
#     MiniBatchFcn=preprocessMiniBatch,
#     MiniBatchFormat=["SSCB", "CB"], seed=0)
# </pre>
# </td></tr>
# </table>

# %%
XTrain, labelsTrain, _ = load_digits("train")   # 28 x 28 x 1 x 4000 images, 4000 labels 0..9
XTest, labelsTest, _ = load_digits("test")      # 28 x 28 x 1 x 1000, the held-out test set
classes = np.arange(10)


def preprocessMiniBatch(X, labels):
    # MATLAB: [X,T] = preprocessMiniBatch(dataX,dataT) - the images pass through, the labels become one-hot targets
    T = onehotencode(labels, 1, ClassNames=classes)   # 10 x N, float32; ClassNames: a batch may miss a digit
    return X, T


miniBatchSize = 128
mbq = minibatchqueue(XTrain, labelsTrain, MiniBatchSize=miniBatchSize, MiniBatchFcn=preprocessMiniBatch,
                     MiniBatchFormat=["SSCB", "CB"], seed=0)
mbq

# %% [markdown]
# Take the mini-batches of one epoch, as the inner loop of a training loop does: `hasdata(mbq)` says whether a
# mini-batch is left and `next(mbq)` returns it (Python's built-in `next` works on a queue). The last mini-batch is
# smaller: 4,000 = 31 × 128 + 32 (`PartialMiniBatch="return"`, MATLAB's default, keeps it).

# %%
shuffle(mbq)                     # new random order, back to the first mini-batch
X, T = next(mbq)                 # MATLAB: [X,T] = next(mbq);
print("X:", dims(X), X.shape, X.dtype)
print("T:", dims(T), T.shape, T.dtype)
print("labels of the first 8 images:", onehotdecode(T, classes, 1)[:8])

sizes = [X.shape[-1]]
while hasdata(mbq):
    X, T = next(mbq)
    sizes.append(X.shape[-1])
print(f"{len(sizes)} mini-batches in one epoch; sizes of the last three: {sizes[-3:]}")

# %% [markdown]
# ## 2. The training loop, network-object form
#
# MATLAB's page puts the pieces of a custom training loop together like this (in our words): keep an **iteration
# counter** that starts at 0; loop over the **epochs**; in each epoch loop over the **mini-batches**; for every
# mini-batch increment the counter, get the mini-batch, evaluate the model loss function with `dlfeval`, and update the
# learnable parameters with an **updater** such as `adamupdate`.
#
# `adamupdate` needs, besides the network and the gradients, two *moving averages* of the gradients that it keeps
# from one call to the next, and the **iteration number**. The moving averages start empty — `[]` in MATLAB, `None`
# in Python — and each call returns their new values, which you pass to the next call. The iteration number must be
# **1 on the first call**: that is why the counter starts at 0 and is incremented *before* the update.
#
# We train a small perceptron on the digits: the 784 pixels of an image, a fully connected layer with 64 units,
# ReLU, a fully connected layer with 10 outputs, softmax. The hyper-parameters go in one cell, so that they are easy to
# change:

# %%
numEpochs = 2          # passes over the 4000 training images
learnRate = 0.001      # adamupdate's default learning rate

# %%
layers = [
    imageInputLayer([28, 28, 1], Normalization="none"),
    fullyConnectedLayer(64, Name="fc1"),
    reluLayer(),
    fullyConnectedLayer(10, Name="fc2"),
    softmaxLayer(),
]


def modelLoss(net, X, T):
    # the model loss function of lesson 01, network-object form
    Y = forward(net, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients


def testAccuracy(net):
    # predict: inference behaviour (lesson 01); the class with the largest probability is the prediction
    scores = predict(net, dlarray(XTest, "SSCB"))
    YPred = onehotdecode(scores, classes, 1)
    return np.mean(YPred == labelsTest)


np.random.seed(0)             # MATLAB: rng(0) - the initial weights are random
net = dlnetwork(layers)
print(f"test accuracy before training: {testAccuracy(net):.3f}   (guessing: 0.1)")

# %% [markdown]
# The loop, side by side. Read it from the outside in: epochs, mini-batches, one update per mini-batch.
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# averageGrad = [];
# averageSqGrad = [];
# iteration = 0;
# for epoch = 1:numEpochs
#     shuffle(mbq);
#     while hasdata(mbq)
#         iteration = iteration + 1;
#         [X,T] = next(mbq);
#         [loss,gradients] = dlfeval(@modelLoss,net,X,T);
#         [net,averageGrad,averageSqGrad] = adamupdate(net, ...
#             gradients,averageGrad,averageSqGrad,iteration,learnRate);
#     end
# end
# </pre>
# </td><td>
# <pre>
# averageGrad = None
# averageSqGrad = None
# iteration = 0
# for epoch in range(1, numEpochs + 1):
#     shuffle(mbq)
#     while hasdata(mbq):
#         iteration += 1
#         X, T = next(mbq)
#         loss, gradients = dlfeval(modelLoss, net, X, T)
#         net, averageGrad, averageSqGrad = adamupdate(net,
#             gradients, averageGrad, averageSqGrad, iteration, learnRate)
# </pre>
# </td></tr>
# </table>
#
# Two Python details: the updater does not change `net` in place, it **returns** the updated network, so you assign
# it back to `net` (MATLAB's value semantics behave the same way); and we also collect the mini-batch losses to print
# their mean at the end of each epoch.

# %%
averageGrad = None           # MATLAB: averageGrad = [];
averageSqGrad = None         # MATLAB: averageSqGrad = [];
iteration = 0
for epoch in range(1, numEpochs + 1):
    shuffle(mbq)
    epochLosses = []
    while hasdata(mbq):
        iteration += 1
        X, T = next(mbq)
        loss, gradients = dlfeval(modelLoss, net, X, T)
        net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, iteration,
                                                     learnRate)
        epochLosses.append(float(loss))
    print(f"epoch {epoch}: {iteration} iterations so far, mean mini-batch loss {np.mean(epochLosses):.4f}")

print(f"test accuracy after training: {testAccuracy(net):.3f}")

# %% [markdown]
# About 64 updates, a fraction of a second, and the network recognises most of the 1,000 test digits it has never
# seen. The loss started near $\log 10 \approx 2.30$ (a uniform guess) and fell.
#
# What if the counter were incremented *after* the update, so that the first call got `iteration = 0`? Adam divides by
# $1-\beta_1^{t}$ to correct its moving averages (Section 5), which is $0$ for $t = 0$. `adamupdate` therefore refuses:

# %%
try:
    adamupdate(net, gradients, None, None, 0)
except UpdaterArgumentError as err:
    print(f"{type(err).__name__}: {err}")


# %% [markdown]
# ## 2b. The training loop, model-function form
#
# The same loop works for a model written as a function of a dictionary of parameters (lesson 01, Section 4). Only
# three things change: the parameters are the dictionary `parameters` instead of `net`, the model loss function takes
# that dictionary, and for the test accuracy we call the model function itself — there is no `predict` for a plain
# function. (A model with dropout or batch normalisation would get a `doTraining` flag, as in lesson 01.)
#
# The next cell gives the pieces from lesson 01: the initialisers, `model`, `modelLossFcn`, and `initializeParameters()`,
# which returns freshly initialised parameters (always the same ones: it seeds the generator).

# %% nbgrader={"grade": false, "grade_id": "model_function", "locked": true, "schema_version": 3, "solution": false}
def initializeGlorot(sz, numOut, numIn):
    # Glorot (Xavier) uniform initialisation: U(-bound, bound), bound = sqrt(6 / (numIn + numOut)); float32
    Z = 2 * np.random.rand(*sz).astype(np.float32) - 1
    bound = np.float32(np.sqrt(6 / (numIn + numOut)))
    return dlarray(bound * Z)


def initializeZeros(sz):
    return dlarray(np.zeros(sz, dtype=np.float32))


def initializeParameters(seed=0):
    np.random.seed(seed)
    return {
        "fc1": {"Weights": initializeGlorot((64, 784), 64, 784), "Bias": initializeZeros((64, 1))},
        "fc2": {"Weights": initializeGlorot((10, 64), 10, 64), "Bias": initializeZeros((10, 1))},
    }


def model(parameters, X):
    # MATLAB: Y = model(parameters,X) - fc1, relu, fc2, softmax
    Y = fullyconnect(X, parameters["fc1"]["Weights"], parameters["fc1"]["Bias"])
    Y = relu(Y)
    Y = fullyconnect(Y, parameters["fc2"]["Weights"], parameters["fc2"]["Bias"])
    return softmax(Y)


def modelLossFcn(parameters, X, T):
    # MATLAB: [loss,gradients] = modelLoss(parameters,X,T)
    Y = model(parameters, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, parameters)
    return loss, gradients


def modelAccuracy(parameters):
    scores = model(parameters, dlarray(XTest, "SSCB"))
    return np.mean(onehotdecode(scores, classes, 1) == labelsTest)


parameters = initializeParameters()
print(f"test accuracy of the untrained model function: {modelAccuracy(parameters):.3f}")


# %% [markdown]
# ### Exercise 1 (3 points) — the training loop, model-function form
#
# Write `trainModelFunction(parameters, mbq, numEpochs, learnRate=0.001)`. It trains the model function with
# `adamupdate` and returns `parameters, lossHistory`:
#
# * `parameters` — the trained parameters (a dictionary like the one passed in);
# * `lossHistory` — a list with the loss of every iteration, as Python floats (`float(loss)`), in order.
#
# Follow the network-object loop above, with `parameters` in place of `net` and `modelLossFcn` in place of
# `modelLoss`. Call `shuffle(mbq)` at the start of every epoch, and start both moving averages at `None`.
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# [loss,gradients] = dlfeval(@modelLoss,parameters,X,T);
# [parameters,averageGrad,averageSqGrad] = adamupdate( ...
#     parameters,gradients,averageGrad,averageSqGrad, ...
#     iteration,learnRate);
# </pre>
# </td><td>
# <pre>
# def trainModelFunction(parameters, mbq, numEpochs, learnRate=0.001):
#     ...
#     return parameters, lossHistory
# </pre>
# </td></tr>
# </table>
#
# The test trains fresh parameters on 640 images for 2 epochs (10 iterations) and compares with a reference loop.

# %% nbgrader={"grade": false, "grade_id": "ex1_setup", "locked": true, "schema_version": 3, "solution": false}
# used by the test cells: a small queue of the first n training images, and a fixed batch to measure the loss on
def _smallQueue(n=640, seed=1):
    return minibatchqueue(XTrain[..., :n], labelsTrain[:n], MiniBatchSize=128, MiniBatchFcn=preprocessMiniBatch,
                          MiniBatchFormat=["SSCB", "CB"], seed=seed)


_Xf = dlarray(XTrain[..., 1000:1256], "SSCB")                     # a fixed batch to measure the loss on
_Tf = dlarray(onehotencode(labelsTrain[1000:1256], 1, ClassNames=classes), "CB")

ex1 = Exercise("ex1", "the training loop, model-function form", hints=[
    "Before the loops: averageGrad = None, averageSqGrad = None, iteration = 0, lossHistory = []. "
    "Then: for epoch in range(numEpochs): shuffle(mbq); while hasdata(mbq): ...",
    "In the inner loop: iteration += 1; X, T = next(mbq); loss, gradients = dlfeval(modelLossFcn, parameters, X, T); "
    "then adamupdate; then lossHistory.append(float(loss)).",
    "parameters, averageGrad, averageSqGrad = adamupdate(parameters, gradients, averageGrad, averageSqGrad, "
    "iteration, learnRate) - and return parameters, lossHistory at the very end, after both loops.",
])


# %% nbgrader={"grade": false, "grade_id": "ex1_solution", "locked": false, "schema_version": 3, "solution": true}
def trainModelFunction(parameters, mbq, numEpochs, learnRate=0.001):
    ### BEGIN SOLUTION
    averageGrad = None
    averageSqGrad = None
    iteration = 0
    lossHistory = []
    for epoch in range(numEpochs):
        shuffle(mbq)
        while hasdata(mbq):
            iteration += 1
            X, T = next(mbq)
            loss, gradients = dlfeval(modelLossFcn, parameters, X, T)
            parameters, averageGrad, averageSqGrad = adamupdate(parameters, gradients, averageGrad, averageSqGrad,
                                                                iteration, learnRate)
            lossHistory.append(float(loss))
    return parameters, lossHistory
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1_tests", "locked": true, "points": 3, "schema_version": 3, "solution": false}
with ex1:
    _p0 = initializeParameters(seed=3)
    _out = trainModelFunction(_p0, _smallQueue(), 2)
    check_true("trainModelFunction's result", isinstance(_out, tuple) and len(_out) == 2,
               "trainModelFunction should return two values: parameters, lossHistory.",
               hint="The last line of the function: return parameters, lossHistory")
    _p1, _hist = _out
    check_structure("the returned parameters", _p1, _p0,
                    hint="adamupdate(parameters, ...) returns a dictionary like parameters: assign it back to parameters.")
    check_true("lossHistory", isinstance(_hist, (list, tuple)) and len(_hist) == 10,
               f"lossHistory should have one loss per iteration: 5 mini-batches x 2 epochs = 10 values, got "
               f"{len(_hist) if isinstance(_hist, (list, tuple)) else type(_hist).__name__}.",
               hint="lossHistory.append(float(loss)) inside the inner loop; shuffle(mbq) restarts the queue every epoch.")
    check_true("the trained parameters",
               not np.allclose(extractdata(_p1["fc1"]["Weights"]), extractdata(_p0["fc1"]["Weights"])),
               "the parameters did not change: the updated parameters were not kept.",
               hint="parameters, averageGrad, averageSqGrad = adamupdate(parameters, gradients, ...)")
    _before = float(crossentropy(model(_p0, _Xf), _Tf))
    _after = float(crossentropy(model(_p1, _Xf), _Tf))
    check_true("the loss on a fixed batch", _after < _before - 0.05,
               f"training should lower the loss; it went from {_before:.4f} to {_after:.4f}.",
               hint="Use the gradients of the current mini-batch and the learning rate learnRate.")
    ### BEGIN HIDDEN TESTS
    def _refTrain(parameters, mbq, numEpochs, learnRate=0.001):
        _a = _b = None
        _it = 0
        _h = []
        for _e in range(numEpochs):
            shuffle(mbq)
            while hasdata(mbq):
                _it += 1
                _X, _T = next(mbq)
                _l, _g = dlfeval(modelLossFcn, parameters, _X, _T)
                parameters, _a, _b = adamupdate(parameters, _g, _a, _b, _it, learnRate)
                _h.append(float(_l))
        return parameters, _h
    _pr, _hr = _refTrain(initializeParameters(seed=3), _smallQueue(), 2)
    assert np.allclose(np.asarray(_hist, dtype=float), _hr, rtol=1e-4, atol=1e-6), "lossHistory differs from the reference"
    for _k in ("fc1", "fc2"):
        for _n in ("Weights", "Bias"):
            assert extractdata(_p1[_k][_n]).dtype == np.float32, f"{_k}/{_n} is not float32"
            assert np.allclose(extractdata(_p1[_k][_n]), extractdata(_pr[_k][_n]), rtol=1e-4, atol=1e-6), \
                f"{_k}/{_n} differs from the reference Adam loop"
    # a different learning rate and one epoch
    _p2, _h2 = trainModelFunction(initializeParameters(seed=4), _smallQueue(384, seed=7), 1, learnRate=0.01)
    _pr2, _hr2 = _refTrain(initializeParameters(seed=4), _smallQueue(384, seed=7), 1, learnRate=0.01)
    assert len(_h2) == 3, "one epoch of 384 images is 3 iterations"
    assert np.allclose(extractdata(_p2["fc2"]["Weights"]), extractdata(_pr2["fc2"]["Weights"]), rtol=1e-4, atol=1e-6), \
        "learnRate is not used"
    ### END HIDDEN TESTS

# %% [markdown]
# Now train the model function on all the training data, as we trained the network:

# %%
try:
    parametersTrained, lossHistoryFcn = trainModelFunction(initializeParameters(), mbq, numEpochs, learnRate)
    print(f"{len(lossHistoryFcn)} iterations; mean loss of the last 10: {np.mean(lossHistoryFcn[-10:]):.4f}")
    print(f"test accuracy of the trained model function: {modelAccuracy(parametersTrained):.3f}")
except (NotImplementedError, NameError):
    parametersTrained = initializeParameters()
    print("(trainModelFunction of Exercise 1 is not written yet - the lesson goes on without it)")

# %% [markdown]
# The accuracy is close to the network's but not identical: the two models start from different random weights (the
# network's layers and our `initializeGlorot` draw their random numbers differently), and with only two epochs the
# starting point still shows.

# %% [markdown]
# ## 3. Watching training: `trainingProgressMonitor`
#
# Printing one line per epoch tells little while training runs. MATLAB's `trainingProgressMonitor` (R2022b) plots the
# metrics you record, live, with a **Stop** button; `dlteach` has the same object:
#
# * `monitor = trainingProgressMonitor(Metrics=["Loss"], Info=["Epoch"], XLabel="Iteration")` — create it right before
#   the loop (its clock starts then);
# * `recordMetrics(monitor, iteration, Loss=loss)` — add a point to the plot (a `dlarray` scalar is fine);
# * `updateInfo(monitor, Epoch=...)` — text fields next to the plot;
# * `monitor.Progress = 100 * iteration / numIterations` — the progress bar, in percent;
# * `monitor.Stop` — becomes `True` when you click **Stop**. Test it in **both** loop conditions, and the loop ends
#   after the current iteration. The network keeps what it has learned so far.
#
# That is why MATLAB's examples write the epoch loop as a `while` loop: `while epoch < numEpochs and not monitor.Stop`.
#
# In JupyterLab (or Notebook 7, VS Code) you see the live plot; click **Stop** while it runs. When the notebook runs
# without a front end (nbconvert, a grader) the monitor records silently and shows one static figure at the end.

# %%
# NBVAL_IGNORE_OUTPUT
np.random.seed(0)
net = dlnetwork(layers)                                   # a fresh network
numIterationsPerEpoch = math.ceil(XTrain.shape[-1] / miniBatchSize)
numIterations = numEpochs * numIterationsPerEpoch

monitor = trainingProgressMonitor(Metrics=["Loss"], Info=["Epoch", "LearnRate"], XLabel="Iteration")
updateInfo(monitor, LearnRate=learnRate)

averageGrad = None
averageSqGrad = None
epoch = 0
iteration = 0
while epoch < numEpochs and not monitor.Stop:
    epoch += 1
    shuffle(mbq)
    while hasdata(mbq) and not monitor.Stop:
        iteration += 1
        X, T = next(mbq)
        loss, gradients = dlfeval(modelLoss, net, X, T)
        net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, iteration,
                                                     learnRate)
        recordMetrics(monitor, iteration, Loss=loss)
        updateInfo(monitor, Epoch=f"{epoch} of {numEpochs}")
        monitor.Progress = 100 * iteration / numIterations

monitor.Status = "Stopped" if monitor.Stop else "Training complete"
print(f"{monitor.Status} after {iteration} of {numIterations} iterations (epoch {epoch} of {numEpochs}); "
      f"monitor.Stop = {monitor.Stop}")

# %% [markdown]
# The recorded values stay available after the loop, in `monitor.MetricData`: for every metric an array with one row
# `[step, value]` per call of `recordMetrics`. (If you clicked Stop, the numbers below are smaller.)

# %%
lossData = monitor.MetricData["Loss"]
print("MetricData['Loss']:", lossData.shape, "- first row [iteration, loss]:", np.round(lossData[0], 4))
print(f"test accuracy after {iteration} iterations: {testAccuracy(net):.3f}")

# %% [markdown]
# ## 4. Find the two mistakes
#
# MATLAB's page shows the training loop as a short snippet. Here it is, in MATLAB and transliterated line by line into
# Python — **including two mistakes** that are in the original page:
#
# <table>
# <tr><th>MATLAB (the page's snippet)</th><th>Python, line by line</th></tr>
# <tr><td>
# <pre>
# iteration = 0;
# &nbsp;
# for epoch = 1:numEpochs
#     for i = 1:numIterationsPerEpoch
#         iteration = iteration + 1;
# &nbsp;
#         % Prepare mini-batch.
#         % ...
# &nbsp;
#         % Evaluate model loss and gradients.
#         [loss,gradients] = dlfeval(@modelLoss,net,X,T);
# &nbsp;
#         % Update learnable parameters.
#         [parameters,trailingAvg,trailingAvgSq] = ...
#             adamupdate(parameters,gradients, ...
#             trailingAvg,trailingAverageSq,iteration);
#     end
# end
# </pre>
# </td><td>
# <pre>
# iteration = 0
# &nbsp;
# for epoch in range(1, numEpochs + 1):
#     for i in range(numIterationsPerEpoch):
#         iteration += 1
# &nbsp;
#         # Prepare mini-batch.
#         X, T = next(mbq)
# &nbsp;
#         # Evaluate model loss and gradients.
#         loss, gradients = dlfeval(modelLoss, net, X, T)
# &nbsp;
#         # Update learnable parameters.
#         parameters, trailingAvg, trailingAvgSq = \
#             adamupdate(parameters, gradients,
#             trailingAvg, trailingAverageSq, iteration)
# </pre>
# </td></tr>
# </table>
#
# ### Exercise 2a (1 point) — which two?
#
# Which **two** of these statements describe real mistakes of the snippet? Store the two letters as a set, e.g.
# `seed_mistakes = {"A", "E"}`.
#
# * **A** — The counter starts at `iteration = 0`, but `adamupdate` needs an iteration of at least 1.
# * **B** — The loss and the gradients are evaluated for `net`, but `adamupdate` updates `parameters`.
# * **C** — `dlfeval` must be given `modelLoss(net, X, T)`, with parentheses, not `modelLoss`.
# * **D** — The moving average of the squared gradients is called `trailingAvgSq` in one place and `trailingAverageSq`
#   in another.
# * **E** — The moving averages `trailingAvg` and `trailingAvgSq` must start as arrays of zeros the size of the
#   parameters, not as empty `[]` / `None`.

# %% nbgrader={"grade": false, "grade_id": "ex2a_setup", "locked": true, "schema_version": 3, "solution": false}
ex2a = Exercise("ex2a", "the two mistakes of the snippet", hints=[
    "Go through the statements one by one and compare with the loop of Section 2, which works. When is the counter "
    "incremented? How is dlfeval called there? How do the moving averages start?",
    "One mistake is about WHICH learnables are updated (compare the first argument of dlfeval's function and of "
    "adamupdate); the other is about a NAME.",
])

# %% nbgrader={"grade": false, "grade_id": "ex2a_solution", "locked": false, "schema_version": 3, "solution": true}
# seed_mistakes = {"?", "?"}
### BEGIN SOLUTION
seed_mistakes = {"B", "D"}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex2a_tests", "locked": true, "points": 1, "schema_version": 3, "solution": false}
with ex2a:
    check_true("seed_mistakes", isinstance(seed_mistakes, (set, frozenset, list, tuple)) and
               all(isinstance(s, str) for s in seed_mistakes),
               f"seed_mistakes should be a set of letters such as {{'A', 'E'}}, got {seed_mistakes!r}.")
    _answer = {s.strip().upper() for s in seed_mistakes}
    check_true("seed_mistakes", len(_answer) == 2, f"give exactly two letters, got {sorted(_answer)}.",
               hint="The snippet has two mistakes.")
    check_true("seed_mistakes", "A" not in _answer,
               "A is not a mistake: the counter starts at 0 but is incremented BEFORE adamupdate, so the first call "
               "gets iteration = 1 (Section 2).")
    check_true("seed_mistakes", "C" not in _answer,
               "C is not a mistake: dlfeval takes the function itself (MATLAB: @modelLoss); modelLoss(net, X, T) would "
               "call it before dlfeval could switch on the recording (lesson 01).")
    check_true("seed_mistakes", "E" not in _answer,
               "E is not a mistake: the moving averages start empty ([] / None), and adamupdate makes arrays of "
               "the right sizes on its first call.")
    ### BEGIN HIDDEN TESTS
    assert _answer == {"B", "D"}, "the mistakes are B and D"
    ### END HIDDEN TESTS

# %% [markdown]
# Run the snippet (on our data; `parameters` is the dictionary of Section 2b). Python stops at the first
# mistake it meets — and which one that is depends on the order in which Python evaluates the arguments:

# %% tags=["raises-exception"]
# The snippet, transliterated - mistakes included. This cell fails on purpose.
np.random.seed(0)
net = dlnetwork(layers)
trailingAvg = None
trailingAvgSq = None
shuffle(mbq)

iteration = 0

for epoch in range(1, numEpochs + 1):
    for i in range(numIterationsPerEpoch):
        iteration += 1

        # Prepare mini-batch.
        X, T = next(mbq)

        # Evaluate model loss and gradients.
        loss, gradients = dlfeval(modelLoss, net, X, T)

        # Update learnable parameters.
        parameters, trailingAvg, trailingAvgSq = \
            adamupdate(parameters, gradients,
            trailingAvg, trailingAverageSq, iteration)

# %% [markdown]
# A `NameError`: there is no variable `trailingAverageSq` — MATLAB says *"Unrecognized function or variable
# 'trailingAverageSq'"*. Correct only the name, and the first mistake shows up: the gradients belong to `net` (a table
# with the rows of `net.Learnables`), but the parameters to update are the dictionary `parameters`.

# %%
trailingAvg = None
trailingAvgSq = None
try:
    loss, gradients = dlfeval(modelLoss, net, X, T)
    parameters, trailingAvg, trailingAvgSq = adamupdate(parameters, gradients, trailingAvg, trailingAvgSq, 1)
except StructureMismatchError as err:
    print(f"{type(err).__name__}: {err}")


# %% [markdown]
# An error is the friendly outcome. The dangerous case is when `parameters` *happens to fit* the gradients — say
# someone wrote `parameters = net.Learnables` once, before the loop. Then nothing fails: `adamupdate` dutifully updates
# the **copy** `parameters`, while `dlfeval` keeps evaluating the untouched `net`. The loop runs, and the model never
# learns:

# %%
def seedLoopSilent(net, mbq, numEpochs):
    # the snippet with the name corrected and `parameters` a copy of the learnables: NO error
    parameters = net.Learnables
    trailingAvg = None
    trailingAvgSq = None
    losses = []
    iteration = 0
    for epoch in range(1, numEpochs + 1):
        shuffle(mbq)
        while hasdata(mbq):
            iteration += 1
            X, T = next(mbq)
            loss, gradients = dlfeval(modelLoss, net, X, T)
            parameters, trailingAvg, trailingAvgSq = adamupdate(parameters, gradients, trailingAvg, trailingAvgSq,
                                                                iteration)
            losses.append(float(loss))
    return net, parameters, losses


np.random.seed(0)
net0 = dlnetwork(layers)
netAfter, parametersAfter, losses = seedLoopSilent(net0, mbq, 1)
print(f"mean loss of the first 5 iterations: {np.mean(losses[:5]):.3f}, of the last 5: {np.mean(losses[-5:]):.3f}")
print("net changed:       ", not np.array_equal(extractdata(netAfter.Learnables.Value[0]),
                                                extractdata(net0.Learnables.Value[0])))
print("parameters changed:", not np.array_equal(extractdata(parametersAfter.Value[0]),
                                                extractdata(net0.Learnables.Value[0])))

# %% [markdown]
# A flat loss curve and no error message: the classic symptom of updating one object and evaluating another. The fix
# is to update **the object you evaluate** — here `net`, so `adamupdate(net, gradients, ...)` returns the updated network
# (in the model-function form it is `parameters` in *both* calls) — and to use one name for each moving average.
#
# ### Exercise 2b (2 points) — the corrected loop
#
# Write `trainSeedFixed(net, mbq, numEpochs)`: the snippet with both mistakes corrected, in the network-object form, for
# the default learning rate. Shuffle the queue at the start of every epoch and loop over its mini-batches with
# `while hasdata(mbq):` (our queue hands them out; there is no `numIterationsPerEpoch` to keep in sync). Return the
# trained network.
#
# The test runs your loop for a few iterations on a fresh network and checks that the loss falls and that it is the
# **network** that was updated.

# %% nbgrader={"grade": false, "grade_id": "ex2b_setup", "locked": true, "schema_version": 3, "solution": false}
ex2b = Exercise("ex2b", "the corrected loop", hints=[
    "Start with the loop of Section 2 (network-object form): trailingAvg = None, trailingAvgSq = None, iteration = 0, "
    "then for epoch ...: shuffle(mbq); while hasdata(mbq): ...",
    "The update line: net, trailingAvg, trailingAvgSq = adamupdate(net, gradients, trailingAvg, trailingAvgSq, iteration)",
    "Return the network at the end of the function: return net",
])


# %% nbgrader={"grade": false, "grade_id": "ex2b_solution", "locked": false, "schema_version": 3, "solution": true}
def trainSeedFixed(net, mbq, numEpochs):
    ### BEGIN SOLUTION
    trailingAvg = None
    trailingAvgSq = None
    iteration = 0
    for epoch in range(1, numEpochs + 1):
        shuffle(mbq)
        while hasdata(mbq):
            iteration += 1
            X, T = next(mbq)
            loss, gradients = dlfeval(modelLoss, net, X, T)
            net, trailingAvg, trailingAvgSq = adamupdate(net, gradients, trailingAvg, trailingAvgSq, iteration)
    return net
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2b_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
with ex2b:
    np.random.seed(5)
    _net0 = dlnetwork(layers)
    _net1 = trainSeedFixed(_net0, _smallQueue(), 2)
    check_true("trainSeedFixed's result", isinstance(_net1, dlnetwork),
               f"trainSeedFixed should return the trained dlnetwork, got {type(_net1).__name__}.",
               hint="adamupdate(net, ...) returns the updated network: net, trailingAvg, trailingAvgSq = adamupdate(net, ...);"
                    " then return net.")
    check_equal("the rows of the returned network's Learnables", _net1.Learnables.keys(), _net0.Learnables.keys())
    check_true("the network's weights",
               not np.allclose(extractdata(_net1.Learnables.value("fc1", "Weights")),
                               extractdata(_net0.Learnables.value("fc1", "Weights"))),
               "the returned network has its initial weights: the update went to another object, not to net.",
               hint="Update the object you evaluate: adamupdate(net, gradients, ...), and keep its result in net.")
    _before = float(crossentropy(forward(_net0, _Xf), _Tf))
    _after = float(crossentropy(forward(_net1, _Xf), _Tf))
    check_true("the loss on a fixed batch", _after < _before - 0.05,
               f"training should lower the loss; it went from {_before:.4f} to {_after:.4f}.",
               hint="Pass the moving averages that adamupdate returned to the next call, under ONE name each.")
    ### BEGIN HIDDEN TESTS
    np.random.seed(5)
    _ref = dlnetwork(layers)
    _q = _smallQueue()
    _a = _b = None
    _it = 0
    for _e in range(2):
        shuffle(_q)
        while hasdata(_q):
            _it += 1
            _X, _T = next(_q)
            _l, _g = dlfeval(modelLoss, _ref, _X, _T)
            _ref, _a, _b = adamupdate(_ref, _g, _a, _b, _it)
    for _r1, _r2 in zip(_net1.Learnables, _ref.Learnables):
        assert np.allclose(extractdata(_r1.Value), extractdata(_r2.Value), rtol=1e-4, atol=1e-6), \
            f"{_r1.Layer}/{_r1.Parameter} differs from the reference Adam loop"
    ### END HIDDEN TESTS

# %% [markdown]
# ## 5. The four updaters
#
# MATLAB offers four functions to update the learnable parameters: three built-in rules — `adamupdate` (adaptive
# moment estimation), `rmspropupdate` (root-mean-square propagation), `sgdmupdate` (stochastic gradient descent with
# momentum) — and `dlupdate`, which applies **your own** function to every learnable parameter. All four work
# element by element, on any container of parameters — a `dlnetwork`, its `Learnables` table, a dictionary, a single
# array — and return a container of the same kind.
#
# Notation: $\theta$ a parameter, $g = \partial\,\text{loss}/\partial\theta$ its gradient on the current mini-batch,
# $\eta$ the learning rate (`learnRate`), $t$ the iteration number.
#
# | updater | call (Python; MATLAB has the same order) | state it keeps | MATLAB's defaults |
# |---|---|---|---|
# | `adamupdate` | `net, avgG, avgSqG = adamupdate(net, grad, avgG, avgSqG, iteration)` | `averageGrad`, `averageSqGrad` | `learnRate=0.001`, `gradDecay=0.9`, `sqGradDecay=0.999`, `epsilon=1e-8` |
# | `rmspropupdate` | `net, avgSqG = rmspropupdate(net, grad, avgSqG)` | `averageSqGrad` | `learnRate=0.001`, `sqGradDecay=0.9`, `epsilon=1e-8` |
# | `sgdmupdate` | `net, vel = sgdmupdate(net, grad, vel)` | `vel` (velocity) | `learnRate=0.01`, `momentum=0.9` |
# | `dlupdate` | `net = dlupdate(fun, net, grad)` | whatever `fun` returns | none: `fun` decides |
#
# The hyper-parameters follow the state, positionally in this order (`adamupdate(net, grad, avgG, avgSqG, iteration,
# learnRate, gradDecay, sqGradDecay, epsilon)`), or by name (`adamupdate(..., learnRate=0.01)`). Every state starts as
# `None` (MATLAB `[]`).
#
# ### 5.1 `adamupdate`
#
# Adam keeps a moving average $m$ of the gradients (the *first moment*, `averageGrad`) and one of the squared gradients
# $v$ (the *second moment*, `averageSqGrad`), and divides the one by the square root of the other, so every parameter
# gets a step of about $\eta$ whatever the size of its gradient. Both averages start at 0, which makes them too small
# in the first iterations; the factor $\alpha_t$ corrects this (*bias correction*) — and needs $t \ge 1$:
#
# $$m \leftarrow \beta_1 m + (1-\beta_1)\,g, \qquad v \leftarrow \beta_2 v + (1-\beta_2)\,g^2,$$
# $$\alpha_t = \eta\,\frac{\sqrt{1-\beta_2^{\,t}}}{1-\beta_1^{\,t}}, \qquad
# \theta \leftarrow \theta - \alpha_t\,\frac{m}{\sqrt{v} + \epsilon}$$
#
# with $\beta_1$ = `gradDecay`, $\beta_2$ = `sqGradDecay`. (This is how MATLAB computes it: $\epsilon$ is added to
# $\sqrt v$ *before* the bias correction. Textbooks and PyTorch add it after; the two differ only for gradients as tiny
# as $\epsilon$.)
#
# The example of MATLAB's documentation, checked by hand: parameters all equal, gradient 1 everywhere, first iteration,
# `learnRate=0.05, gradDecay=0.75, sqGradDecay=0.95`. Then $m = 0.25$, $v = 0.05$, and every parameter decreases by
# $0.05\cdot\frac{\sqrt{0.05}}{0.25}\cdot\frac{0.25}{\sqrt{0.05}+10^{-8}} \approx 0.04999999776$ — about the learning
# rate, as promised:

# %%
theta = np.full((3, 3, 4), 0.5)                  # float64 here, to see all the digits
g = np.ones((3, 3, 4))
thetaNew, m, v = adamupdate(theta, g, None, None, 1, 0.05, 0.75, 0.95)

t, lr, b1, b2, eps = 1, 0.05, 0.75, 0.95, 1e-8
mHand = (1 - b1) * 1.0
vHand = (1 - b2) * 1.0 ** 2
stepHand = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * mHand / (np.sqrt(vHand) + eps)
print(f"m = {m[0, 0, 0]:.4f}, v = {v[0, 0, 0]:.4f}")
print(f"decrease by adamupdate: {theta[0, 0, 0] - thetaNew[0, 0, 0]:.11f}")
print(f"decrease by hand:       {stepHand:.11f}")

# %% [markdown]
# ### 5.2 `rmspropupdate`
#
# RMSProp keeps only the moving average of the squared gradients and divides the gradient by its square root — no
# first moment, no bias correction:
#
# $$v \leftarrow \rho\, v + (1-\rho)\,g^2, \qquad \theta \leftarrow \theta - \eta\,\frac{g}{\sqrt{v} + \epsilon}$$
#
# with $\rho$ = `sqGradDecay` (default 0.9), $\eta$ = `learnRate` (default 0.001), $\epsilon$ = `epsilon`
# (default $10^{-8}$). Because $v$ starts at 0, the first step is large: $v = 0.1\,g^2$, so the step is
# $\eta / \sqrt{0.1} \approx 3.16\,\eta$ in the direction of $-\operatorname{sign}(g)$.
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td><pre>[net,averageSqGrad] = rmspropupdate(net,gradients,averageSqGrad,learnRate,sqGradDecay);</pre></td>
# <td><pre>net, averageSqGrad = rmspropupdate(net, gradients, averageSqGrad, learnRate, sqGradDecay)</pre></td></tr>
# </table>
#
# ### Exercise 3 (2 points) — one RMSProp step by hand
#
# Write `rmspropStep(theta, g, v, learnRate=0.001, sqGradDecay=0.9, epsilon=1e-8)` for NumPy arrays: one RMSProp step
# by the formula above, returning `theta_new, v_new`. On the first step `v` is an array of zeros. Do not change the
# arrays you are given (compute new ones). The test compares with `rmspropupdate`.

# %% nbgrader={"grade": false, "grade_id": "ex3_setup", "locked": true, "schema_version": 3, "solution": false}
ex3 = Exercise("ex3", "one RMSProp step by hand", hints=[
    "First the new moving average: v_new = sqGradDecay * v + (1 - sqGradDecay) * g ** 2",
    "Then the step with the NEW average: theta_new = theta - learnRate * g / (np.sqrt(v_new) + epsilon); "
    "return theta_new, v_new",
])


# %% nbgrader={"grade": false, "grade_id": "ex3_solution", "locked": false, "schema_version": 3, "solution": true}
def rmspropStep(theta, g, v, learnRate=0.001, sqGradDecay=0.9, epsilon=1e-8):
    ### BEGIN SOLUTION
    v_new = sqGradDecay * v + (1 - sqGradDecay) * g ** 2
    theta_new = theta - learnRate * g / (np.sqrt(v_new) + epsilon)
    return theta_new, v_new
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
with ex3:
    _rng = np.random.default_rng(11)
    _theta = _rng.standard_normal((4, 5)).astype(np.float32)
    _g1 = _rng.standard_normal((4, 5)).astype(np.float32)
    _g2 = _rng.standard_normal((4, 5)).astype(np.float32)
    _copies = (_theta.copy(), _g1.copy())
    _out = rmspropStep(_theta, _g1, np.zeros_like(_theta))
    check_true("rmspropStep's result", isinstance(_out, tuple) and len(_out) == 2,
               "rmspropStep should return two arrays: theta_new, v_new.", hint="return theta_new, v_new")
    _t1, _v1 = _out
    _rt1, _rv1 = rmspropupdate(_theta, _g1, None)
    check_close("v_new after the first step", _v1, _rv1, rtol=1e-5, atol=1e-9,
                hint="v_new = sqGradDecay * v + (1 - sqGradDecay) * g ** 2")
    check_close("theta_new after the first step", _t1, _rt1, rtol=1e-5, atol=1e-7,
                hint="theta_new = theta - learnRate * g / (np.sqrt(v_new) + epsilon), with the NEW average v_new.")
    _t2, _v2 = rmspropStep(_t1, _g2, _v1)
    _rt2, _rv2 = rmspropupdate(_rt1, _g2, _rv1)
    check_close("theta_new after a second step", _t2, _rt2, rtol=1e-5, atol=1e-7)
    _t3, _v3 = rmspropStep(_theta, _g1, _rv1, learnRate=0.05, sqGradDecay=0.95)
    _rt3, _rv3 = rmspropupdate(_theta, _g1, _rv1, 0.05, 0.95)
    check_close("theta_new with learnRate=0.05, sqGradDecay=0.95", _t3, _rt3, rtol=1e-5, atol=1e-7,
                hint="Use the arguments learnRate and sqGradDecay, not fixed numbers.")
    check_true("the inputs", np.array_equal(_theta, _copies[0]) and np.array_equal(_g1, _copies[1]),
               "rmspropStep changed theta or g in place; compute new arrays instead (theta_new = theta - ...).")
    ### BEGIN HIDDEN TESTS
    # hand numbers in float64: theta = 1, g = 0.5, v = 0 -> v = 0.025, theta = 1 - 0.001 * 0.5 / (sqrt(0.025) + 1e-8)
    _th, _vh = rmspropStep(np.array([1.0]), np.array([0.5]), np.array([0.0]))
    assert np.allclose(_vh, [0.025], rtol=1e-12), "v after one step of g = 0.5 should be 0.025"
    assert np.allclose(_th, [1 - 0.001 * 0.5 / (np.sqrt(0.025) + 1e-8)], rtol=1e-12), "theta after one step"
    # epsilon is used (outside the square root)
    _te, _ve = rmspropStep(np.array([0.0]), np.array([0.0]), np.array([0.0]), epsilon=0.5)
    assert np.allclose(_te, [0.0]) and np.allclose(_ve, [0.0]), "a zero gradient must not move theta"
    _tx, _ = rmspropStep(np.array([0.0]), np.array([1.0]), np.array([0.0]), learnRate=1.0, sqGradDecay=0.0,
                         epsilon=1.0)
    assert np.allclose(_tx, [-0.5]), "epsilon is added to sqrt(v): 1 / (sqrt(1) + 1) = 0.5"
    assert _t1.dtype == np.float32, "float32 in, float32 out"
    ### END HIDDEN TESTS

# %% [markdown]
# ### 5.3 `sgdmupdate`
#
# Stochastic gradient descent with momentum keeps a **velocity** $u$ (`vel`): a moving sum of past steps. Each
# iteration keeps the fraction $\mu$ (`momentum`) of it and adds the new gradient step:
#
# $$u \leftarrow \mu\, u - \eta\, g, \qquad \theta \leftarrow \theta + u$$
#
# (defaults $\eta$ = 0.01, $\mu$ = 0.9). In MATLAB's convention the velocity *is* the step, with its minus sign. Where the
# gradient keeps pointing the same way, the steps pile up: in the long run the step is
# $\eta\,g\,(1 + \mu + \mu^2 + \dots) = \eta\,g / (1-\mu)$, ten times $\eta\,g$ for $\mu = 0.9$. Where it changes sign,
# they cancel — momentum damps zig-zagging.

# %%
theta = np.array([1.0])
vel = None                                 # MATLAB: vel = [];
for k in range(1, 6):
    theta, vel = sgdmupdate(theta, np.array([1.0]), vel)      # the same gradient every time
    print(f"iteration {k}: vel = {vel[0]: .5f}   (hand: {-0.01 * sum(0.9 ** j for j in range(k)): .5f})")

# %% [markdown]
# ### 5.4 `dlupdate`: your own update rule
#
# `dlupdate(fun, params, A1, ..., An)` calls `fun(p, a1, ..., an)` for every learnable parameter `p`, together with the
# matching arrays of the other containers (the gradients, a state, ...), and returns a container like `params`. It is
# how you write any rule the three built-ins do not offer. The simplest is **plain stochastic gradient descent**,
# $\theta \leftarrow \theta - \eta\, g$:
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td><pre>updateFcn = @(parameters,gradients) parameters - learnRate .* gradients;
# net = dlupdate(updateFcn,net,gradients);</pre></td>
# <td><pre>updateFcn = lambda parameters, gradients: parameters - learnRate * gradients
# net = dlupdate(updateFcn, net, gradients)</pre></td></tr>
# </table>
#
# A Python `lambda` is MATLAB's anonymous function `@(...)`. A constant such as the learning rate is *captured* by the
# function, not passed to `dlupdate`: every extra argument of `dlupdate` must be a container with the structure of the
# parameters.

# %%
np.random.seed(0)
net = dlnetwork(layers)
shuffle(mbq)
X, T = next(mbq)
loss, gradients = dlfeval(modelLoss, net, X, T)

learnRateSGD = 0.1
netSGD = dlupdate(lambda w, g: w - learnRateSGD * g, net, gradients)

w0 = extractdata(net.Learnables.value("fc2", "Bias")).ravel()
w1 = extractdata(netSGD.Learnables.value("fc2", "Bias")).ravel()
g0 = extractdata(gradients.value("fc2", "Bias")).ravel()
print("fc2 Bias, first 3 values, before:", np.round(w0[:3], 5))
print("after dlupdate:                  ", np.round(w1[:3], 5))
print("w - learnRate * g by hand:       ", np.round(w0[:3] - learnRateSGD * g0[:3], 5))
print(f"loss on this mini-batch: {float(loss):.4f} before, {float(crossentropy(forward(netSGD, X), T)):.4f} after")

# %% [markdown]
# A function given to `dlupdate` may also return **several** values: then `dlupdate` returns several containers. That
# is how a rule with a state is written — MATLAB's example is SGD with momentum, `[net,vel] = dlupdate(@sgdmFunction,net,
# gradients,vel)`. The state container must exist from the first call on, with the structure of the parameters, so
# we start it as zeros — made with `dlupdate` as well:
#
# ```python
# vel = dlupdate(lambda w: np.zeros_like(w), net.Learnables)   # MATLAB: vel = dlupdate(@(w) zeros(size(w),"like",w), net.Learnables);
# net, vel = dlupdate(sgdmFunction, net, gradients, vel)
# ```
#
# (With a network, `dlupdate` returns the network first and the other outputs as tables with the rows of
# `net.Learnables`.)
#
# ### Exercise 4 (2 points) — SGD with momentum, written with `dlupdate`
#
# Write `sgdmFunction(w, g, vel, learnRate=0.01, momentum=0.9)` for **one** parameter array: it returns the updated
# parameter and the updated velocity, `w_new, vel_new`, by the rule of `sgdmupdate` (Section 5.3). Used through
# `dlupdate`, it must give the same numbers as `sgdmupdate`.

# %% nbgrader={"grade": false, "grade_id": "ex4_setup", "locked": true, "schema_version": 3, "solution": false}
ex4 = Exercise("ex4", "SGD with momentum as a dlupdate function", hints=[
    "Two lines: first the new velocity vel_new = momentum * vel - learnRate * g, then w_new = w + vel_new.",
    "Return both, the parameter first: return w_new, vel_new",
])


# %% nbgrader={"grade": false, "grade_id": "ex4_solution", "locked": false, "schema_version": 3, "solution": true}
def sgdmFunction(w, g, vel, learnRate=0.01, momentum=0.9):
    ### BEGIN SOLUTION
    vel = momentum * vel - learnRate * g
    w = w + vel
    return w, vel
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex4_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
with ex4:
    _rng = np.random.default_rng(4)
    _w = _rng.standard_normal(6).astype(np.float32)
    _g = _rng.standard_normal(6).astype(np.float32)
    _out = sgdmFunction(_w, _g, np.zeros_like(_w))
    check_true("sgdmFunction's result", isinstance(_out, tuple) and len(_out) == 2,
               "sgdmFunction should return two values: w_new, vel_new.", hint="return w_new, vel_new")
    check_close("vel_new after one step from vel = 0", _out[1], -0.01 * _g, rtol=1e-6, atol=1e-9,
                hint="vel_new = momentum * vel - learnRate * g: with vel = 0 it is -learnRate * g.")
    check_close("w_new after one step from vel = 0", _out[0], _w - 0.01 * _g, rtol=1e-6, atol=1e-9,
                hint="w_new = w + vel_new")
    # three steps through dlupdate on a parameter dictionary vs sgdmupdate
    _p = initializeParameters(seed=8)
    _pd, _vd = _p, dlupdate(lambda w: np.zeros_like(w), _p)
    _ps, _vs = _p, None
    for _k in range(3):
        _gr = {_l: {_n: dlarray(_rng.standard_normal(_a.shape).astype(np.float32)) for _n, _a in _d.items()}
               for _l, _d in _p.items()}
        _pd, _vd = dlupdate(sgdmFunction, _pd, _gr, _vd)
        _ps, _vs = sgdmupdate(_ps, _gr, _vs)
    check_structure("the parameters after dlupdate(sgdmFunction, ...)", _pd, _p)
    check_close("fc1 Weights after 3 steps: dlupdate(sgdmFunction) vs sgdmupdate",
                extractdata(_pd["fc1"]["Weights"]), extractdata(_ps["fc1"]["Weights"]), rtol=1e-5, atol=1e-7,
                hint="Keep the velocity from one step to the next: momentum * vel uses the vel passed in.")
    check_close("fc1 velocity after 3 steps", extractdata(_vd["fc1"]["Weights"]), extractdata(_vs["fc1"]["Weights"]),
                rtol=1e-5, atol=1e-8, hint="Return the NEW velocity as the second value.")
    ### BEGIN HIDDEN TESTS
    # hand formula in float64 with other hyper-parameters, several steps
    _wh = np.array([1.0, -2.0, 0.5])
    _uh = np.zeros(3)
    _wl, _ul = _wh.copy(), _uh.copy()
    for _gk in (np.array([0.3, -1.0, 2.0]), np.array([0.1, 0.2, -0.4]), np.array([-1.0, 0.0, 1.0])):
        _uh = 0.5 * _uh - 0.05 * _gk
        _wh = _wh + _uh
        _wl, _ul = sgdmFunction(_wl, _gk, _ul, 0.05, 0.5)
    assert np.allclose(_wl, _wh, rtol=1e-12) and np.allclose(_ul, _uh, rtol=1e-12), \
        "sgdmFunction differs from u = mu*u - lr*g; w = w + u"
    # float32 stays float32 with dlarrays, and the network form works
    _nw = dlnetwork(layers)
    _ng = dlupdate(lambda w: np.ones_like(w), _nw.Learnables)
    _nv = dlupdate(lambda w: np.zeros_like(w), _nw.Learnables)
    _n1, _v1 = dlupdate(sgdmFunction, _nw, _ng, _nv)
    _n2, _v2 = sgdmupdate(_nw, _ng, None)
    for _a, _b in zip(_n1.Learnables, _n2.Learnables):
        assert extractdata(_a.Value).dtype == np.float32, "float32 must stay float32"
        assert np.allclose(extractdata(_a.Value), extractdata(_b.Value), rtol=1e-6, atol=1e-8), "network form"
    ### END HIDDEN TESTS

# %% [markdown]
# Now the claim of the exercise on real training: ten iterations on the digits, once with `sgdmupdate` and once with
# `dlupdate(sgdmFunction, ...)`, from the same network and on the same mini-batches.

# %%
try:
    np.random.seed(0)
    netA = netB = dlnetwork(layers)
    velA = None                                               # sgdmupdate: [] / None on the first call
    velB = dlupdate(lambda w: np.zeros_like(w), netB.Learnables)   # dlupdate: a table of zeros
    shuffle(mbq)
    for k in range(10):
        X, T = next(mbq)
        _, gradA = dlfeval(modelLoss, netA, X, T)
        netA, velA = sgdmupdate(netA, gradA, velA)
        _, gradB = dlfeval(modelLoss, netB, X, T)
        netB, velB = dlupdate(sgdmFunction, netB, gradB, velB)
    biggest = max(float(np.max(np.abs(extractdata(a.Value) - extractdata(b.Value))))
                  for a, b in zip(netA.Learnables, netB.Learnables))
    print(f"largest difference between the two networks after 10 iterations: {biggest:.1e}")
    print("equal up to float32 rounding:", biggest < 1e-6)
except (NotImplementedError, NameError):
    print("(sgdmFunction of Exercise 4 is not written yet - the lesson goes on without it)")


# %% [markdown]
# #### Weight decay and gradient clipping: `dlupdate` on the gradients
#
# `dlupdate` is not only for the parameters. Applied to the **gradients**, before the updater, it modifies them:
#
# * **Weight decay (L2 regularisation).** Adding $\frac{\lambda}{2}\lVert\theta\rVert^2$ to the loss adds $\lambda\theta$ to
#   the gradient: $\;g \leftarrow g + \lambda\,\theta$. MATLAB's pattern: `gradients = dlupdate(@(g,w) g + l2Regularization*w,
#   gradients, parameters)`. (Updaters do not apply a layer's `L2Factor` themselves; MATLAB's examples often restrict
#   the decay to the weights, `idx = net.Learnables.Parameter == "Weights"` — the same boolean mask works on a `dlteach`
#   `Table`.)
# * **Gradient clipping.** A rare huge gradient can throw training far off. Rescale each gradient whose L2 norm exceeds a
#   threshold $\tau$: $\;g \leftarrow g \cdot \min\!\left(1, \tau / \lVert g\rVert_2\right)$ — MATLAB's example calls it
#   `thresholdL2Norm`.

# %%
def thresholdL2Norm(g, gradientThreshold):
    # rescale g to the L2 norm gradientThreshold if it is larger (MATLAB example of the same name)
    gradientNorm = float(np.sqrt(np.sum(extractdata(g) ** 2)))
    if gradientNorm > gradientThreshold:
        g = g * (gradientThreshold / gradientNorm)
    return g


l2Regularization = 1e-3
gradientThreshold = 0.5

parameters = initializeParameters()
shuffle(mbq)
X, T = next(mbq)
loss, gradients = dlfeval(modelLossFcn, parameters, X, T)

gradientsDecay = dlupdate(lambda g, w: g + l2Regularization * w, gradients, parameters)
gradientsClipped = dlupdate(lambda g: thresholdL2Norm(g, gradientThreshold), gradients)

diff = extractdata(gradientsDecay["fc1"]["Weights"]) - extractdata(gradients["fc1"]["Weights"])
print("weight decay adds lambda * w:",
      np.allclose(diff, l2Regularization * extractdata(parameters["fc1"]["Weights"]), atol=1e-8))
print("L2 norm of each gradient, before and after clipping:")
for layer in gradients:
    for name in gradients[layer]:
        before = np.linalg.norm(extractdata(gradients[layer][name]))
        after = np.linalg.norm(extractdata(gradientsClipped[layer][name]))
        print(f"  {layer}/{name:8s} {before:.4f} -> {after:.4f}")

# ... and then any updater uses the modified gradients, e.g.
parameters, vel = sgdmupdate(parameters, dlupdate(lambda g: thresholdL2Norm(g, gradientThreshold), gradientsDecay), None)

# %% [markdown]
# ### 5.5 The four updaters side by side
#
# Which rule trains fastest? We train four copies of the same initial network on the **same** mini-batches, one per
# updater, each with MATLAB's default learning rate (for plain SGD via `dlupdate` we use 0.01 as well), and record the
# four losses in one monitor. `groupSubPlot(monitor, "Loss", [...])` draws them in one subplot, one line per updater.
# (`yscale(monitor, "Loss", "log")` would switch that subplot to a logarithmic axis, as in the static figure below.)

# %%
# NBVAL_IGNORE_OUTPUT
updaterNames = ["Adam", "RMSProp", "SGDM", "SGD"]
learnRates = {"Adam": 0.001, "RMSProp": 0.001, "SGDM": 0.01, "SGD": 0.01}
numEpochsCompare = 2

np.random.seed(0)
net0 = dlnetwork(layers)
nets = {name: net0 for name in updaterNames}     # four copies of the same starting point
averageGrad = averageSqGrad = None               # Adam's state
averageSqGradRMS = None                          # RMSProp's state
vel = None                                       # SGDM's state
mbqCompare = minibatchqueue(XTrain, labelsTrain, MiniBatchSize=miniBatchSize, MiniBatchFcn=preprocessMiniBatch,
                            MiniBatchFormat=["SSCB", "CB"], seed=0)
numIterations = numEpochsCompare * numIterationsPerEpoch

monitor = trainingProgressMonitor(Metrics=updaterNames, Info=["Epoch"], XLabel="Iteration")
groupSubPlot(monitor, "Loss", updaterNames)

epoch = 0
iteration = 0
while epoch < numEpochsCompare and not monitor.Stop:
    epoch += 1
    shuffle(mbqCompare)
    while hasdata(mbqCompare) and not monitor.Stop:
        iteration += 1
        X, T = next(mbqCompare)
        losses = {}
        for name in updaterNames:
            loss, gradients = dlfeval(modelLoss, nets[name], X, T)
            losses[name] = loss
            lr = learnRates[name]
            if name == "Adam":
                nets[name], averageGrad, averageSqGrad = adamupdate(nets[name], gradients, averageGrad, averageSqGrad,
                                                                    iteration, lr)
            elif name == "RMSProp":
                nets[name], averageSqGradRMS = rmspropupdate(nets[name], gradients, averageSqGradRMS, lr)
            elif name == "SGDM":
                nets[name], vel = sgdmupdate(nets[name], gradients, vel, lr)
            else:
                nets[name] = dlupdate(lambda w, g: w - lr * g, nets[name], gradients)
        recordMetrics(monitor, iteration, **losses)          # MATLAB: recordMetrics(monitor,iteration,Adam=...,...)
        updateInfo(monitor, Epoch=f"{epoch} of {numEpochsCompare}")
        monitor.Progress = 100 * iteration / numIterations
print(f"{iteration} iterations for each of {len(updaterNames)} updaters")

# %% [markdown]
# The same curves as a static figure (mini-batch losses are noisy, so we also draw a moving average over 8 iterations),
# and the test accuracies:

# %%
# NBVAL_IGNORE_OUTPUT
data = monitor.MetricData
fig, ax = plt.subplots(figsize=(8, 4.2))
colors = {"Adam": "tab:blue", "RMSProp": "tab:orange", "SGDM": "tab:green", "SGD": "tab:red"}
for name in updaterNames:
    steps, values = data[name][:, 0], data[name][:, 1]
    ax.plot(steps, values, color=colors[name], alpha=0.25, lw=1)
    smooth = np.convolve(values, np.ones(8) / 8, mode="valid")
    ax.plot(steps[7:], smooth, color=colors[name], lw=2, label=f"{name} (learnRate {learnRates[name]})")
ax.set_yscale("log")
ax.set_xlabel("Iteration")
ax.set_ylabel("mini-batch cross-entropy loss (log scale)")
ax.set_title("Four updaters, same network, same mini-batches")
ax.legend(title="updater (thick: moving average of 8)")
plt.tight_layout()
plt.show()

# %%
print(f"{'updater':8s} {'learnRate':>9s} {'mean loss, last 8 iterations':>29s} {'test accuracy':>14s}")
for name in updaterNames:
    values = monitor.MetricData[name][:, 1]
    print(f"{name:8s} {learnRates[name]:9.3f} {np.mean(values[-8:]):29.3f} {testAccuracy(nets[name]):14.3f}")


# %% [markdown]
# What to read from it:
#
# * **Adam and RMSProp** take steps of about the learning rate for *every* parameter, whatever the size of its
#   gradient, so they make fast progress from the start with no tuning. RMSProp's first steps are even ~3× larger
#   (Section 5.2).
# * **SGD with momentum** starts like plain SGD and speeds up as the velocity builds up (up to 10× the plain step for
#   momentum 0.9).
# * **Plain SGD** with learning rate 0.01 is clearly the slowest here: its step is proportional to the gradient, which is
#   small for most weights. A larger learning rate would help — which leads to the next section.
#
# Two epochs is a short race: the ranking after many epochs can differ, and each rule has its best learning rate.

# %% [markdown]
# ## 6. Exploring the learning rate
#
# The learning rate is the hyper-parameter that matters most. Too small, and the loss creeps down; too large, and the
# steps overshoot — the loss jumps up and may never recover. We train the same network with Adam for 40 iterations at
# several learning rates and overlay the loss curves.

# %%
def trainAdamShort(learnRate, numIterations=40):
    # the same starting network and the same mini-batches for every learning rate
    np.random.seed(0)
    net = dlnetwork(layers)
    queue = minibatchqueue(XTrain, labelsTrain, MiniBatchSize=miniBatchSize, MiniBatchFcn=preprocessMiniBatch,
                           MiniBatchFormat=["SSCB", "CB"], seed=0)
    averageGrad = averageSqGrad = None
    losses = []
    iteration = 0
    shuffle(queue)
    while iteration < numIterations:
        if not hasdata(queue):
            shuffle(queue)
        iteration += 1
        X, T = next(queue)
        loss, gradients = dlfeval(modelLoss, net, X, T)
        net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, iteration, learnRate)
        losses.append(float(loss))
    return losses


def plotLearnRates(curves, current=None):
    # one line per learning rate; the current one thick
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for lr in sorted(curves):
        ax.plot(np.arange(1, len(curves[lr]) + 1), curves[lr], lw=3 if lr == current else 1.2,
                label=f"learnRate = {lr:g}")
    ax.set_yscale("log")
    ax.set_xlabel("Iteration")
    ax.set_ylabel("mini-batch loss (log scale)")
    ax.set_title("Adam at different learning rates")
    ax.legend(fontsize=8, loc="upper right")
    plt.tight_layout()
    return fig


lrCurves = {lr: trainAdamShort(lr) for lr in (1e-4, 1e-3, 1e-2, 1e-1)}
for lr, curve in lrCurves.items():
    print(f"learnRate = {lr:<7g} loss after 1 iteration {curve[0]:.3f}, mean of the last 10: {np.mean(curve[-10:]):.3f}")

# %%
# NBVAL_IGNORE_OUTPUT
fig = plotLearnRates(lrCurves, current=1e-3)
plt.show()

# %% [markdown]
# * $10^{-4}$: every step is tiny; after 40 iterations the loss has hardly moved.
# * $10^{-3}$ (Adam's default) and $10^{-2}$: steady progress; here $10^{-2}$ is even faster.
# * $10^{-1}$: the first step overshoots — the loss jumps far *above* its starting value — and training spends the
#   following iterations recovering.
#
# **Try it yourself.** Move the slider: the network is trained with the chosen learning rate (about half a second) and
# its curve is added to the figure. (The slider needs a live notebook — JupyterLab, Notebook 7, VS Code. In a static
# view of the notebook you only see the figure above.)

# %%
# NBVAL_IGNORE_OUTPUT
slider = widgets.SelectionSlider(options=[1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1], value=1e-3,
                                 description="learnRate", continuous_update=False,
                                 layout=widgets.Layout(width="450px"))
display(slider)
figureHandle = display(plotLearnRates(lrCurves, current=slider.value), display_id=True)
plt.close("all")


def onLearnRateChange(change):
    lr = change["new"]
    if lr not in lrCurves:
        lrCurves[lr] = trainAdamShort(lr)
    fig = plotLearnRates(lrCurves, current=lr)
    figureHandle.update(fig)
    plt.close(fig)


slider.observe(onLearnRateChange, names="value")

# %% [markdown]
# ## 7. MATLAB ↔ Python, side by side
#
# | | MATLAB | Python (dlteach) |
# |---|---|---|
# | mini-batch queue | `mbq = minibatchqueue(ds,MiniBatchSize=128,MiniBatchFcn=@f,MiniBatchFormat=["SSCB" "CB"])` | `mbq = minibatchqueue(X, labels, MiniBatchSize=128, MiniBatchFcn=f, MiniBatchFormat=["SSCB", "CB"], seed=0)` |
# | preprocessing function | `function [X,T] = f(dataX,dataT)` (cell arrays) | `def f(X, labels): ... return X, T` (arrays, observations last) |
# | one-hot targets | `T = onehotencode(labels,1)` | `T = onehotencode(labels, 1, ClassNames=classes)` |
# | reproducible shuffling | `rng(0)` | `minibatchqueue(..., seed=0)` (or `np.random.seed(0)`) |
# | new epoch | `shuffle(mbq)` | `shuffle(mbq)` |
# | mini-batches of an epoch | `while hasdata(mbq)` | `while hasdata(mbq):` |
# | next mini-batch | `[X,T] = next(mbq);` | `X, T = next(mbq)` |
# | loop over epochs | `for epoch = 1:numEpochs` | `for epoch in range(1, numEpochs + 1):` |
# | iteration counter | `iteration = 0;` … `iteration = iteration + 1;` | `iteration = 0` … `iteration += 1` (before the update) |
# | empty state | `averageGrad = [];` | `averageGrad = None` |
# | loss and gradients | `[loss,gradients] = dlfeval(@modelLoss,net,X,T);` | `loss, gradients = dlfeval(modelLoss, net, X, T)` |
# | Adam | `[net,avgG,avgSqG] = adamupdate(net,gradients,avgG,avgSqG,iteration);` | `net, avgG, avgSqG = adamupdate(net, gradients, avgG, avgSqG, iteration)` |
# | RMSProp | `[net,avgSqG] = rmspropupdate(net,gradients,avgSqG);` | `net, avgSqG = rmspropupdate(net, gradients, avgSqG)` |
# | SGD with momentum | `[net,vel] = sgdmupdate(net,gradients,vel);` | `net, vel = sgdmupdate(net, gradients, vel)` |
# | custom rule | `net = dlupdate(@(w,g) w - lr*g,net,gradients);` | `net = dlupdate(lambda w, g: w - lr * g, net, gradients)` |
# | custom rule with state | `[net,vel] = dlupdate(@sgdmFunction,net,gradients,vel);` | `net, vel = dlupdate(sgdmFunction, net, gradients, vel)` |
# | model-function form | `[parameters,avgG,avgSqG] = adamupdate(parameters,...)` | `parameters, avgG, avgSqG = adamupdate(parameters, ...)` |
# | monitor | `monitor = trainingProgressMonitor(Metrics="Loss",Info="Epoch",XLabel="Iteration");` | `monitor = trainingProgressMonitor(Metrics=["Loss"], Info=["Epoch"], XLabel="Iteration")` |
# | record / info / progress | `recordMetrics(monitor,iteration,Loss=loss);` `updateInfo(monitor,Epoch=...);` `monitor.Progress = ...;` | `recordMetrics(monitor, iteration, Loss=loss)` `updateInfo(monitor, Epoch=...)` `monitor.Progress = ...` |
# | Stop button | `while epoch < numEpochs && ~monitor.Stop` | `while epoch < numEpochs and not monitor.Stop:` |
# | several lines in one plot | `groupSubPlot(monitor,"Loss",["Adam" "SGDM"])` | `groupSubPlot(monitor, "Loss", ["Adam", "SGDM"])` |
# | test predictions | `scores = predict(net,XTest); YPred = onehotdecode(scores,classes,1);` | `scores = predict(net, XTest); YPred = onehotdecode(scores, classes, 1)` |

# %% [markdown] nbgrader={"grade": false, "grade_id": "summary", "locked": true, "schema_version": 3, "solution": false}
# ## 8. Summary
#
# * A custom training loop = an **iteration counter** starting at 0, a loop over **epochs** (`shuffle(mbq)` at the start
#   of each), a loop over **mini-batches** (`while hasdata(mbq)`), and per mini-batch: increment the counter, `next(mbq)`,
#   `dlfeval(modelLoss, ...)`, an **updater**. The counter is incremented *before* the update: `adamupdate` needs
#   `iteration` ≥ 1.
# * `minibatchqueue` prepares the mini-batches: `MiniBatchSize`, a `MiniBatchFcn` (e.g. one-hot targets),
#   `MiniBatchFormat`, and a `seed` for reproducible shuffling.
# * **Both forms** use the same loop: `net` with `modelLoss(net, X, T)` and `predict` for the test set, or the dictionary
#   `parameters` with `modelLossFcn(parameters, X, T)` and the model function. The updater gets **the object that was
#   evaluated** and returns its new version, which you assign back.
# * **Updaters:** `adamupdate` ($m$, $v$, bias correction; 0.001, 0.9, 0.999, 1e-8), `rmspropupdate` ($v$; 0.001, 0.9,
#   1e-8), `sgdmupdate` (velocity $u \leftarrow \mu u - \eta g$; 0.01, 0.9), and `dlupdate(fun, ...)` for any rule of your
#   own — plain SGD, SGD with momentum (equal to `sgdmupdate`), or a change of the gradients such as weight decay and
#   gradient clipping. States start as `None` (MATLAB `[]`) and are passed back in on every call.
# * The MATLAB page's snippet evaluates `net` but updates `parameters`, and spells the squared average two ways: update
#   the object you evaluate, with one name per state. A loop that updates a copy runs without error and never learns.
# * `trainingProgressMonitor` shows the loss live; test `monitor.Stop` in both loop conditions so the Stop button ends
#   training cleanly.
# * The learning rate decides between crawling and overshooting: always look at the loss curve.
#
# **Next.** Lesson 04 — *debugging the model loss function*: what to do when `dlfeval` throws, or when training runs
# but the loss does not behave.
