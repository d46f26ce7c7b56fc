# ---
# jupyter:
#   dlteach:
#     example: true
#     seed: 'MATLAB: Train Sequence Classification Network Using Custom Training Loop'
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

# %% [markdown]
# # Train Sequence Classification Network Using Custom Training Loop
#
# *An example, not a graded lesson.* It follows the structure of MATLAB's documentation page **"Train Sequence
# Classification Network Using Custom Training Loop"** step by step, with the MATLAB code (in grey boxes) next to the
# Python code that does the same with `dlteach`. Run the cells from the top; the whole notebook takes a few seconds.
#
# The example trains an LSTM network to recognise the type of a waveform — sawtooth, sine, square or triangle — from a
# sequence of three-channel measurements. What is new compared with the lessons:
#
# * **sequence data**: a *list* of sequences of different lengths (MATLAB: a cell array), the `"CBT"` / `"TCB"`
#   formats, and `padsequences` to bring the sequences of a mini-batch to the same length;
# * **datastores**: `arrayDatastore` and `combine` feed the `minibatchqueue`, whose `MiniBatchFcn` receives *lists*
#   (MATLAB: cell arrays) of observations;
# * **`sequenceInputLayer` and `lstmLayer`** with `OutputMode="last"`.
#
# **Data.** MATLAB's page loads `WaveformData.mat`. That file does not come with dlteach (and nothing is downloaded),
# so `load_waveforms()` makes a data set of the same shape from formulas: sequences of 3 channels, time steps down the
# rows, of 40 to 60 time steps. To make the example train in seconds, each waveform type also has its own frequency
# band (see `help(load_waveforms)`), so expect a higher accuracy than with MATLAB's data.

# %%
import numpy as np
import matplotlib.pyplot as plt

from dlteach import (arrayDatastore, combine, minibatchqueue, hasdata, shuffle,           # data
                     padsequences, onehotencode, onehotdecode, load_waveforms,
                     sequenceInputLayer, lstmLayer, fullyConnectedLayer, softmaxLayer,  # network
                     dlnetwork, forward, predict,
                     dlfeval, dlgradient, crossentropy, adamupdate,                      # training
                     trainingProgressMonitor, recordMetrics, updateInfo)
from dlteach import next          # MATLAB's next(mbq); on anything else it behaves like Python's next

np.random.seed(0)                 # MATLAB: rng(0) -- the network's initial weights and the shuffles

# %% [markdown]
# ## Load Training Data
#
# ```matlab
# load WaveformData
# numChannels = size(data{1},2);
# data(1:4)
# classNames = categories(labels)
# ```
#
# `data` is a list of sequences, each an array of size *numTimeSteps x numChannels* (as in MATLAB's file); `labels`
# holds the waveform type of each sequence.

# %%
data, labels = load_waveforms(500, max_length=60)
numChannels = data[0].shape[1]
print([x.shape for x in data[:4]])
classNames = np.unique(labels)          # MATLAB: categories(labels)
print(classNames)

# %% [markdown]
# Plot the first few sequences (MATLAB: `stackedplot(data{i})` in a loop).

# %%
# NBVAL_IGNORE_OUTPUT
fig, axes = plt.subplots(2, 2, figsize=(9, 4.5), sharex=True)
for ax, x, label in zip(axes.flat, data, labels):
    ax.plot(x)
    ax.set_title(label)
fig.supxlabel("Time step")
fig.tight_layout()
plt.show()

# %% [markdown]
# Set aside 10 % of the observations for testing.
#
# ```matlab
# numObservations = numel(data);
# [idxTrain,idxTest] = trainingPartitions(numObservations,[0.9 0.1]);
# XTrain = data(idxTrain);  TTrain = labels(idxTrain);
# XTest = data(idxTest);    TTest = labels(idxTest);
# ```

# %%
numObservations = len(data)
idx = np.random.permutation(numObservations)
idxTrain, idxTest = idx[:int(0.9 * numObservations)], idx[int(0.9 * numObservations):]
XTrain = [data[i] for i in idxTrain]
TTrain = labels[idxTrain]
XTest = [data[i] for i in idxTest]
TTest = labels[idxTest]
print(len(XTrain), "training and", len(XTest), "test sequences")

# %% [markdown]
# ## Define Network
#
# ```matlab
# numHiddenUnits = 32;
# numClasses = numel(classNames);
# layers = [
#     sequenceInputLayer(numChannels)
#     lstmLayer(numHiddenUnits,OutputMode="last")
#     fullyConnectedLayer(numClasses)
#     softmaxLayer];
# net = dlnetwork(layers)
# ```
#
# `OutputMode="last"`: the LSTM layer passes on only its output at the last time step — one vector per sequence,
# which the fully connected layer turns into class scores.

# %%
numHiddenUnits = 32
numClasses = len(classNames)
layers = [
    sequenceInputLayer(numChannels),
    lstmLayer(numHiddenUnits, OutputMode="last"),
    fullyConnectedLayer(numClasses),
    softmaxLayer()]
net = dlnetwork(layers)
net.Learnables

# %% [markdown]
# The LSTM layer's learnables have MATLAB's layout: `InputWeights` is 4·H x C, `RecurrentWeights` 4·H x H and
# `Bias` 4·H x 1, the four gates stacked as input gate, forget gate, cell candidate, output gate. Its `State`
# holds the hidden and cell states.

# %%
net.State

# %% [markdown]
# ## Define Model Loss Function
#
# The page puts its functions at the end (*Supporting Functions*); Python needs them before they are used, so they are
# here.
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
# ## Mini-Batch Preprocessing Function
#
# The `minibatchqueue` hands `preprocessMiniBatch` one list (MATLAB: cell array) per datastore column: `dataX` holds the
# mini-batch's sequences, `dataT` their labels. `padsequences(dataX, 1)` pads the sequences along dimension 1 (the time
# steps) to the longest one and stacks them: *numTimeSteps x numChannels x miniBatchSize*, which the queue labels
# `"TCB"`.
#
# ```matlab
# function [X,T] = preprocessMiniBatch(dataX,dataT)
#     X = padsequences(dataX,1,Direction="left");
#     T = onehotencode(cat(1,dataT{:}),2);   % categorical labels -> one-hot
# end
# ```
#
# *Left* padding: the zeros go before the data, so the last time step — the only output the network uses with
# `OutputMode="last"` — always belongs to the sequence (MATLAB's advice for sequence-to-label networks).

# %%
def preprocessMiniBatch(dataX, dataT):
    X = padsequences(dataX, 1, Direction="left")
    T = onehotencode(np.concatenate(dataT), 1, ClassNames=classNames)   # classes x observations
    return X, T


XPad, mask = padsequences(XTrain[:3], 1, Direction="left", return_mask=True)   # [XPad,mask] = padsequences(...)
print([x.shape[0] for x in XTrain[:3]], "->", XPad.shape, "; padded time steps per sequence:", (~mask[:, 0, :]).sum(axis=0))

# %% [markdown]
# ## Specify Training Options
#
# ```matlab
# numEpochs = 25;
# miniBatchSize = 32;
# learnRate = 0.005;
# ```

# %%
numEpochs = 25
miniBatchSize = 32
learnRate = 0.005

# %% [markdown]
# ## Train Model
#
# Datastores for the predictors and the targets, combined so that a read returns one sequence and its label:
#
# ```matlab
# dsXTrain = arrayDatastore(XTrain,OutputType="same");
# dsTTrain = arrayDatastore(TTrain);
# dsTrain = combine(dsXTrain,dsTTrain);
#
# mbq = minibatchqueue(dsTrain,...
#     MiniBatchSize=miniBatchSize,...
#     MiniBatchFcn=@preprocessMiniBatch,...
#     MiniBatchFormat=["TCB" ""]);
# ```
#
# `OutputType="same"`: a read returns the sequence itself (in a one-element list), not a list inside a list.

# %%
dsXTrain = arrayDatastore(XTrain, OutputType="same")
dsTTrain = arrayDatastore(TTrain)
dsTrain = combine(dsXTrain, dsTTrain)
x1, t1 = dsTrain.read()       # one observation: [sequence, label] (MATLAB: a 1x2 cell array)
print(x1.shape, t1)
dsTrain.reset()

mbq = minibatchqueue(dsTrain,
                     MiniBatchSize=miniBatchSize,
                     MiniBatchFcn=preprocessMiniBatch,
                     MiniBatchFormat=["TCB", ""])
X, T = next(mbq)
print(X.fmt, X.shape, "|", T.shape)

# %% [markdown]
# The data format `"TCB"` is stored in MATLAB's order `"CBT"` (channels x observations x time steps).
#
# The training loop, with Adam and a training progress monitor:
#
# ```matlab
# averageGrad = [];
# averageSqGrad = [];
# numObservationsTrain = numel(XTrain);
# numIterationsPerEpoch = ceil(numObservationsTrain / miniBatchSize);
# numIterations = numEpochs * numIterationsPerEpoch;
# monitor = trainingProgressMonitor(Metrics="Loss",Info="Epoch",XLabel="Iteration");
#
# iteration = 0;
# epoch = 0;
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
#         monitor.Progress = 100 * iteration/numIterations;
#     end
# end
# ```

# %%
# NBVAL_IGNORE_OUTPUT
averageGrad = None
averageSqGrad = None
numObservationsTrain = len(XTrain)
numIterationsPerEpoch = -(-numObservationsTrain // miniBatchSize)     # ceil
numIterations = numEpochs * numIterationsPerEpoch
monitor = trainingProgressMonitor(Metrics="Loss", Info="Epoch", XLabel="Iteration")

iteration = 0
epoch = 0
while epoch < numEpochs and not monitor.Stop:
    epoch += 1
    shuffle(mbq)
    while hasdata(mbq) and not monitor.Stop:
        iteration += 1
        X, T = next(mbq)
        loss, gradients = dlfeval(modelLoss, net, X, T)
        net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, iteration, learnRate)
        recordMetrics(monitor, iteration, Loss=loss)
        updateInfo(monitor, Epoch=f"{epoch} of {numEpochs}")
        monitor.Progress = 100 * iteration / numIterations

# %% [markdown]
# The network's `State` was not stored (`net.State = state`) in this loop, as on MATLAB's page: the sequences are
# independent, so every mini-batch starts from the initial (zero) hidden and cell states.

# %%
print(f"{iteration} iterations; loss of the last mini-batch: {float(loss):.2f}")

# %% [markdown]
# ## Test Model
#
# The test queue has one output: the padded predictors (no labels, so `numOutputs` 1 is given as MATLAB's second
# argument), and `PartialMiniBatch="return"` (the default) keeps every test sequence.
#
# ```matlab
# dsXTest = arrayDatastore(XTest,OutputType="same");
# mbqTest = minibatchqueue(dsXTest,1,...
#     MiniBatchSize=miniBatchSize,...
#     MiniBatchFcn=@(X) padsequences(X,1,Direction="left"),...
#     MiniBatchFormat="TCB");
# YTest = modelPredictions(net,mbqTest,classNames);
# accuracy = mean(YTest == TTest)
# confusionchart(TTest,YTest)
#
# function Y = modelPredictions(net,mbq,classNames)
#     Y = [];
#     while hasdata(mbq)
#         X = next(mbq);
#         scores = predict(net,X);
#         Y = [Y; onehotdecode(scores,classNames,1)'];
#     end
# end
# ```

# %%
def modelPredictions(net, mbq, classNames):
    Y = []
    while hasdata(mbq):
        X = next(mbq)
        scores = predict(net, X)
        Y.append(onehotdecode(scores, classNames, 1))
    return np.concatenate(Y)


dsXTest = arrayDatastore(XTest, OutputType="same")
mbqTest = minibatchqueue(dsXTest, 1,
                         MiniBatchSize=miniBatchSize,
                         MiniBatchFcn=lambda X: padsequences(X, 1, Direction="left"),
                         MiniBatchFormat="TCB")
YTest = modelPredictions(net, mbqTest, classNames)
accuracy = np.mean(YTest == TTest)
print(f"test accuracy: {accuracy:.2f}")

# %% [markdown]
# A confusion matrix in place of MATLAB's `confusionchart`: rows are the true classes, columns the predicted ones.

# %%
# NBVAL_IGNORE_OUTPUT
confusion = np.array([[np.sum((TTest == t) & (YTest == p)) for p in classNames] for t in classNames])
fig, ax = plt.subplots(figsize=(4.5, 4))
ax.imshow(confusion, cmap="Blues")
for i in range(numClasses):
    for j in range(numClasses):
        ax.text(j, i, confusion[i, j], ha="center", va="center")
ax.set_xticks(range(numClasses), classNames, rotation=45)
ax.set_yticks(range(numClasses), classNames)
ax.set_xlabel("Predicted class")
ax.set_ylabel("True class")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What next
#
# * Try `gruLayer(numHiddenUnits, OutputMode="last")` in place of the LSTM layer.
# * Pad on the right (`Direction="right"`, the default) and compare the accuracy: the last time step of a short
#   sequence is then padding.
# * The model-function form of the same network uses `lstm(X, H0, C0, weights, recurrentWeights, bias)` with the
#   learnables in a dictionary — see `help(lstm)`.
