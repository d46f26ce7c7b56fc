# ---
# jupyter:
#   dlteach:
#     estimated_minutes: 75
#     lesson: 6
#     seed: 'MATLAB: Train Sequence Classification Network Using Custom Training Loop + Train
#       Network with Multiple Outputs'
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
# # Lesson 6 — Beyond a chain of layers: sequences and several outputs
#
# *Sequences of different lengths in one mini-batch; one network with two answers.*
#
# Every network so far was a **chain**: one input, layer after layer, one output, and every observation of the same
# size. This lesson breaks both rules, following two MATLAB documentation examples, retold in our own words and in
# Python with `dlteach`:
#
# * **"Train Sequence Classification Network Using Custom Training Loop"** — sequences of *different lengths* go
#   through a `minibatchqueue` whose mini-batch function **pads** them to a common length, in the `"CBT"` layout, into
#   an **LSTM** classifier trained in a custom loop;
# * **"Train Network with Multiple Outputs"** — a **graph network** with two heads predicts the digit of a rotated
#   image *and* its rotation angle; its loss is a **weighted sum** of a cross-entropy and a regression loss — which is
#   Neural Network Console's "sum of the means of the terminal outputs" from lesson 02, seen again.
#
# (The example gallery, `notebooks/examples/`, retells both pages step by step; this lesson teaches what is behind
# them.)
#
# **After this lesson you can**
#
# 1. predict the size, layout (`"TCB"` stored as `"CBT"`) and padding mask of a mini-batch of sequences;
# 2. write the `MiniBatchFcn` of a `minibatchqueue` that pads sequences and keeps their labels aligned;
# 3. explain which time step `OutputMode="last"` reads, and why sequence classifiers pad on the **left**;
# 4. train an LSTM classifier in a custom loop with a live `trainingProgressMonitor`, and say when its `State` is
#    stored and when not;
# 5. build a graph network with `addLayers` / `connectLayers`, give it a second named output, and read several outputs
#    with `forward(net, X, Outputs=[...])`;
# 6. weight the terms of a loss so that each one matters, from their magnitudes, and write the same loss as NNC's
#    terminal outputs.
#
# **Time:** about 75 minutes. **Builds on:** lessons 01–04 (model loss functions, `dlfeval`, the custom loop with
# `adamupdate`, `minibatchqueue`, the monitor, `net.State`, debugging) and lesson 02 (NNC's loss rule).
#
# **How the exercises work.** There are seven graded exercises, most in several parts (20 points), and three
# written questions (3 points, graded by your instructor). Each exercise has a cell for your answer — replace the blank
# `____` under `# YOUR CODE HERE` with your code — and, below it, a one-line *check cell* such as `ex1.check("a")`. Run
# it: it answers in one box, **Correct** (with the list of what it checked), **Incorrect** (with what is wrong) or **Not
# attempted yet**. When your work is graded, the same checks run again — those that test code also on other inputs
# (other lengths, sequences, networks, mini-batches), so code that only fits the inputs of the notebook does not pass.
# Stuck? `ex1.hint()` gives the next hint — first the idea, then where to look, then partial code — and
# `ex1.solution()` a full solution (unless your instructor switched solutions off). Unfinished exercises do not stop the
# notebook: *Run ▸ Run All Cells* goes through to the end; the cells that need one of your answers say so, or use the
# lesson's own version until yours passes. The check code is in `dlteach/exercises/lesson06.py`.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import numpy as np
import matplotlib.pyplot as plt

from dlteach import (dlarray, dims, extractdata, dlfeval, dlgradient, dlnetwork, forward, predict,  # core
                     adamupdate, crossentropy, mse, l2loss, l1loss, huber,
                     load_waveforms, padsequences, onehotencode, onehotdecode,              # sequences
                     arrayDatastore, combine, minibatchqueue, hasdata, shuffle, reset,
                     sequenceInputLayer, lstmLayer, fullyConnectedLayer, softmaxLayer,
                     digitTrain4DArrayData, digitTest4DArrayData,                           # several outputs
                     imageInputLayer, convolution2dLayer, batchNormalizationLayer, reluLayer, additionLayer,
                     addLayers, connectLayers, initialize, plot,
                     trainingProgressMonitor, recordMetrics, updateInfo)                    # monitor
from dlteach import next as next_batch          # MATLAB's next(mbq); Python's own next stays untouched
from dlteach.nnc import CategoricalCrossEntropy, SquaredError, MulScalar, nnc_loss
# the checks of this lesson's exercises: dlteach/exercises/lesson06.py
from dlteach.exercises.lesson06 import ex1, ex2, ex3, ex4, ex5, ex6, ex7, ____
from dlteach.exercises import lesson06 as lesson      # the lesson's own versions, used until yours pass

np.random.seed(0)   # networks, shuffles and generated data draw from NumPy's global random generator

# %% [markdown]
# # Part A — Sequences
#
# ## 1. Sequence data and the `"CBT"` layout
#
# MATLAB's page classifies waveforms — sawtooth, sine, square, triangle — from three-channel measurements of
# different durations. Its file `WaveformData.mat` is not shipped (nothing is downloaded), so `load_waveforms` makes a
# data set of the same shape from formulas. A data set of sequences is a **list** (MATLAB: a cell array), one array
# per observation, each *numTimeSteps × numChannels* (time steps down the rows):

# %%
data, labels = load_waveforms(320, min_length=20, max_length=40)     # MATLAB: load WaveformData
numChannels = data[0].shape[1]                                       # MATLAB: numChannels = size(data{1},2)
classNames = np.unique(labels)                                       # MATLAB: classNames = categories(labels)
print("number of sequences:", len(data))
print("sizes of the first four:", [x.shape for x in data[:4]])
print("their labels:", labels[:4])
print("classNames:", classNames)
lengths = np.array([x.shape[0] for x in data])
print(f"lengths from {lengths.min()} to {lengths.max()} time steps")

# %%
# NBVAL_IGNORE_OUTPUT
fig, axes = plt.subplots(1, 4, figsize=(11, 2.2), sharey=True)
for ax, name in zip(axes, classNames):
    i = int(np.flatnonzero(labels == name)[0])
    ax.plot(data[i])
    ax.set_title(f"{name} ({data[i].shape[0]} steps)", fontsize=9)
    ax.set_xlabel("time step")
fig.tight_layout()
plt.show()

# %% [markdown]
# Split off 20 % for testing (MATLAB: `trainingPartitions`):

# %%
idx = np.random.permutation(len(data))
idxTrain, idxTest = idx[:256], idx[256:]
XTrain, TTrain = [data[i] for i in idxTrain], labels[idxTrain]
XTest, TTest = [data[i] for i in idxTest], labels[idxTest]
print(len(XTrain), "training and", len(XTest), "test sequences")

# %% [markdown]
# **Formats with a time dimension.** Lesson 01 met `"SSCB"` (images) and `"CB"` (features). Sequences add the label
# `T`, time. Whatever order you *name* the dimensions in, a formatted `dlarray` *stores* them in the order **S, C, B,
# T** (then U) — so one sequence given as `"TC"` is stored `"CT"`, and a mini-batch given as `"TCB"` (time steps ×
# channels × observations, the order `padsequences` produces for *T × C* sequences) is stored **`"CBT"`**:
#
# | | MATLAB | Python (dlteach) |
# |---|---|---|
# | one sequence, T × C | `x = dlarray(data{1},"TC")` → `dims(x)` is `'CT'` | `x = dlarray(data[0], "TC")` → `dims(x)` is `'CT'` |
# | a padded mini-batch, T × C × B | `X = dlarray(XPad,"TCB")` → `'CBT'` | `X = dlarray(XPad, "TCB")` → `'CBT'` |
# | size | `size(X)` | `X.shape` |

# %%
x = dlarray(data[0], "TC")
print("one sequence:", data[0].shape, "-> format", repr(dims(x)), "size", x.shape)
XPad3 = padsequences(data[:3], 1)
X3 = dlarray(XPad3, "TCB")
print("three sequences padded:", XPad3.shape, "-> format", repr(dims(X3)), "size", X3.shape)
print("the same value, both ways: XPad3[5, 2, 1] =", XPad3[5, 2, 1], "  X3[2, 1, 5] =", float(extractdata(X3)[2, 1, 5]))

# %% [markdown]
# ## 2. Padding: `padsequences`
#
# A mini-batch is **one** array, so its sequences must have the same length. `padsequences(X, paddingDim)` pads each
# sequence of the list `X` with zeros along dimension `paddingDim` — counted from 1, as in MATLAB: for *T × C*
# sequences the time steps are dimension 1 — up to the length of the **longest** sequence, and stacks them along a new
# last dimension. `Direction="right"` (the default) adds the zeros **after** the data, `Direction="left"` **before**
# it. The second output, the **mask**, is `True` where the padded array holds data (MATLAB: `[XPad,mask] =
# padsequences(...)`).
#
# Three short sequences of 2 channels, with lengths 3, 5 and 2 (the values count the time steps, so you can see where
# they went):

# %%
short = [np.column_stack([np.arange(1, L + 1), 10 * np.arange(1, L + 1)]).astype(np.float32) for L in (3, 5, 2)]
for direction in ("right", "left"):
    XPad, mask = padsequences(short, 1, Direction=direction, return_mask=True)
    print(f'Direction="{direction}": XPad is {XPad.shape} (T x C x B)')
    print("  channel 1 of each sequence (one column per sequence):")
    print("  " + str(XPad[:, 0, :].astype(int)).replace("\n", "\n  "))
    print("  mask of channel 1 (True = data):")
    print("  " + str(mask[:, 0, :].astype(int)).replace("\n", "\n  "))

# %% [markdown]
# With right padding, sequence 3 (length 2) holds data in time steps 1–2 and zeros in 3–5; with left padding the zeros
# come first and its data fill steps 4–5 — **every sequence then ends at the last time step**. Keep that in mind for
# Section 4.
#
# ### Exercise 1 — predict the padded mini-batch (3 points)
#
# The training loop will get its mini-batches from a `minibatchqueue` whose mini-batch function calls
# `padsequences(dataX, 1, Direction=direction)` on *T × C* sequences, with `MiniBatchFormat="TCB"`. Before running
# anything, you should be able to say what comes out. Write `batchLayout(lengths, numChannels, direction)` that
# returns `shape, mask` **without** building the data:
#
# * **(a) (1 point)** `shape`: the size (`X.shape`, a tuple of three integers) of the formatted `dlarray` `X` that the
#   queue returns for a mini-batch of sequences with these `lengths` and `numChannels` channels;
# * **(b) (2 points)** `mask`: a `bool` array with **one row per observation and one column per time step** of the
#   padded mini-batch, `True` where that observation holds data (not padding), for `direction` `"right"` and `"left"`.
#
# For example, for `lengths = [7, 4, 9, 5]`, `numChannels = 3`, `"left"`: what is the shape, and in which columns is
# the mask's row of the sequence of length 4 `True`? (Work it out on paper first; `padsequences` may check you.)

# %% nbgrader={"grade": false, "grade_id": "ex1_answer", "locked": false, "schema_version": 3, "solution": true}
def batchLayout(lengths, numChannels, direction):
    ### BEGIN SOLUTION
    maxT = max(lengths)
    shape = (numChannels, len(lengths), maxT)
    mask = np.zeros((len(lengths), maxT), dtype=bool)
    for b, L in enumerate(lengths):
        if direction == "right":
            mask[b, :L] = True
        else:
            mask[b, maxT - L:] = True
    return shape, mask
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1_a", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex1.check("a")
### BEGIN HIDDEN TESTS
ex1.check("a", seed=61)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex1_b", "locked": true, "points": 2, "schema_version": 3, "solution": false}
ex1.check("b")
### BEGIN HIDDEN TESTS
ex1.check("b", seed=62)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Mini-batches of sequences: datastores, `minibatchqueue` and its `MiniBatchFcn`
#
# As on MATLAB's page, the training data go into **datastores**: `arrayDatastore` of the sequences (with
# `OutputType="same"`, a read returns the sequence itself) and of the labels, `combine`d so that one read returns a
# sequence and its label. The `minibatchqueue` reads `MiniBatchSize` observations at a time and hands them to its
# **mini-batch function** (`MiniBatchFcn`) as **one list per datastore column** (MATLAB: one cell array per column).
# Whatever that function returns is cast to single precision and wrapped as a `dlarray` with the format of
# `MiniBatchFormat` (`""` = unformatted).
#
# | MATLAB | Python (dlteach) |
# |---|---|
# | `dsXTrain = arrayDatastore(XTrain,OutputType="same");` | `dsXTrain = arrayDatastore(XTrain, OutputType="same")` |
# | `dsTTrain = arrayDatastore(TTrain);` | `dsTTrain = arrayDatastore(TTrain)` |
# | `dsTrain = combine(dsXTrain,dsTTrain);` | `dsTrain = combine(dsXTrain, dsTTrain)` |
# | `mbq = minibatchqueue(dsTrain, ...` | `mbq = minibatchqueue(dsTrain,` |
# | `    MiniBatchSize=32, ...` | `    MiniBatchSize=32,` |
# | `    MiniBatchFcn=@preprocessMiniBatch, ...` | `    MiniBatchFcn=preprocessMiniBatch,` |
# | `    MiniBatchFormat=["TCB" ""]);` | `    MiniBatchFormat=["TCB", ""])` |
#
# What does the mini-batch function receive? A function that only looks, on a queue of 4:

# %%
dsXTrain = arrayDatastore(XTrain, OutputType="same")
dsTTrain = arrayDatastore(TTrain)
dsTrain = combine(dsXTrain, dsTTrain)


def lookAtMiniBatch(dataX, dataT):
    print("dataX:", type(dataX).__name__, "of", len(dataX), "arrays of sizes", [x.shape for x in dataX])
    print("dataT:", type(dataT).__name__, "of", len(dataT), "arrays:", dataT)
    return padsequences(dataX, 1), np.zeros((len(classNames), len(dataX)), np.float32)


mbqLook = minibatchqueue(dsTrain, MiniBatchSize=4, MiniBatchFcn=lookAtMiniBatch, MiniBatchFormat=["TCB", ""])
XLook, TLook = next_batch(mbqLook)
print("\nthe queue returns X:", dims(XLook), XLook.shape, "and T:", repr(dims(TLook)), TLook.shape)

# %% [markdown]
# ### Exercise 2 — a mini-batch function that pads (3 points)
#
# MATLAB's page writes its mini-batch function in three lines (`categorical` labels know all their categories; the
# `onehotencode` of a `categorical` column therefore always has one row per category):
#
# ```matlab
# function [X,T] = preprocessMiniBatch(dataX,dataT)
#     X = padsequences(dataX,1,Direction="left");
#     T = onehotencode(cat(1,dataT{:}),2)';      % numClasses x numObservations
# end
# ```
#
# Write `preprocessMiniBatch(dataX, dataT)` in Python, for the queue above (`MiniBatchFormat=["TCB", ""]`), returning
# `X, T`:
#
# * **(a) (1 point)** `X`: the sequences padded with zeros **on the left** to the longest one, *numTimeSteps ×
#   numChannels × numObservations*;
# * **(b) (2 points)** `T`: the one-hot targets, *numClasses × numObservations*, column *b* for observation *b* of
#   `X`, with **one row per class of `classNames`**, in that order — also for a mini-batch that happens to lack some
#   classes. Our labels are strings, not categoricals: they know nothing about the other classes.

# %% nbgrader={"grade": false, "grade_id": "ex2_answer", "locked": false, "schema_version": 3, "solution": true}
def preprocessMiniBatch(dataX, dataT):
    ### BEGIN SOLUTION
    X = padsequences(dataX, 1, Direction="left")
    T = onehotencode(np.concatenate(dataT), 1, ClassNames=classNames)
    return X, T
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2_a", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex2.check("a")
### BEGIN HIDDEN TESTS
ex2.check("a", seed=63)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex2_b", "locked": true, "points": 2, "schema_version": 3, "solution": false}
ex2.check("b")
### BEGIN HIDDEN TESTS
ex2.check("b", seed=64)
### END HIDDEN TESTS

# %% [markdown]
# The training queue uses your function once it passes (until then, the lesson's own):

# %%
miniBatchFcn = preprocessMiniBatch if ex2.solved else lesson.reference_minibatch_fcn(classNames)
print("MiniBatchFcn:", "your preprocessMiniBatch" if ex2.solved else "the lesson's (Exercise 2 not solved yet)")
miniBatchSize = 32
mbq = minibatchqueue(dsTrain, MiniBatchSize=miniBatchSize, MiniBatchFcn=miniBatchFcn, MiniBatchFormat=["TCB", ""])
X, T = next_batch(mbq)
print("X:", dims(X), X.shape, X.dtype, "  T:", T.shape, T.dtype)
reset(mbq)

# %% [markdown]
# ## 4. The LSTM classifier, `OutputMode="last"`, and its state
#
# | MATLAB | Python (dlteach) |
# |---|---|
# | `layers = [` | `layers = [` |
# | `    sequenceInputLayer(numChannels)` | `    sequenceInputLayer(numChannels),` |
# | `    lstmLayer(numHiddenUnits,OutputMode="last")` | `    lstmLayer(numHiddenUnits, OutputMode="last"),` |
# | `    fullyConnectedLayer(numClasses)` | `    fullyConnectedLayer(numClasses),` |
# | `    softmaxLayer];` | `    softmaxLayer()]` |
# | `net = dlnetwork(layers);` | `net = dlnetwork(layers)` |
#
# An LSTM layer runs over the time steps one by one, carrying a **hidden state** $h_t$ and a **cell state** $c_t$
# (both *numHiddenUnits* long per observation) from step to step. With `OutputMode="sequence"` (the default) it
# outputs $h_t$ for every time step (`"CBT"`); with `OutputMode="last"` only the $h$ of the **last time step of the
# array** (`"CB"`), which the fully connected layer turns into class scores — one label per sequence.

# %%
numHiddenUnits = 24
numClasses = len(classNames)
layers = [
    sequenceInputLayer(numChannels),
    lstmLayer(numHiddenUnits, OutputMode="last"),
    fullyConnectedLayer(numClasses),
    softmaxLayer()]
np.random.seed(0)
net = dlnetwork(layers)
print(net.Learnables)
print(net.State)

# %% [markdown]
# The learnables have MATLAB's layout: `InputWeights` 4H × C, `RecurrentWeights` 4H × H and `Bias` 4H × 1 — the four
# gates (input, forget, cell candidate, output) stacked. The **state** table holds the hidden and cell state the LSTM
# **starts** from: zeros.
#
# `forward(net, X, return_state=True)` also returns the state at the end of the mini-batch — one column per sequence:

# %%
Y, state = forward(net, X, return_state=True)
print("Y:", dims(Y), Y.shape)
print(state)

# %% [markdown]
# **Store it or not?** For batch normalization (lessons 01–04) `net.State = state` was a must. Here it is the
# opposite: our sequences are **independent** — the next mini-batch holds other waveforms, which must start from zero
# state, not from where 32 unrelated sequences ended. So MATLAB's page does **not** store it, and neither do we. (A
# stored LSTM state is for *one long* sequence cut into pieces, or for predicting step by step.) `dlteach` notices the
# usual symptom — a stored state whose number of columns does not match the next mini-batch:

# %%
netStored = dlnetwork(layers)
netStored.State = state                                  # the state of 32 sequences ...
Xodd = dlarray(padsequences(XTrain[:5], 1, Direction="left"), "TCB")
try:
    forward(netStored, Xodd)                             # ... as the initial state of 5 others
except Exception as err:
    print(f"{type(err).__name__}: {err}")

# %% [markdown]
# **Which time step is "last"?** The layer knows nothing about padding. To see what it outputs at each step, give a
# second network the same learnables but `OutputMode="sequence"`:

# %%
lstmRows = net.Learnables[net.Learnables.Layer == "lstm"]     # MATLAB: net.Learnables(net.Learnables.Layer=="lstm",:)
netSeq = dlnetwork([sequenceInputLayer(numChannels), lstmLayer(numHiddenUnits)])                    # "sequence"
netSeq.Learnables = lstmRows
netLast = dlnetwork([sequenceInputLayer(numChannels), lstmLayer(numHiddenUnits, OutputMode="last")])  # "last"
netLast.Learnables = lstmRows
YSeq, YLast = forward(netSeq, X), forward(netLast, X)
print("OutputMode='sequence':", dims(YSeq), YSeq.shape, "   OutputMode='last':", dims(YLast), YLast.shape)
print("'last' is the 'sequence' output at the last time step of the array:",
      bool(np.allclose(extractdata(YLast), extractdata(YSeq)[:, :, -1])))

# %% [markdown]
# ### Exercise 3 — which time step is "last"? (3 points)
#
# **(a) (1 point)** A mini-batch is padded on the **right**; its longest sequence has `maxT` time steps, and
# sequence *b* has `lengths[b] < maxT`. With `OutputMode="last"`, the LSTM layer's output for sequence *b* is its
# hidden state after:
#
# * **A** — time step `lengths[b]`, the sequence's own last time step;
# * **B** — time step `maxT`, the last time step of the mini-batch, after `maxT − lengths[b]` time steps of zeros;
# * **C** — time step 1;
# * **D** — the time step with the largest output.
#
# Set `lastStepRight` to the letter.
#
# **(b) (2 points)** Sometimes you need the output of a right-padded mini-batch at each sequence's *own* last time
# step (for example, with a network that outputs every time step and is trained on right-padded data). Write
# `lastRealOutputs(Y, lengths)`: `Y` is the `OutputMode="sequence"` output of a right-padded mini-batch, a formatted
# `dlarray` `"CBT"` (*numHiddenUnits × numObservations × numTimeSteps*); `lengths` the sequences' lengths. Return the
# *numHiddenUnits × numObservations* array whose column *b* is `Y`'s output for sequence *b* at its last time step
# that holds data (a NumPy array or a `dlarray`).

# %% nbgrader={"grade": false, "grade_id": "ex3_answer_a", "locked": false, "schema_version": 3, "solution": true}
# lastStepRight = "..."   (one of "A", "B", "C", "D")
### BEGIN SOLUTION
lastStepRight = "B"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex3_a", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex3.check("a")

# %% nbgrader={"grade": false, "grade_id": "ex3_answer_b", "locked": false, "schema_version": 3, "solution": true}
def lastRealOutputs(Y, lengths):
    ### BEGIN SOLUTION
    Yd = extractdata(Y)
    return np.stack([Yd[:, b, L - 1] for b, L in enumerate(lengths)], axis=1)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3_b", "locked": true, "points": 2, "schema_version": 3, "solution": false}
ex3.check("b")
### BEGIN HIDDEN TESTS
ex3.check("b", seed=65)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Training the sequence classifier, watched live
#
# The page's model loss function and loop, with the monitor of lesson 03. The loss function does not return the state
# (it is not stored, see Section 4):
#
# ```matlab
# function [loss,gradients] = modelLoss(net,X,T)
#     Y = forward(net,X);
#     loss = crossentropy(Y,T);
#     gradients = dlgradient(loss,net.Learnables);
# end
# ```

# %%
def modelLoss(net, X, T):
    Y = forward(net, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients


# %% [markdown]
# In JupyterLab the cell trains for up to 100 epochs, so that you can watch it and click **Stop**; without a front end
# (grading, nbval) it trains the lesson's 10 epochs and shows the final figure.
#
# ```matlab
# monitor = trainingProgressMonitor(Metrics="Loss",Info="Epoch",XLabel="Iteration");
# while epoch < numEpochs && ~monitor.Stop
#     epoch = epoch + 1;
#     shuffle(mbq);
#     while hasdata(mbq) && ~monitor.Stop
#         iteration = iteration + 1;
#         [X,T] = next(mbq);
#         [loss,gradients] = dlfeval(@modelLoss,net,X,T);
#         [net,averageGrad,averageSqGrad] = adamupdate(net,gradients,averageGrad,averageSqGrad,iteration,learnRate);
#         recordMetrics(monitor,iteration,Loss=loss);
#         updateInfo(monitor,Epoch=epoch + " of " + numEpochs);
#         monitor.Progress = 100*iteration/numIterations;
#     end
# end
# ```

# %%
# NBVAL_IGNORE_OUTPUT
np.random.seed(0)
net = dlnetwork(layers)
numEpochs, learnRate = 10, 0.02
monitor = trainingProgressMonitor(Metrics=["Loss"], Info=["Epoch"], XLabel="Iteration")
numEpochsWatched = 100 if monitor.frontend == "widget" else numEpochs
numIterations = numEpochsWatched * int(np.ceil(len(XTrain) / miniBatchSize))

averageGrad = averageSqGrad = None
epoch = iteration = 0
while epoch < numEpochsWatched and not monitor.Stop:
    epoch += 1
    shuffle(mbq)
    while hasdata(mbq) and not monitor.Stop:
        iteration += 1
        X, T = next_batch(mbq)
        loss, gradients = dlfeval(modelLoss, net, X, T)
        net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, iteration,
                                                     learnRate)
        recordMetrics(monitor, iteration, Loss=loss)
        updateInfo(monitor, Epoch=f"{epoch} of {numEpochsWatched}")
        monitor.Progress = 100 * iteration / numIterations
monitor.Status = "Stopped" if monitor.Stop else "Training complete"
print(f"{monitor.Status} after {iteration} iterations; last loss {float(loss):.3f}")

# %% [markdown]
# Test accuracy with `predict` on the 64 test sequences, padded on the left as in training (MATLAB:
# `onehotdecode(scores,classNames,1)`):

# %%
# NBVAL_IGNORE_OUTPUT
XTestPad = dlarray(padsequences(XTest, 1, Direction="left"), "TCB")
YTest = onehotdecode(predict(net, XTestPad), classNames, 1)
print(f"test accuracy after {iteration} iterations: {np.mean(YTest == TTest):.2f}  (guessing: 0.25)")

# %% [markdown]
# **Padding and "last", on the trained network.** Compare, for eight training sequences, what the trained LSTM's
# `"last"` output sees with right padding, with left padding, and with your `lastRealOutputs` on the right-padded
# sequence output — each against the hidden state of the sequence run **alone** (no padding at all). The numbers are
# the largest difference over the hidden units:

# %% dlteach={"requires_solutions": true}
lstmRows = net.Learnables[net.Learnables.Layer == "lstm"]     # the trained LSTM
netSeq.Learnables = lstmRows
netLast.Learnables = lstmRows
eight = XTrain[:8]
lengthsEight = [x.shape[0] for x in eight]
alone = np.column_stack([extractdata(forward(netLast, dlarray(x[:, :, None], "TCB")))[:, 0] for x in eight])
right = extractdata(forward(netLast, dlarray(padsequences(eight, 1, Direction="right"), "TCB")))
left = extractdata(forward(netLast, dlarray(padsequences(eight, 1, Direction="left"), "TCB")))
print("lengths:                       ", lengthsEight)
print("'last', right padding:         ", np.round(np.abs(right - alone).max(axis=0), 3))
print("'last', left padding:          ", np.round(np.abs(left - alone).max(axis=0), 3))
if ex3.solved:
    picked = lastRealOutputs(forward(netSeq, dlarray(padsequences(eight, 1, Direction="right"), "TCB")), lengthsEight)
    picked = extractdata(picked) if isinstance(picked, dlarray) else np.asarray(picked)
    print("lastRealOutputs, right padding:", np.round(np.abs(picked - alone).max(axis=0), 3))
else:
    print("(lastRealOutputs: this line needs your answer to Exercise 3)")

# %% [markdown]
# Only the longest sequence (no padding) is right in every row. With right padding, the `"last"` output of a short
# sequence has run through its padding zeros, which change the state — a large error, and the classifier was never
# trained on such outputs. Picking each sequence's own last step from the sequence output is exact: the LSTM is
# causal, so the zeros *after* a step cannot change it. Left padding is closer, mostly much closer, but not exact: the zeros come
# *before* the data and move the state away from zero (for the *untrained* network they would not: zero input, zero
# state and its zero cell-candidate bias keep the state exactly at zero), and the data that follow overwrite most of
# it. That is why MATLAB's page pads on the **left** for a sequence-to-label network. (Written question 3 asks about
# the other case; experiment 1 trains with right padding.)

# %% [markdown]
# # Part B — Several outputs
#
# ## 6. A graph network with two heads
#
# MATLAB's second page predicts, from an image of a handwritten digit that was **rotated**, both the digit and the
# rotation angle. `digitTrain4DArrayData` returns the images (28 × 28 × 1 × N, `"SSCB"`), the digits and the angles in
# degrees, drawn from U(−45°, 45°) (our 4,000 images are real MNIST digits rotated by `dlteach`; MATLAB's are
# synthetic).

# %%
XDigits, labelsDigits, anglesDigits = digitTrain4DArrayData()   # MATLAB: [XTrain,T1Train,T2Train] = digitTrain4DArrayData;
print("images:", XDigits.shape, XDigits.dtype, "| digits:", labelsDigits[:8], "| angles:", np.round(anglesDigits[:4], 1))
print(f"angles from {anglesDigits.min():.1f} to {anglesDigits.max():.1f} degrees, "
      f"standard deviation {anglesDigits.std():.1f}")

# %%
# NBVAL_IGNORE_OUTPUT
fig, axes = plt.subplots(1, 8, figsize=(10, 1.6))
for ax, n in zip(axes, range(8)):
    ax.imshow(XDigits[:, :, 0, n], cmap="gray")
    ax.set_title(f"{labelsDigits[n]}, {anglesDigits[n]:.0f}°", fontsize=8)
    ax.axis("off")
plt.show()

# %% [markdown]
# **A graph, built by name.** A layer array is a chain. Anything else — a skip connection, a second head — is built by
# naming layers and connecting them: `addLayers` adds layers (connected among themselves in the order given, but to
# nothing else), `connectLayers(net, source, destination)` connects the output of one layer to an input of another
# (`"add/in2"` is the second input *port* of the layer `add`), and `initialize` fills the learnables that are still
# empty. Every operation returns a **new**, uninitialized network (`Initialize=False` because a network whose
# addition layer has only one input connected cannot be initialized yet). Here is the trunk of MATLAB's network,
# scaled down for speed (8 and 16 filters instead of 16 and 32), with its **skip connection** and the digit head:
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# layers = [
#     imageInputLayer([28 28 1],Normalization="none")
#     convolution2dLayer(5,8,Padding="same",Stride=2)
#     batchNormalizationLayer
#     reluLayer(Name="relu_1")
#     convolution2dLayer(3,16,Padding="same",Stride=2)
#     batchNormalizationLayer
#     additionLayer(2,Name="add")
#     reluLayer(Name="relu_2")
#     fullyConnectedLayer(10,Name="fc")
#     softmaxLayer(Name="softmax")];
# net = dlnetwork(layers,Initialize=false);
# &nbsp;
# layers = [
#     convolution2dLayer(1,16,Stride=2,Name="conv_skip")
#     batchNormalizationLayer(Name="batchnorm_skip")];
# net = addLayers(net,layers);
# net = connectLayers(net,"relu_1","conv_skip");
# net = connectLayers(net,"batchnorm_skip","add/in2");
# net = initialize(net);
# </pre>
# </td><td>
# <pre>
# layers = [
#     imageInputLayer([28, 28, 1], Normalization="none"),
#     convolution2dLayer(5, 8, Padding="same", Stride=2),
#     batchNormalizationLayer(),
#     reluLayer(Name="relu_1"),
#     convolution2dLayer(3, 16, Padding="same", Stride=2),
#     batchNormalizationLayer(),
#     additionLayer(2, Name="add"),
#     reluLayer(Name="relu_2"),
#     fullyConnectedLayer(10, Name="fc"),
#     softmaxLayer(Name="softmax")]
# net = dlnetwork(layers, Initialize=False)
# &nbsp;
# layers = [
#     convolution2dLayer(1, 16, Stride=2, Name="conv_skip"),
#     batchNormalizationLayer(Name="batchnorm_skip")]
# net = addLayers(net, layers)
# net = connectLayers(net, "relu_1", "conv_skip")
# net = connectLayers(net, "batchnorm_skip", "add/in2")
# net = initialize(net)
# </pre>
# </td></tr>
# </table>

# %%
np.random.seed(0)
layersTrunk = [
    imageInputLayer([28, 28, 1], Normalization="none"),
    convolution2dLayer(5, 8, Padding="same", Stride=2),
    batchNormalizationLayer(),
    reluLayer(Name="relu_1"),
    convolution2dLayer(3, 16, Padding="same", Stride=2),
    batchNormalizationLayer(),
    additionLayer(2, Name="add"),
    reluLayer(Name="relu_2"),
    fullyConnectedLayer(10, Name="fc"),
    softmaxLayer(Name="softmax")]
trunk = dlnetwork(layersTrunk, Initialize=False)
trunk = addLayers(trunk, [convolution2dLayer(1, 16, Stride=2, Name="conv_skip"),
                          batchNormalizationLayer(Name="batchnorm_skip")])
trunk = connectLayers(trunk, "relu_1", "conv_skip")
trunk = connectLayers(trunk, "batchnorm_skip", "add/in2")
trunk = initialize(trunk)
print("inputs:", trunk.InputNames, " outputs:", trunk.OutputNames)
for conn in trunk.Connections:
    print(f"  {conn.Source:>14s} -> {conn.Destination}")

# %% [markdown]
# The network's **outputs** are the layers whose output goes nowhere — so far only `softmax`. `plot(net)` draws the
# graph (MATLAB: `plot(net)`):

# %%
# NBVAL_IGNORE_OUTPUT
plot(trunk)
plt.show()

# %% [markdown]
# ### Exercise 4 — connect a second head (2 points)
#
# The angle needs a **second head**: a `fullyConnectedLayer` with **one** output (one number per image), named
# `"fc_angle"`, fed by the trunk's features. Write `addAngleHead(net, sourceName)`: it returns a new, initialized
# network with that head connected to the output of the layer named `sourceName`.
#
# * **(a) (1 point)** the returned network is initialized and its outputs are the old ones and `"fc_angle"`, which
#   gives one value per observation;
# * **(b) (1 point)** `"fc_angle"` is fed by `sourceName`, and the rest of the network — layers and learnables — is
#   unchanged.
#
# (The lesson's network will be `addAngleHead(trunk, "relu_2")`: the angle head shares everything up to `relu_2`
# with the digit head. Why not `"softmax"`? Think about what the ten probabilities are trained to ignore.)

# %% nbgrader={"grade": false, "grade_id": "ex4_answer", "locked": false, "schema_version": 3, "solution": true}
def addAngleHead(net, sourceName):
    ### BEGIN SOLUTION
    net = addLayers(net, fullyConnectedLayer(1, Name="fc_angle"))
    net = connectLayers(net, sourceName, "fc_angle")
    return initialize(net)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex4_a", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex4.check("a")
### BEGIN HIDDEN TESTS
ex4.check("a", seed=66)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex4_b", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex4.check("b")
### BEGIN HIDDEN TESTS
ex4.check("b", seed=67)
### END HIDDEN TESTS

# %% [markdown]
# The two-output network of the rest of the lesson (with your `addAngleHead` once it passes):

# %%
yourHead = ex4.solved                                   # (runs the checks of Exercise 4 silently)
np.random.seed(1)                                       # the new head's initial weights
netTwo = addAngleHead(trunk, "relu_2") if yourHead else lesson.lesson_two_head_network()
print("network:", "from your addAngleHead" if yourHead else "the lesson's (Exercise 4 not solved yet)")
print("outputs:", netTwo.OutputNames)

# %% [markdown]
# ## 7. Several outputs: `forward(net, X, Outputs=[...])`
#
# `forward(net, X)` returns every output of the network, in the order of `net.OutputNames`; `Outputs=[...]` chooses
# which ones, **in the order you list them**, and `return_state=True` adds the state at the end:
#
# | MATLAB | Python (dlteach) |
# |---|---|
# | `[Y1,Y2] = forward(net,X)` | `Y1, Y2 = forward(net, X)` (order of `net.OutputNames`) |
# | `[Y1,Y2,state] = forward(net,X,Outputs=["softmax" "fc_angle"])` | `Y1, Y2, state = forward(net, X, Outputs=["softmax", "fc_angle"], return_state=True)` |
# | `Y = predict(net,X,Outputs="fc_angle")` | `Y = predict(net, X, Outputs="fc_angle")` |

# %%
XFirst = dlarray(XDigits[:, :, :, :128], "SSCB")                               # the first 128 images
T1First = onehotencode(labelsDigits[:128], 1, ClassNames=range(10))            # 10 x 128 one-hot
T2First = anglesDigits[:128].reshape(1, -1)                                    # 1 x 128 angles
Y1, Y2, state = forward(netTwo, XFirst, Outputs=["softmax", "fc_angle"], return_state=True)
print("Y1:", dims(Y1), Y1.shape, "  Y2:", dims(Y2), Y2.shape, "  state:", state.Value[0].shape, "...")

# %% [markdown]
# ### Exercise 5 — a model loss with two outputs (4 points)
#
# The loss of the two-output network is a weighted sum: the cross-entropy of the digit output plus `angleWeight`
# times the `mse` of the angle output (half the mean squared error, lesson 02). A colleague's version stops with an
# error:
#
# ```python
# def modelLossBuggy(net, X, T1, T2, angleWeight):
#     Y2, Y1, state = forward(net, X, Outputs=["softmax", "fc_angle"], return_state=True)   # A
#     lossLabels = crossentropy(Y1, T1)                                                     # B
#     lossAngles = mse(Y2, T2)                                                              # C
#     loss = lossLabels + angleWeight * lossAngles                                          # D
#     gradients = dlgradient(loss, net.Learnables)                                          # E
#     return loss, gradients, state
# ```
#
# **(a) (1 point)** Find the bug with lesson 04's techniques (call it directly; run the lines by hand). Set
# `wrong_line` to the letter of the line that is **wrong** — which need not be the line that raises the error.
#
# **(b) (2 points)** Write the working `modelLossTwoHeads(net, X, T1, T2, angleWeight)` returning
# `loss, gradients, state`: the loss as described, with the weight on the angle term;
#
# **(c) (1 point)** ... the gradients of the loss with respect to `net.Learnables`, and the state returned by `forward`
# (the network has batch normalization: the training loop will store it).

# %% nbgrader={"grade": false, "grade_id": "ex5_setup", "locked": true, "schema_version": 3, "solution": false}
def modelLossBuggy(net, X, T1, T2, angleWeight):
    Y2, Y1, state = forward(net, X, Outputs=["softmax", "fc_angle"], return_state=True)   # A
    lossLabels = crossentropy(Y1, T1)                                                     # B
    lossAngles = mse(Y2, T2)                                                              # C
    loss = lossLabels + angleWeight * lossAngles                                          # D
    gradients = dlgradient(loss, net.Learnables)                                          # E
    return loss, gradients, state


# %% nbgrader={"grade": false, "grade_id": "ex5_answer_a", "locked": false, "schema_version": 3, "solution": true}
# Investigate here (add cells if you like), then set wrong_line = "A", "B", "C", "D" or "E".
### BEGIN SOLUTION
try:
    modelLossBuggy(netTwo, XFirst, T1First, T2First, 0.01)
except Exception as err:
    print(type(err).__name__, err)
Y2, Y1, _ = forward(netTwo, XFirst, Outputs=["softmax", "fc_angle"], return_state=True)
print("Y1:", Y1.shape, "Y2:", Y2.shape)       # Y1 holds the angles, Y2 the probabilities
wrong_line = "A"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex5_a", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex5.check("a")

# %% nbgrader={"grade": false, "grade_id": "ex5_answer_bc", "locked": false, "schema_version": 3, "solution": true}
def modelLossTwoHeads(net, X, T1, T2, angleWeight):
    ### BEGIN SOLUTION
    Y1, Y2, state = forward(net, X, Outputs=["softmax", "fc_angle"], return_state=True)
    lossLabels = crossentropy(Y1, T1)
    lossAngles = mse(Y2, T2)
    loss = lossLabels + angleWeight * lossAngles
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex5_b", "locked": true, "points": 2, "schema_version": 3, "solution": false}
ex5.check("b")
### BEGIN HIDDEN TESTS
ex5.check("b", seed=68)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex5_c", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex5.check("c")
### BEGIN HIDDEN TESTS
ex5.check("c", seed=69)
### END HIDDEN TESTS

# %% [markdown]
# ## 8. Two terms, one loss: the weight
#
# Adam follows the gradient of the **total** loss. If one term is a hundred times larger than the other, its
# gradients decide every step and the other head hardly learns. So look at the sizes of the two terms first — on the
# **untrained** network, before any step.
#
# ### Exercise 6 — choose the loss weight (2 points)
#
# **(a) (1 point)** Measure `lossLabels0`, the cross-entropy of the digit output, and `lossAngles0`, the `mse` of the
# angle output, of the untrained `netTwo` on `XFirst`, `T1First`, `T2First` (with `forward`, as in training; Python
# numbers).
#
# **(b) (1 point)** Choose `angleWeight` so that **both terms matter at the start**: the weighted angle term
# `angleWeight * lossAngles0` between a third of and three times `lossLabels0`. (Grading checks the same rule on
# another untrained network and another mini-batch, within 0.3–3.3 ×.) Written question 2 asks you to justify it.

# %% nbgrader={"grade": false, "grade_id": "ex6_answer", "locked": false, "schema_version": 3, "solution": true}
# lossLabels0 = ...
# lossAngles0 = ...
# angleWeight = ...
### BEGIN SOLUTION
Y1, Y2 = forward(netTwo, XFirst, Outputs=["softmax", "fc_angle"])
lossLabels0 = float(crossentropy(Y1, T1First))
lossAngles0 = float(mse(Y2, T2First))
angleWeight = lossLabels0 / lossAngles0
print(f"lossLabels0 = {lossLabels0:.3f}, lossAngles0 = {lossAngles0:.1f}, angleWeight = {angleWeight:.4f}")
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex6_a", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex6.check("a")

# %% nbgrader={"grade": true, "grade_id": "ex6_b", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex6.check("b")
### BEGIN HIDDEN TESTS
ex6.check("b", seed=70)
### END HIDDEN TESTS

# %% [markdown]
# **Train with it, watched live.** The loop of Section 5 with the state stored (`net.State = state`: batch
# normalization), 80 iterations of 64 images, and both terms in the monitor — each in its own plot, since their
# scales differ. It uses your `modelLossTwoHeads` and `angleWeight` once Exercises 5 and 6 pass; until then the
# lesson's loss and MATLAB's weight 0.1.

# %%
lossFcnTwo = modelLossTwoHeads if ex5.solved else lesson.reference_two_head_loss
weightToTrain = float(angleWeight) if ex6.solved else 0.1
XTest2, labelsTest2, anglesTest2 = digitTest4DArrayData()
XTest2 = dlarray(XTest2[:, :, :, :500], "SSCB")


def termsOf(net, X, T1, T2):
    Y1, Y2 = forward(net, X, Outputs=["softmax", "fc_angle"])
    return float(crossentropy(Y1, T1)), float(mse(Y2, T2))


def trainTwoHeads(angleWeight, numIterations=80, monitor=None, seed=0):
    # Returns the trained network; records LossLabels and LossAngles (unweighted) in the monitor, if given.
    np.random.seed(seed)
    net = addAngleHead(trunk, "relu_2") if yourHead else lesson.lesson_two_head_network(head_seed=seed)
    mbqTwo = minibatchqueue(XDigits[:, :, :, :2560], onehotencode(labelsDigits[:2560], 1, ClassNames=range(10)),
                            anglesDigits[:2560].reshape(1, -1), MiniBatchSize=64,
                            MiniBatchFormat=["SSCB", "", ""])
    averageGrad = averageSqGrad = None
    iteration = 0
    while iteration < numIterations and not (monitor is not None and monitor.Stop):
        shuffle(mbqTwo)
        while hasdata(mbqTwo) and iteration < numIterations and not (monitor is not None and monitor.Stop):
            iteration += 1
            X, T1, T2 = next_batch(mbqTwo)
            loss, gradients, state = dlfeval(lossFcnTwo, net, X, T1, T2, angleWeight)
            net.State = state
            net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, iteration,
                                                         0.01)
            if monitor is not None:
                lossLabels, lossAngles = termsOf(net, X, T1, T2) if iteration % 5 == 0 else (None, None)
                if lossLabels is not None:
                    recordMetrics(monitor, iteration, LossLabels=lossLabels, LossAngles=lossAngles)
                updateInfo(monitor, Iteration=f"{iteration} of {numIterations}")
                monitor.Progress = 100 * iteration / numIterations
    return net


def testScores(net):
    Y1, Y2 = predict(net, XTest2, Outputs=["softmax", "fc_angle"])
    accuracy = np.mean(np.argmax(extractdata(Y1), axis=0) == labelsTest2[:500])
    rmse = np.sqrt(np.mean((extractdata(Y2)[0] - anglesTest2[:500]) ** 2))
    return accuracy, rmse


# %%
# NBVAL_IGNORE_OUTPUT
monitor = trainingProgressMonitor(Metrics=["LossLabels", "LossAngles"], Info=["Iteration"], XLabel="Iteration")
numWatched = 800 if monitor.frontend == "widget" else 80
netTrained = trainTwoHeads(weightToTrain, numIterations=numWatched, monitor=monitor)
accuracy, rmse = testScores(netTrained)
print("model loss:", "your modelLossTwoHeads" if ex5.solved else "the lesson's (Exercise 5 not solved yet)",
      "| angleWeight:", "yours" if ex6.solved else "MATLAB's 0.1 (Exercise 6 not solved yet)")
print(f"angleWeight {weightToTrain:.3g}: test accuracy {accuracy:.2f}, angle RMSE {rmse:.1f} degrees")

# %% [markdown]
# And the same 80 iterations with three other weights — `1e-4` (the angle term hardly counts), MATLAB's `0.1` (the
# angle term about 13 × the cross-entropy at the start) and `10` — against two baselines: guessing the digit gives an
# accuracy of about 0.1, answering 0° for every image an RMSE of about 26°. (A few seconds.)

# %%
# NBVAL_IGNORE_OUTPUT
results = {weightToTrain: (accuracy, rmse)}
for w in (1e-4, 0.1, 10.0):
    results[w] = testScores(trainTwoHeads(w))
for w in sorted(results):
    print(f"angleWeight {w:7.4f}: test accuracy {results[w][0]:.2f}, angle RMSE {results[w][1]:5.1f} degrees")
print(f"baselines:            test accuracy 0.10, angle RMSE {np.sqrt(np.mean(anglesTest2[:500] ** 2)):5.1f} "
      "(always 0 degrees)")

# %% [markdown]
# Read the two columns together: the larger the weight, the better the angles and the worse the digits — one shared
# trunk, two goals. With a tiny weight the shared layers follow the digits alone and the angle head makes do with
# their features (the largest RMSE); with large weights the angle term rules the shared layers and the digit accuracy
# drops by several points. The balanced weight gives up little on either side. In 80 iterations the differences are a
# few points — they grow with longer training and with terms further apart; the numbers also vary from run to run
# (try `trainTwoHeads(w, seed=1)`). Note what does **not** matter: multiplying the *whole* loss by a constant. Adam
# divides each gradient by its own running size, so a weight matters only through the **ratio** of the terms, on the
# layers that both terms reach.
#
# ## 9. The same loss in Neural Network Console
#
# Lesson 02: NNC minimises, for the training network, the **sum of the means of its terminal outputs**. A network with
# two heads and a loss layer after each is exactly our situation — MATLAB adds two numbers, NNC adds two means. The
# digit term alone, written NNC's way: `CategoricalCrossEntropy` takes the probabilities and the class **indices**
# (not one-hot) and outputs one loss value per observation; `nnc_loss` takes the mean:

# %%
Y1, Y2 = forward(netTwo, XFirst, Outputs=["softmax", "fc_angle"])
labelsFirst = labelsDigits[:128].reshape(1, -1)            # class indices, 1 x 128
digitTerminal = CategoricalCrossEntropy(Y1, labelsFirst)    # one value per observation
print("terminal output:", digitTerminal.shape)
print(f"nnc_loss(digitTerminal)  = {float(nnc_loss(digitTerminal)):.6f}")
print(f"crossentropy(Y1, T1First) = {float(crossentropy(Y1, T1First)):.6f}")

# %% [markdown]
# ### Exercise 7 — the weighted loss as NNC's terminal outputs (3 points)
#
# Write `nncTerminals(Y1, Y2, labels, T2, angleWeight)`: the list of the terminal outputs of an NNC network, built
# from `dlteach.nnc`'s layers (`CategoricalCrossEntropy`, `SquaredError`, `MulScalar`, ...), such that NNC's loss
# `nnc_loss(*terminals)` is **MATLAB's** `crossentropy(Y1, T1) + angleWeight * mse(Y2, T2)`. `labels` are the class
# indices (1 × B), `T1` would be their one-hot encoding.
#
# * **(a) (2 points)** `nnc_loss(*nncTerminals(...))` equals MATLAB's loss, with the same gradients with respect to
#   `Y1` and `Y2` (inside `dlfeval`);
# * **(b) (1 point)** each terminal is what an NNC loss layer outputs: **one loss value per observation** (NNC takes
#   the mean itself).

# %% nbgrader={"grade": false, "grade_id": "ex7_answer", "locked": false, "schema_version": 3, "solution": true}
def nncTerminals(Y1, Y2, labels, T2, angleWeight):
    ### BEGIN SOLUTION
    digit = CategoricalCrossEntropy(Y1, labels)
    angle = MulScalar(SquaredError(Y2, T2), angleWeight / 2)
    return [digit, angle]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex7_a", "locked": true, "points": 2, "schema_version": 3, "solution": false}
ex7.check("a")
### BEGIN HIDDEN TESTS
ex7.check("a", seed=71)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex7_b", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex7.check("b")
### BEGIN HIDDEN TESTS
ex7.check("b", seed=72)
### END HIDDEN TESTS

# %% [markdown]
# The weight is no special feature in NNC: it is one more layer (`MulScalar`) before a terminal — and MATLAB's `mse`
# hides a factor 1/2 that NNC's `SquaredError` does not have. Two frameworks, one rule: **the loss is a sum of terms,
# and every term is a mean.**
#
# ## 10. Written questions
#
# Answer in a few sentences each, in the cell below the question (double-click it to edit). These are graded by your
# instructor, not by a check.
#
# **Question 1 (1 point).** The sequence classifier's loop never stores `net.State = state`; the two-output network's
# loop does, every iteration. Explain both choices — what is in each network's state, and what would go wrong with the
# other choice in each case. Describe a task where you *would* store an LSTM's state between mini-batches.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written1", "locked": false, "points": 1, "schema_version": 3, "solution": true}
# *Model answer (only in the instructor version; learners get an empty answer cell).*
#
# LSTM state: hidden and cell state = where the sequences of the last mini-batch ended. The sequences are
# independent, so each mini-batch must start from zero: storing it would start unrelated waveforms from another
# sequence's end (and break when the batch size changes: the columns do not match). Batch normalization's state:
# running mean and variance used by predict; not storing them leaves predict with mean 0 / variance 1 (lesson 04,
# bug b). Store an LSTM's state when consecutive mini-batches are consecutive pieces of the same long sequences
# (truncated backpropagation through time over a long recording, a language model over a text), or when predicting
# step by step, feeding one time step at a time.

# %% [markdown]
# **Question 2 (1 point).** Justify your `angleWeight` of Exercise 6 from the magnitudes you measured: why is the
# untrained angle term so large (think of the angles' range and what `mse` computes), and what would MATLAB's 0.1 mean
# for the first steps? Name one other way to balance the two terms without a weight, and say why "balanced at the
# start" need not stay balanced during training.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written2", "locked": false, "points": 1, "schema_version": 3, "solution": true}
# *Model answer (only in the instructor version; learners get an empty answer cell).*
#
# The cross-entropy of an untrained 10-class network is about log 10 = 2.3; the angles are U(-45, 45) degrees, so
# their variance is 90^2/12 = 675 and mse (half the mean squared error) of an output near 0 is about 340 (measured
# ~370). angleWeight ~ 2.3/400 ~ 0.006 makes both terms about equal; with 0.1 the angle term is ~13x the
# cross-entropy and its gradients dominate the first steps (the digit head learns slowly). Other ways: scale the
# targets (angles in radians, or divided by 45, i.e. normalised to unit variance), which changes mse by the square of
# the factor; or normalise each term by its initial value. The terms fall at different rates (the cross-entropy may
# fall fast while the angle error stays), so their ratio changes during training; monitor both terms (as the monitor
# does) and both metrics, or adapt the weights.

# %% [markdown]
# **Question 3 (1 point).** For a **sequence-to-sequence** network (`OutputMode="sequence"`, one label per time step,
# e.g. the activity at every moment of a recording), would you pad on the left or on the right? What must the loss do
# with the padded time steps, and which output of `padsequences` (and which option of `crossentropy`) helps?

# %% [markdown] nbgrader={"grade": true, "grade_id": "written3", "locked": false, "points": 1, "schema_version": 3, "solution": true}
# *Model answer (only in the instructor version; learners get an empty answer cell).*
#
# Right padding: the LSTM is causal, so the outputs of the real time steps do not depend on zeros after them (they
# are exactly the unpadded sequence's); left padding would feed zeros first and change every real step's state.
# The outputs at the padded steps are meaningless and must not count: pad the targets too and mask them out of the
# loss, with the mask that padsequences returns (crossentropy(..., Mask=mask) and a normalisation that counts only
# the real steps, NormalizationFactor="mask-included"), or select the real steps.

# %% [markdown] nbgrader={"grade": false, "grade_id": "summary", "locked": true, "schema_version": 3, "solution": false}
# ## 11. MATLAB ↔ Python, side by side
#
# | | MATLAB | Python (dlteach) |
# |---|---|---|
# | a list of sequences | cell array `data{i}` | list `data[i]` |
# | pad, with mask | `[XPad,mask] = padsequences(X,1,Direction="left")` | `XPad, mask = padsequences(X, 1, Direction="left", return_mask=True)` |
# | sequence formats | `dlarray(XPad,"TCB")` → `'CBT'` | `dlarray(XPad, "TCB")` → `'CBT'` |
# | datastores | `combine(arrayDatastore(XTrain,OutputType="same"),arrayDatastore(TTrain))` | `combine(arrayDatastore(XTrain, OutputType="same"), arrayDatastore(TTrain))` |
# | queue | `minibatchqueue(ds,MiniBatchFcn=@f,MiniBatchFormat=["TCB" ""])` | `minibatchqueue(ds, MiniBatchFcn=f, MiniBatchFormat=["TCB", ""])` |
# | one-hot targets | `onehotencode(T,1)` (categorical: all classes) | `onehotencode(T, 1, ClassNames=classNames)` |
# | LSTM | `lstmLayer(H,OutputMode="last")` | `lstmLayer(H, OutputMode="last")` |
# | forget the state | `net = resetState(net)` | `net = resetState(net)` |
# | graph | `addLayers`, `connectLayers(net,"a","add/in2")`, `initialize` | `addLayers`, `connectLayers(net, "a", "add/in2")`, `initialize` |
# | several outputs | `[Y1,Y2,state] = forward(net,X,Outputs=["softmax" "fc_angle"])` | `Y1, Y2, state = forward(net, X, Outputs=["softmax", "fc_angle"], return_state=True)` |
# | the page's loss | `loss = crossentropy(Y1,T1) + 0.1*mse(Y2,T2)` | `loss = crossentropy(Y1, T1) + 0.1 * mse(Y2, T2)` |
#
# ## 12. Summary
#
# * Sequences of different lengths are a **list**; a mini-batch must be one array, so the `MiniBatchFcn` **pads**
#   them (`padsequences`, `paddingDim` counted from 1) and the queue formats them `"TCB"`, stored **`"CBT"`**.
# * The mini-batch function gets **one list per datastore column**; targets need **every** class in a fixed order,
#   whatever the mini-batch holds.
# * `OutputMode="last"` reads the last time step **of the array**: pad **left** for sequence-to-label networks (or
#   pick each sequence's own last step from the sequence output, which is exact).
# * An LSTM's state is where the sequences ended: do not store it between independent mini-batches; batch
#   normalization's state must be stored.
# * A graph network is built **by name**: `addLayers`, `connectLayers(net, source, "layer/port")`, `initialize`; its
#   outputs are the layers whose output goes nowhere; `forward(..., Outputs=[...])` returns them **in the order you
#   list**.
# * A loss of several terms is a **weighted sum**; choose the weights from the terms' magnitudes (and watch both
#   terms during training). It is NNC's rule again: the sum of the means of the terminal outputs.
#
# ## 13. Experiments (ungraded)
#
# Open questions to try in new cells — nothing here is graded.
#
# 1. Train the sequence classifier with `Direction="right"` in the mini-batch function (and in the test set): how much
#    worse is the accuracy? Then with `gruLayer(numHiddenUnits, OutputMode="last")` instead of the LSTM.
# 2. Sort the training sequences by length before making the datastore (and do not shuffle): how much padding does an
#    epoch contain before and after (`(~mask).sum()`)? What does the training loss curve look like, and why does
#    MATLAB warn that such mini-batches are not random?
# 3. Scale the angle targets to radians (`np.deg2rad`) and train with `angleWeight = 1`: compare with your weight.
# 4. Connect the angle head to `"softmax"` instead of `"relu_2"` and train: what RMSE do you get, and why?
# 5. Replace `mse` by `huber(Y2, T2, TransitionPoint=5)` or `l1loss`: how do the magnitudes of the angle term change,
#    and which weight would you choose now?
