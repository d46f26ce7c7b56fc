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
# 1. feed a training loop with mini-batches from a `minibatchqueue` (size, what happens to the last mini-batch,
#    format, a preprocessing function that scales the images and builds one-hot targets, shuffling with a seed);
# 2. write the complete custom training loop — epochs, mini-batches, the iteration counter, `dlfeval`, an updater — in
#    both styles: for a `dlnetwork` and for a model function with a dictionary of parameters; and measure the test
#    accuracy with `predict`;
# 3. watch training live in a `trainingProgressMonitor`, record your own metrics, and stop it with its Stop button;
# 4. state the update rule and MATLAB's default hyper-parameters of `adamupdate`, `rmspropupdate` and `sgdmupdate`, and
#    write your own update rule — plain SGD, SGD with momentum, weight decay, gradient clipping — with `dlupdate`;
# 5. find the two mistakes in the training-loop snippet of the MATLAB page itself;
# 6. explore how the learning rate changes training — and why the right one depends on the network.
#
# **Time:** about 60 minutes. **Builds on:** lesson 01 (model loss functions, `dlfeval`, `dlgradient`, `dlnetwork`,
# the model-function form). MATLAB is *not* required: MATLAB code is shown next to the Python for those who know it.
#
# **How the exercises work.** There are seven graded exercises (15 points, most of them in several separately graded
# parts) and two written questions (4 points, graded by your teacher). In an exercise cell, write your answer where it
# says `# YOUR CODE HERE` (replacing the blank `____`) and run the cell; then run the *check cell* below it, which holds
# one line such as `ex1.check("a")`. You get a green **Correct** that says what was checked, or one box that says what is
# wrong. Grading runs the same checks and the same requirements again on other inputs (other seeds, sizes, learning
# rates), so an answer that only fits the visible example does not pass. Stuck? `ex1.hint()` explains the idea,
# `ex1.hint(2)` says where to look, `ex1.hint(3)` gives part of the code; `ex1.solution()` shows a full solution
# (if your teacher has not switched solutions off).
#
# **Run All** (menu *Run → Run All Cells*) goes through the whole lesson even with no exercise solved: an unsolved
# check shows a blue "not attempted yet" box and the lesson goes on; cells that use your answers say so and continue.
#
# **Run the cells in order, from the top.**

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import math
import numpy as np
import matplotlib.pyplot as plt
import ipywidgets as widgets
from IPython.display import display

from dlteach import (dlarray, dims, extractdata, dlfeval, dlgradient,                 # arrays and autodiff
                     dlnetwork, forward, predict,                                      # network-object style
                     imageInputLayer, fullyConnectedLayer, reluLayer, softmaxLayer,    # layers
                     fullyconnect, relu, softmax, crossentropy,                        # model-function style
                     onehotencode, onehotdecode,
                     adamupdate, rmspropupdate, sgdmupdate, dlupdate,                  # the four updaters
                     minibatchqueue, hasdata, shuffle,                                 # mini-batches
                     trainingProgressMonitor, recordMetrics, updateInfo, groupSubPlot,  # monitor
                     load_digits)
from dlteach.errors import StructureMismatchError, UpdaterArgumentError
from dlteach.exercises.lesson03 import ex1, ex2, ex3, ex4, ex5, ex6, ex7, ____   # the exercises' checks

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
# * `PartialMiniBatch` — what happens to the last mini-batch of an epoch when the number of observations is not a
#   multiple of `MiniBatchSize`: `"return"` (MATLAB's default) hands it out, smaller; `"discard"` drops it, so that
#   every mini-batch has the same size;
# * `MiniBatchFcn` — a *preprocessing function* that receives the raw slices of a mini-batch and returns the arrays the
#   loop needs. Ours turns the digit labels (0…9) into **one-hot targets**, 10 × N (the `"CB"` layout of lesson 01).
#   The queue then converts every output to `single` (float32: `OutputCast`, MATLAB's default) and to a `dlarray`;
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
# ### Exercise 1 (2 points, two graded parts) — a queue for raw images
#
# Image files store pixels as whole numbers from 0 to 255 (`uint8`); `load_digits` scaled them to [0, 1] for us.
# `XTrainRaw` below holds the same 4,000 training images as they come from the files. Write
# `makeQueue(XRaw, labels, miniBatchSize, seed)` that returns a `minibatchqueue` whose `next` gives `X, T` with
#
# * **(a)** every mini-batch exactly `miniBatchSize` images — no smaller last one; `X` a `"SSCB"` float32 `dlarray` of
#   images scaled to [0, 1]; `T` a `"CB"` float32 `dlarray` of one-hot targets, 10 × `miniBatchSize`;
# * **(b)** column *j* of `T` the target of image *j* of `X`, with one row per digit 0…9 **even if a digit is missing
#   from the data**; the order of the mini-batches after `shuffle` decided by `seed` alone.
#
# Nothing in the lesson scales images yet: decide where that belongs. The check uses 600 images in mini-batches of
# 128; grading also uses other numbers of images, sizes and seeds.

# %%
XTrainRaw = np.round(XTrain * 255).astype(np.uint8)     # the images as stored in image files
print("XTrainRaw:", XTrainRaw.shape, XTrainRaw.dtype, "values", XTrainRaw.min(), "...", XTrainRaw.max())


# %% nbgrader={"grade": false, "grade_id": "ex1_answer", "locked": false, "schema_version": 3, "solution": true}
def makeQueue(XRaw, labels, miniBatchSize, seed):
    ### BEGIN SOLUTION
    def preprocess(X, labels):
        return X / 255, onehotencode(labels, 1, ClassNames=classes)

    return minibatchqueue(XRaw, labels, MiniBatchSize=miniBatchSize, PartialMiniBatch="discard",
                          MiniBatchFcn=preprocess, MiniBatchFormat=["SSCB", "CB"], seed=seed)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1_a", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex1.check("a")
### BEGIN HIDDEN TESTS
ex1.check("a", seed=1)
ex1.check("a", seed=2)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex1_b", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex1.check("b")
### BEGIN HIDDEN TESTS
ex1.check("b", seed=1)
ex1.check("b", seed=2)
### END HIDDEN TESTS

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
# ### Exercise 2 (3 points, three graded parts) — the training loop, model-function form
#
# Write `trainModelFunction(parameters, mbq, numEpochs, learnRate=0.001)`. It trains the model function with
# `adamupdate` and returns `parameters, lossHistory`:
#
# * `parameters` — the trained parameters (a dictionary like the one passed in);
# * `lossHistory` — a list with the loss of every iteration, as Python floats (`float(loss)`), in order.
#
# The three parts are graded separately:
#
# * **(a) it trains:** two values returned, one loss per iteration, float32 parameters that changed, a lower loss on
#   images it did not train on;
# * **(b) over several epochs** it gives the same losses and parameters as the loop of Section 2 (with `shuffle(mbq)`
#   at the start of every epoch): the iteration counter and the moving averages must carry over from one epoch to
#   the next;
# * **(c) the learning rate:** `trainModelFunction(..., learnRate=0.01)` really trains with 0.01.
#
# The checks train fresh parameters on 640 images (5 mini-batches per epoch); grading also uses other seeds, numbers
# of images, epochs and learning rates.

# %% nbgrader={"grade": false, "grade_id": "ex2_answer", "locked": false, "schema_version": 3, "solution": true}
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


# %% nbgrader={"grade": true, "grade_id": "ex2_a", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex2.check("a")
### BEGIN HIDDEN TESTS
ex2.check("a", seed=1)
ex2.check("a", seed=2)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex2_b", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex2.check("b")
### BEGIN HIDDEN TESTS
ex2.check("b", seed=1)
ex2.check("b", seed=2)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex2_c", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex2.check("c")
### BEGIN HIDDEN TESTS
ex2.check("c", seed=1)
ex2.check("c", seed=2)
### END HIDDEN TESTS

# %% [markdown]
# Now train the model function on all the training data, as we trained the network (this cell uses your
# `trainModelFunction`; until Exercise 2 is solved it says so and the lesson goes on):

# %%
if ex2.solved:
    parametersTrained, lossHistoryFcn = trainModelFunction(initializeParameters(), mbq, numEpochs, learnRate)
    print(f"{len(lossHistoryFcn)} iterations; mean loss of the last 10: {np.mean(lossHistoryFcn[-10:]):.4f}")
    print(f"test accuracy of the trained model function: {modelAccuracy(parametersTrained):.3f}")
else:
    print("(trainModelFunction of Exercise 2 is not solved yet - the lesson goes on without it)")

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
# **Click Stop.** In JupyterLab (or Notebook 7, VS Code) the cell below trains for up to 100 epochs — about 10–30
# seconds — so that you have time to click **Stop** on the live plot; the loop then ends after the current iteration.
# When the notebook runs without a front end (a grader, nbval, `nbconvert`) nobody can click: the monitor says so
# (`monitor.frontend` is then `"headless"` or `"none"` instead of `"widget"`), the cell trains the lesson's
# `numEpochs` = 2 epochs, and the monitor shows one static figure at the end.

# %%
# NBVAL_IGNORE_OUTPUT
np.random.seed(0)
net = dlnetwork(layers)                                   # a fresh network
monitor = trainingProgressMonitor(Metrics=["Loss"], Info=["Epoch", "LearnRate"], XLabel="Iteration")
updateInfo(monitor, LearnRate=learnRate)

# Someone watching the live plot? Then train long enough to click Stop; otherwise the lesson's numEpochs.
numEpochsWatched = 100 if monitor.frontend == "widget" else numEpochs
numIterationsPerEpoch = math.ceil(XTrain.shape[-1] / miniBatchSize)
numIterations = numEpochsWatched * numIterationsPerEpoch

averageGrad = None
averageSqGrad = None
epoch = 0
iteration = 0
while epoch < numEpochsWatched and not monitor.Stop:
    epoch += 1
    shuffle(mbq)
    while hasdata(mbq) and not monitor.Stop:
        iteration += 1
        X, T = next(mbq)
        loss, gradients = dlfeval(modelLoss, net, X, T)
        net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, iteration,
                                                     learnRate)
        recordMetrics(monitor, iteration, Loss=loss)
        updateInfo(monitor, Epoch=f"{epoch} of {numEpochsWatched}")
        monitor.Progress = 100 * iteration / numIterations

monitor.Status = "Stopped" if monitor.Stop else "Training complete"
print(f"{monitor.Status} after {iteration} of {numIterations} iterations (epoch {epoch} of {numEpochsWatched}); "
      f"monitor.Stop = {monitor.Stop}")

# %% [markdown]
# The recorded values stay available after the loop, in `monitor.MetricData`: for every metric an array with one row
# `[step, value]` per call of `recordMetrics`. (If you clicked Stop, there are fewer rows.)

# %%
# NBVAL_IGNORE_OUTPUT
lossData = monitor.MetricData["Loss"]
print("MetricData['Loss']:", lossData.shape, "- first row [iteration, loss]:", np.round(lossData[0], 4))
print(f"test accuracy after {iteration} iterations: {testAccuracy(net):.3f}")

# %% [markdown]
# ### Exercise 3 (2 points, two graded parts) — a monitored loop with your own metric
#
# The loss alone does not say how many digits the model gets right. Write
# `trainMonitored(parameters, mbq, numEpochs, monitor, learnRate=0.001)`: the loop of Exercise 2 (model-function form,
# `adamupdate`) under a monitor that the caller creates with
# `trainingProgressMonitor(Metrics=["Loss", "Accuracy"], Info=["Epoch"])`. It returns `parameters, iteration`
# (the number of iterations done), and
#
# * **(a)** at every iteration records `Loss` and `Accuracy` at step `iteration`, where `Accuracy` is the fraction of
#   the mini-batch's images whose predicted digit (the largest of the 10 outputs) is the target digit — computed from
#   **the same forward pass** as the loss, before the update;
# * **(b)** ends right after the iteration in which `monitor.Stop` became `True` — in the middle of an epoch as well as
#   at its end (then without starting another epoch).
#
# `modelLossFcn` returns only the loss and the gradients: write `modelLossAcc` too — what must it return so that the
# loop can compute the accuracy? The checks use a monitor whose Stop "button" is clicked by the check itself; grading
# also uses other seeds, numbers of images and epochs.

# %% nbgrader={"grade": false, "grade_id": "ex3_answer", "locked": false, "schema_version": 3, "solution": true}
def modelLossAcc(parameters, X, T):
    # the model loss function, with an extra output for the accuracy
    ### BEGIN SOLUTION
    Y = model(parameters, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, parameters)
    return loss, gradients, Y
    ### END SOLUTION


def trainMonitored(parameters, mbq, numEpochs, monitor, learnRate=0.001):
    ### BEGIN SOLUTION
    averageGrad = None
    averageSqGrad = None
    iteration = 0
    epoch = 0
    while epoch < numEpochs and not monitor.Stop:
        epoch += 1
        shuffle(mbq)
        while hasdata(mbq) and not monitor.Stop:
            iteration += 1
            X, T = next(mbq)
            loss, gradients, Y = dlfeval(modelLossAcc, parameters, X, T)
            accuracy = np.mean(onehotdecode(Y, classes, 1) == onehotdecode(T, classes, 1))
            parameters, averageGrad, averageSqGrad = adamupdate(parameters, gradients, averageGrad, averageSqGrad,
                                                                iteration, learnRate)
            recordMetrics(monitor, iteration, Loss=loss, Accuracy=accuracy)
            updateInfo(monitor, Epoch=f"{epoch} of {numEpochs}")
    return parameters, iteration
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3_a", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex3.check("a")
### BEGIN HIDDEN TESTS
ex3.check("a", seed=1)
ex3.check("a", seed=2)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex3_b", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex3.check("b")
### BEGIN HIDDEN TESTS
ex3.check("b", seed=1)
ex3.check("b", seed=2)
### END HIDDEN TESTS

# %% [markdown]
# Your monitored loop on all the training data, with the loss and the accuracy side by side (until Exercise 3 is
# solved the cell says so and the lesson goes on):

# %%
# NBVAL_IGNORE_OUTPUT
if ex3.solved:
    monitorAcc = trainingProgressMonitor(Metrics=["Loss", "Accuracy"], Info=["Epoch"], XLabel="Iteration")
    parametersMonitored, iterationsDone = trainMonitored(initializeParameters(), mbq, numEpochs, monitorAcc)
    monitorAcc.Status = "Stopped" if monitorAcc.Stop else "Training complete"
    accData = monitorAcc.MetricData["Accuracy"]
    print(f"{iterationsDone} iterations; mini-batch accuracy of the last 10: {np.mean(accData[-10:, 1]):.3f}")
else:
    print("(trainMonitored of Exercise 3 is not solved yet - the lesson goes on without it)")

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
# ### Exercise 4 (1 point) — which two?
#
# Which **two** of these statements describe real mistakes of the snippet? Store the two letters as a set, e.g.
# `seed_mistakes = {"A", "E"}`. Decide before you run the snippet below — then let it confirm your answer.
#
# * **A** — The counter starts at `iteration = 0`, but `adamupdate` needs an iteration of at least 1.
# * **B** — The loss and the gradients are evaluated for `net`, but `adamupdate` updates `parameters`.
# * **C** — `dlfeval` must be given `modelLoss(net, X, T)`, with parentheses, not `modelLoss`.
# * **D** — The moving average of the squared gradients is called `trailingAvgSq` in one place and `trailingAverageSq`
#   in another.
# * **E** — The moving averages `trailingAvg` and `trailingAvgSq` must start as arrays of zeros the size of the
#   parameters, not as empty `[]` / `None`.

# %% nbgrader={"grade": false, "grade_id": "ex4_answer", "locked": false, "schema_version": 3, "solution": true}
# seed_mistakes = {"?", "?"}
### BEGIN SOLUTION
seed_mistakes = {"B", "D"}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex4_tests", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex4.check()

# %% [markdown]
# Run the snippet (on our data; `parameters` is the dictionary of Section 2b). Python stops at the first
# mistake it meets — and which one that is depends on the order in which Python evaluates the arguments:

# %%
# The snippet, transliterated - mistakes included. It fails: we catch the error and print it, so that Run All goes on.
np.random.seed(0)
net = dlnetwork(layers)
trailingAvg = None
trailingAvgSq = None
shuffle(mbq)

try:
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
except Exception as err:
    print(f"iteration {iteration}: {type(err).__name__}: {err}")

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
# with $\beta_1$ = `gradDecay`, $\beta_2$ = `sqGradDecay`. This is how MATLAB computes it: $\epsilon$ is added to
# $\sqrt v$ *before* the bias correction. Textbooks and PyTorch correct first, $\hat m = m/(1-\beta_1^t)$,
# $\hat v = v/(1-\beta_2^t)$, and then add $\epsilon$ to $\sqrt{\hat v}$. Rewritten in the textbook's form, MATLAB's
# rule uses $\epsilon/\sqrt{1-\beta_2^{\,t}}$ in place of $\epsilon$: with the default $\beta_2 = 0.999$ that is
# $32\,\epsilon$ at iteration 1, $10\,\epsilon$ at iteration 10, and only $1.26\,\epsilon$ at iteration 1000. So the two
# differ for gradients far larger than $\epsilon$ early in training. The next cell measures it: the ratio of MATLAB's
# step to the textbook step, for a gradient that stays the same at every iteration.
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

# %%
def adamStepRatio(gradient, t):
    # t Adam steps with the same gradient; MATLAB's last step divided by the textbook (PyTorch) step
    theta, m, v = np.zeros(1), None, None
    for k in range(1, t + 1):
        previous = theta
        theta, m, v = adamupdate(theta, np.array([gradient]), m, v, k)      # MATLAB's rule, float64
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.001
    textbook = lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return float((previous - theta)[0] / textbook[0])


gradientSizes = [1e-3, 1e-4, 1e-5, 1e-6, 1e-7]
print("MATLAB step / textbook step, same gradient at every iteration (default hyper-parameters)")
print("gradient:     " + "".join(f"{g_:>9.0e}" for g_ in gradientSizes))
for t in (1, 10, 100, 1000):
    print(f"iteration {t:<4d}" + "".join(f"{adamStepRatio(g_, t):9.3f}" for g_ in gradientSizes))

# %% [markdown]
# At iteration 1 a gradient of $10^{-6}$ — a hundred times $\epsilon$ — gets only 0.77 of the textbook step, and
# $10^{-7}$ a quarter of it; by iteration 1000 the two rules agree to within 3 % down to $10^{-7}$. Both rules are
# correct Adam variants; what matters is that a port from PyTorch to MATLAB (or back) does not give *identical*
# numbers in the first iterations when some gradients are small, and `dlteach` follows MATLAB.
#
# **Written question W1 (2 points).** A classmate's loop sets `iteration = 0` at the start of **every epoch** instead
# of once before the epoch loop (the mistake that part (b) of Exercise 2 catches). It runs without an error, and the
# loss still falls. Explain with the factor $\sqrt{1-\beta_2^{\,t}}\,/\,(1-\beta_1^{\,t})$ of $\alpha_t$ what the factor
# is there for (what does it compensate in $m$ and $v$?), what goes wrong with the size of Adam's steps in the epochs
# after the first, and what that does to training. Numbers for the defaults: the factor is 0.32 at $t = 1$, 0.15 at
# $t = 10$, 0.18 at $t = 31$, 0.25 at $t = 64$ and 0.80 at $t = 1000$; our epochs have 32 iterations.

# %% [markdown] nbgrader={"grade": true, "grade_id": "w1_answer", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# *Model answer (for the grader).* $m$ and $v$ start at 0, so in the first iterations they are too small:
# $m \approx (1-\beta_1^t)\,g$ and $\sqrt v \approx \sqrt{1-\beta_2^t}\,|g|$. The factor undoes exactly this, so that
# with the right $t$ every step is about $\eta$. After a reset, $m$ and $v$ keep their grown values but $t$ starts
# again at 1: the factor no longer matches them. The first step of an epoch is too large (at epoch 2: 0.32 instead of
# about 0.19, 1.7 times the intended step), the following ones too small (0.15–0.18 instead of 0.19–0.25, and later
# in training 0.15–0.32 instead of about 0.8: steps 3–5 times too small). Training becomes slower and jerks at the
# start of every epoch, with no error. (Measured with a constant gradient: step ratios 1.7 and 0.74 in epoch 2, 0.2–0.4
# by epoch 30.) Full marks: what the factor compensates (1 point) and that the steps no longer fit — too large at the
# start of an epoch and/or too small afterwards — so training is slowed (1 point).
# ### END SOLUTION

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
# ### Exercise 5 (2 points, two graded parts) — one RMSProp step by hand
#
# Write `rmspropStep(theta, g, v, learnRate=0.001, sqGradDecay=0.9, epsilon=1e-8)` for NumPy arrays: one RMSProp step
# by the formula above, returning `theta_new, v_new`. On the first step `v` is an array of zeros.
#
# * **(a)** the formula, with $\epsilon$ exactly where the formula puts it, and `theta`, `g` **and** `v` left unchanged
#   (the caller still needs them: compute new arrays);
# * **(b)** the arguments `learnRate` and `sqGradDecay` used, and two steps in a row (the second gets the first's
#   `v_new`).
#
# The checks compare with `rmspropupdate` on float32 arrays (float32 in, float32 out); grading uses other arrays and
# hyper-parameters.

# %% nbgrader={"grade": false, "grade_id": "ex5_answer", "locked": false, "schema_version": 3, "solution": true}
def rmspropStep(theta, g, v, learnRate=0.001, sqGradDecay=0.9, epsilon=1e-8):
    ### BEGIN SOLUTION
    v_new = sqGradDecay * v + (1 - sqGradDecay) * g ** 2
    theta_new = theta - learnRate * g / (np.sqrt(v_new) + epsilon)
    return theta_new, v_new
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex5_a", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex5.check("a")
### BEGIN HIDDEN TESTS
ex5.check("a", seed=1)
ex5.check("a", seed=2)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex5_b", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex5.check("b")
### BEGIN HIDDEN TESTS
ex5.check("b", seed=1)
ex5.check("b", seed=2)
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
# ### Exercise 6 (2 points, two graded parts) — SGD with momentum, written with `dlupdate`
#
# Write `sgdmFunction(w, g, vel, learnRate=0.01, momentum=0.9)` for **one** parameter array: it returns the updated
# parameter and the updated velocity, `w_new, vel_new`, by the rule of `sgdmupdate` (Section 5.3).
#
# * **(a)** one step: `w_new` and `vel_new` right (velocity with `sgdmupdate`'s sign), also with other `learnRate` and
#   `momentum`, and the inputs unchanged;
# * **(b)** through `dlupdate(sgdmFunction, net, gradients, vel)` on a `dlnetwork`, three steps give the same
#   parameters **and** the same velocities as `sgdmupdate`, all float32.
#
# Tolerances fit float32: values are compared within $10^{-5}$ relative plus 4 float32 rounding steps of the largest
# parameter, so any correct way to write it passes (`vel_new = w_new - w` too).

# %% nbgrader={"grade": false, "grade_id": "ex6_answer", "locked": false, "schema_version": 3, "solution": true}
def sgdmFunction(w, g, vel, learnRate=0.01, momentum=0.9):
    ### BEGIN SOLUTION
    vel_new = momentum * vel - learnRate * g
    w_new = w + vel_new
    return w_new, vel_new
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex6_a", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex6.check("a")
### BEGIN HIDDEN TESTS
ex6.check("a", seed=1)
ex6.check("a", seed=2)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex6_b", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex6.check("b")
### BEGIN HIDDEN TESTS
ex6.check("b", seed=1)
ex6.check("b", seed=2)
### END HIDDEN TESTS

# %% [markdown]
# Now the claim of the exercise on real training: ten iterations on the digits, once with `sgdmupdate` and once with
# `dlupdate(sgdmFunction, ...)`, from the same network and on the same mini-batches. We compare **both** what the two
# rules return — the networks and the velocities: a function that updates the parameters right but returns its
# velocity with the wrong sign would give equal networks after one step and diverge only later, through the velocity.
# (The cell uses your `sgdmFunction`; until Exercise 6 is solved it says so and the lesson goes on.)

# %%
def largestDifference(tableA, tableB):
    # largest absolute difference between the Value columns of two tables (Learnables or velocities)
    return max(float(np.max(np.abs(extractdata(a.Value) - extractdata(b.Value)))) for a, b in zip(tableA, tableB))


if ex6.solved:
    np.random.seed(0)
    netA = netB = dlnetwork(layers)
    velA = None                                                     # sgdmupdate: [] / None on the first call
    velB = dlupdate(lambda w: np.zeros_like(w), netB.Learnables)   # dlupdate: a table of zeros
    shuffle(mbq)
    for k in range(10):
        X, T = next(mbq)
        _, gradA = dlfeval(modelLoss, netA, X, T)
        netA, velA = sgdmupdate(netA, gradA, velA)
        _, gradB = dlfeval(modelLoss, netB, X, T)
        netB, velB = dlupdate(sgdmFunction, netB, gradB, velB)
    diffNet = largestDifference(netA.Learnables, netB.Learnables)
    diffVel = largestDifference(velA, velB)
    print(f"after 10 iterations, largest difference of the networks: {diffNet:.1e}, of the velocities: {diffVel:.1e}")
    print("equal up to float32 rounding (networks and velocities):", diffNet < 1e-6 and diffVel < 1e-6)
else:
    print("(sgdmFunction of Exercise 6 is not solved yet - the lesson goes on without it)")


# %% [markdown]
# #### Weight decay and gradient clipping: `dlupdate` on the gradients
#
# `dlupdate` is not only for the parameters. Applied to the **gradients**, before the updater, it modifies them:
#
# * **Weight decay (L2 regularisation).** Adding $\frac{\lambda}{2}\lVert\theta\rVert^2$ to the loss adds $\lambda\theta$ to
#   the gradient: $\;g \leftarrow g + \lambda\,\theta$. MATLAB's pattern: `gradients = dlupdate(@(g,w) g + l2Regularization*w,
#   gradients, parameters)`. Updaters do not apply a layer's `L2Factor` themselves; MATLAB's examples often restrict
#   the decay to the weights with a row mask of the `Learnables` table, and the same works on a `dlteach` `Table`:
#   MATLAB `idx = net.Learnables.Parameter == "Weights"; gradients(idx,:) = dlupdate(@(g,w) g + l2Regularization*w,
#   gradients(idx,:), net.Learnables(idx,:));` — Python `idx = net.Learnables.Parameter == "Weights"`,
#   `gradients[idx, :] = dlupdate(lambda g, w: g + l2Regularization * w, gradients[idx, :], net.Learnables[idx, :])`.
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
# Clipping each gradient on its own changes the **direction** of the update: in the cell above, the gradient of
# `fc1/Weights` is shrunk a lot while the small bias gradients are left alone. MATLAB's training options therefore also
# offer `GradientThresholdMethod="global-l2norm"` (the example function is called `thresholdGlobalL2Norm`): one norm
# over **all** the gradients together, $\lVert g\rVert_{\text{global}} = \sqrt{\sum_{\text{all arrays}}\sum g^2}$, and,
# if it exceeds $\tau$, every gradient multiplied by the **same** factor $\tau / \lVert g\rVert_{\text{global}}$.
#
# ### Exercise 7 (3 points, two graded parts) — gradient clipping by the global norm
#
# Write `clipGlobalNorm(gradients, gradientThreshold)` for gradients in the model-function form (a dictionary
# `{layer: {"Weights": ..., "Bias": ...}}` of float32 `dlarray`s, any number of layers). Use `dlupdate` for the
# per-array work. It returns new gradients of the same structure, float32, and leaves its input unchanged:
#
# * **(a, 1 point)** global norm at most `gradientThreshold`: the gradients come back unchanged;
# * **(b, 2 points)** global norm above it: every gradient is scaled by one common factor, so that the new global norm
#   equals `gradientThreshold`.
#
# `dlupdate` works on one array at a time — how do you get a number that depends on all of them? Grading uses other
# gradients, numbers of layers and thresholds.

# %% nbgrader={"grade": false, "grade_id": "ex7_answer", "locked": false, "schema_version": 3, "solution": true}
def clipGlobalNorm(gradients, gradientThreshold):
    ### BEGIN SOLUTION
    sq = dlupdate(lambda g: float(np.sum(extractdata(g) ** 2)), gradients)
    globalNorm = np.sqrt(sum(s for layer in sq.values() for s in layer.values()))
    if globalNorm > gradientThreshold:
        scale = np.float32(gradientThreshold / globalNorm)
        gradients = dlupdate(lambda g: g * scale, gradients)
    return gradients
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex7_a", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex7.check("a")
### BEGIN HIDDEN TESTS
ex7.check("a", seed=1)
ex7.check("a", seed=2)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex7_b", "locked": true, "points": 2, "schema_version": 3, "solution": false}
ex7.check("b")
### BEGIN HIDDEN TESTS
ex7.check("b", seed=1)
ex7.check("b", seed=2)
### END HIDDEN TESTS

# %% [markdown]
# Per-parameter and global clipping of the same gradients, side by side (the cell uses your `clipGlobalNorm`):

# %%
if ex7.solved:
    gradientsGlobal = clipGlobalNorm(gradients, gradientThreshold)
    print(f"{'':14s} {'norm before':>11s} {'per-array clip':>14s} {'global clip':>11s}")
    for layer in gradients:
        for name in gradients[layer]:
            norms = [np.linalg.norm(extractdata(G[layer][name])) for G in (gradients, gradientsClipped, gradientsGlobal)]
            print(f"{layer + '/' + name:14s} {norms[0]:11.4f} {norms[1]:14.4f} {norms[2]:11.4f}")
else:
    print("(clipGlobalNorm of Exercise 7 is not solved yet - the lesson goes on without it)")

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
# * $10^{-3}$ (Adam's default) and $10^{-2}$: steady progress; **for this network** $10^{-2}$ is even faster.
# * $10^{-1}$: the first step overshoots — the loss jumps far *above* its starting value — and training spends the
#   following iterations recovering.
#
# **The right learning rate depends on the network.** $10^{-2}$ is not "too large" in itself: for this small
# perceptron (two fully connected layers, batches of 128, Adam) it trains fastest. Lesson 04 trains a different
# network — a convolution with batch normalisation, batches of 64 — for which $10^{-2}$ overshoots from the first
# iterations and is the bug to find. The best rate depends on the network, the data, the batch size and the updater;
# Adam's default $10^{-3}$ is a safe start, not a law. Always look at the loss curve.
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
# **Written question W2 (2 points).** A colleague copies this lesson's loop, with `learnRate = 0.01` because Section 6
# found it the fastest, into a project with a deeper convolutional network, and the loss jumps from 2.3 to 11 in the
# first iterations. Give two reasons why a learning rate that suits one network can be too large for another, and
# describe how you would choose the learning rate for the new network (what you would run and what you would look at).

# %% [markdown] nbgrader={"grade": true, "grade_id": "w2_answer", "locked": false, "points": 2, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# *Model answer (for the grader).* Reasons (any two, 1 point): the size and curvature of the loss surface differ from
# network to network (more layers multiply the effect of a change in an early weight; batch normalisation and the
# initialisation change the scale of the gradients); Adam's step is about the learning rate for every parameter, so the
# same rate is a larger relative change for parameters with small values; a smaller batch (64 instead of 128) gives
# noisier gradients; the data and the loss differ. Choosing (1 point): try a few rates spaced by factors of about 3 or
# 10 (e.g. 1e-4 ... 1e-1) for a short run each, from the same start on the same mini-batches, plot the loss curves
# (as in Section 6), and take the largest rate whose loss falls steadily without jumping above its first value; then
# confirm on a longer run / the validation loss.
# ### END SOLUTION

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
# * `minibatchqueue` prepares the mini-batches: `MiniBatchSize`, `PartialMiniBatch`, a `MiniBatchFcn` (scaling,
#   one-hot targets with all `ClassNames`), `MiniBatchFormat`, and a `seed` for reproducible shuffling.
# * **Both forms** use the same loop: `net` with `modelLoss(net, X, T)` and `predict` for the test set, or the dictionary
#   `parameters` with `modelLossFcn(parameters, X, T)` and the model function. The updater gets **the object that was
#   evaluated** and returns its new version, which you assign back.
# * **Updaters:** `adamupdate` ($m$, $v$, bias correction; 0.001, 0.9, 0.999, 1e-8), `rmspropupdate` ($v$; 0.001, 0.9,
#   1e-8), `sgdmupdate` (velocity $u \leftarrow \mu u - \eta g$; 0.01, 0.9), and `dlupdate(fun, ...)` for any rule of your
#   own — plain SGD, SGD with momentum (equal to `sgdmupdate`), or a change of the gradients such as weight decay and
#   gradient clipping. States start as `None` (MATLAB `[]`) and are passed back in on every call.
# * The MATLAB page's snippet evaluates `net` but updates `parameters`, and spells the squared average two ways: update
#   the object you evaluate, with one name per state. A loop that updates a copy runs without error and never learns.
# * `trainingProgressMonitor` shows the loss — and any metric you compute, such as the mini-batch accuracy from an extra
#   output of the model loss function — live; test `monitor.Stop` in both loop conditions so the Stop button ends
#   training cleanly.
# * Gradient clipping per array changes the direction of the update; clipping by the global norm scales all gradients
#   by one factor. Adam in MATLAB adds $\epsilon$ before the bias correction, which matters for small gradients early on.
# * The learning rate decides between crawling and overshooting, and the right one depends on the network: always look
#   at the loss curve.
#
# **Next.** Lesson 04 — *debugging the model loss function*: what to do when `dlfeval` throws, or when training runs
# but the loss does not behave.

# %% [markdown]
# ## 9. Open experiments (not graded)
#
# Try these in new cells below; there is no single right answer.
#
# 1. **Batch size.** Train the network of Section 2 with `MiniBatchSize` 32 and 512 for the same number of *epochs*.
#    Which reaches the lower test accuracy, and which needs less time? How do you have to change the learning rate?
# 2. **The reset counter, measured.** Write the loop of W1 with `iteration = 0` inside the epoch loop, train for 10
#    epochs next to the correct loop (same start, same mini-batches), and plot both loss curves. Is the effect as large
#    as your answer to W1 predicts?
# 3. **Weight decay.** Add `gradients = dlupdate(lambda g, w: g + l2Regularization * w, gradients, parameters)` to your
#    `trainModelFunction` and train with `l2Regularization` = 0, 1e-4, 1e-2. What happens to the norm of the weights,
#    and to the test accuracy?
# 4. **Clipping in practice.** Train with `learnRate = 0.1` (which overshoots, Section 6) once plainly and once with
#    `clipGlobalNorm` before `adamupdate`. Does clipping rescue a too-large learning rate with Adam? Why (not)? Try the
#    same with `sgdmupdate`.
# 5. **Longer races.** Run the comparison of Section 5.5 for 10 epochs, and give plain SGD the learning rate 0.1. Does
#    the ranking of the four updaters change?
