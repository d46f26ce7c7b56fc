# ---
# jupyter:
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
# # Example: Train Network Using Model Function
#
# *Gallery example (ungraded). It follows MATLAB's documentation example **"Train Network Using Model
# Function"** section by section: the MATLAB code of the page first, then the same code in Python with
# `dlteach`.*
#
# This example creates and trains a deep learning network written as a **function** instead of a `dlnetwork`.
# The advantage is flexibility: any computation you can write with `dlarray` functions is a model. The
# price: you create, store and update the learnable parameters yourself (a `struct` in MATLAB, a `dict` here),
# and you manage the batch-normalization **state** yourself.
#
# The data are images of handwritten digits; the network has two objectives: classify the digit and
# predict the angle by which it is rotated from the vertical.
#
# **Differences from the MATLAB page** (for speed, or because nothing is downloaded):
#
# * the images are the 4,000 real MNIST digits shipped with dlteach, each rotated by a known angle from
#   U(-45°, 45°) (`digitTrain4DArrayData`); MATLAB's set is 5,000 synthetic digits;
# * **2 epochs** instead of the page's 20, so that the notebook runs in about 20 seconds on a shared laptop
#   core: the accuracy and the angle error below are those of a short training, not of the page's;
# * MATLAB's page keeps the helper functions (`model`, `modelLoss`, ...) at the end of the script; Python
#   must define a function before calling it, so each one is defined where the page introduces it.

# %%
import matplotlib.pyplot as plt
import numpy as np

from dlteach import (
    adamupdate, arrayDatastore, batchnorm, combine, crossentropy, digitTest4DArrayData, digitTrain4DArrayData,
    dlconv, dlfeval, dlgradient, extractdata, fullyconnect, hasdata, initializeGlorot, initializeOnes,
    initializeZeros, minibatchqueue, mse, onehotdecode, onehotencode, recordMetrics, relu, shuffle, softmax,
    trainingProgressMonitor, updateInfo,
)
from dlteach import next as next_batch  # MATLAB's next(mbq); renamed so Python's next stays untouched

np.random.seed(0)  # MATLAB: rng("default")

# %% [markdown]
# ## Load Training Data
#
# `digitTrain4DArrayData` returns the images, their digit labels and their angles of rotation. An
# `arrayDatastore` for each, combined into one datastore that returns an image, its label and its angle per
# observation.
#
# ```matlab
# [XTrain,T1Train,T2Train] = digitTrain4DArrayData;
#
# dsXTrain = arrayDatastore(XTrain,IterationDimension=4);
# dsT1Train = arrayDatastore(T1Train);
# dsT2Train = arrayDatastore(T2Train);
#
# dsTrain = combine(dsXTrain,dsT1Train,dsT2Train);
#
# classNames = categories(T1Train);
# numClasses = numel(classNames);
# numObservations = numel(T1Train);
# ```
#
# MATLAB's labels are `categorical`; here they are the integers 0–9, so `classNames` is simply `0, ..., 9`.

# %%
XTrain, T1Train, T2Train = digitTrain4DArrayData()

dsXTrain = arrayDatastore(XTrain, IterationDimension=4)
dsT1Train = arrayDatastore(T1Train)
dsT2Train = arrayDatastore(T2Train)

dsTrain = combine(dsXTrain, dsT1Train, dsT2Train)

classNames = np.unique(T1Train)          # MATLAB: categories(T1Train)
numClasses = len(classNames)
numObservations = len(T1Train)
print(XTrain.shape, XTrain.dtype, "| classes", classNames, "| observations", numObservations)

# %% [markdown]
# View some images from the training data.
#
# ```matlab
# idx = randperm(numObservations,64);
# I = imtile(XTrain(:,:,:,idx));
# figure
# imshow(I)
# ```

# %%
# NBVAL_IGNORE_OUTPUT
idx = np.random.permutation(numObservations)[:64]          # randperm(numObservations,64), 0-based
I = np.block([[XTrain[:, :, 0, idx[8 * r + c]] for c in range(8)] for r in range(8)])   # imtile
plt.figure(figsize=(4, 4))
plt.imshow(I, cmap="gray")
plt.axis("off")
plt.show()

# %% [markdown]
# ## Define Deep Learning Model
#
# The network predicts both the label and the angle of rotation:
#
# * a convolution-batchnorm-ReLU block with 16 5×5 filters;
# * a branch of two convolution-batchnorm blocks, each with 32 3×3 filters, with a ReLU in between (the first
#   with stride 2);
# * a skip connection: a convolution-batchnorm block with 32 1×1 filters (stride 2);
# * both branches combined by addition, then a ReLU;
# * for the angle (regression), a fully connected operation of size 1 (the number of responses);
# * for the label (classification), a fully connected operation of size 10 (the number of classes) and a softmax.
#
# ### Define and Initialize Model Parameters and State
#
# Each operation's parameters go into a nested structure, `parameters.OperationName.ParameterName`
# (Python: `parameters["conv1"]["Weights"]`). The weights are initialized with `initializeGlorot`, the biases
# and batch-normalization offsets with `initializeZeros`, the scales with `initializeOnes`. In MATLAB these
# functions are supporting files of the example; dlteach ships them under the same names (see the gallery
# notebook *Initialize Learnable Parameters for Model Function* for their formulas). They return `dlarray`
# objects of underlying type single (float32).
#
# Batch normalization also needs **state**: the running mean and variance of each channel, used for
# prediction. They go into a second structure, `state`, and they are plain arrays, *not* `dlarray` objects (they
# are not learned by gradient descent).
#
# The first convolution, `"conv1"`:
#
# ```matlab
# filterSize = [5 5];
# numChannels = 1;
# numFilters = 16;
#
# sz = [filterSize numChannels numFilters];
# numOut = prod(filterSize) * numFilters;
# numIn = prod(filterSize) * numFilters;
#
# parameters.conv1.Weights = initializeGlorot(sz,numOut,numIn);
# parameters.conv1.Bias = initializeZeros([numFilters 1]);
# ```
#
# Note the page's `numIn = prod(filterSize) * numFilters`: by the Glorot formula (and MATLAB's
# `convolution2dLayer`) the fan-in of a convolution is `prod(filterSize) * numChannels`. The page's line is kept
# as written, so the code below is the page's; for `conv1` it makes the bound sqrt(6/800) instead of
# sqrt(6/425), a slightly narrower start that training does not mind.

# %%
parameters = {}
state = {}

filterSize = [5, 5]
numChannels = 1
numFilters = 16

sz = [*filterSize, numChannels, numFilters]
numOut = np.prod(filterSize) * numFilters
numIn = np.prod(filterSize) * numFilters          # as on the page (the formula says numChannels)

parameters["conv1"] = {}
parameters["conv1"]["Weights"] = initializeGlorot(sz, numOut, numIn)
parameters["conv1"]["Bias"] = initializeZeros([numFilters, 1])

# %% [markdown]
# The first batch normalization, `"batchnorm1"`: learnable offset and scale, and the state.
#
# ```matlab
# parameters.batchnorm1.Offset = initializeZeros([numFilters 1]);
# parameters.batchnorm1.Scale = initializeOnes([numFilters 1]);
# state.batchnorm1.TrainedMean = zeros(numFilters,1,"single");
# state.batchnorm1.TrainedVariance = ones(numFilters,1,"single");
# ```

# %%
parameters["batchnorm1"] = {"Offset": initializeZeros([numFilters, 1]), "Scale": initializeOnes([numFilters, 1])}
state["batchnorm1"] = {"TrainedMean": np.zeros((numFilters, 1), np.float32),
                       "TrainedVariance": np.ones((numFilters, 1), np.float32)}

# %% [markdown]
# The second and third convolutions with their batch normalizations (`"conv2"`, `"batchnorm2"`, `"conv3"`,
# `"batchnorm3"`), then the skip connection (`"convSkip"`, `"batchnormSkip"`): the same code with other sizes.
#
# ```matlab
# filterSize = [3 3];
# numChannels = 16;
# numFilters = 32;
# sz = [filterSize numChannels numFilters];
# numOut = prod(filterSize) * numFilters;
# numIn = prod(filterSize) * numFilters;
# parameters.conv2.Weights = initializeGlorot(sz,numOut,numIn);
# parameters.conv2.Bias = initializeZeros([numFilters 1]);
# parameters.batchnorm2.Offset = initializeZeros([numFilters 1]);
# parameters.batchnorm2.Scale = initializeOnes([numFilters 1]);
# state.batchnorm2.TrainedMean = zeros(numFilters,1,"single");
# state.batchnorm2.TrainedVariance = ones(numFilters,1,"single");
#
# filterSize = [3 3];
# numChannels = 32;
# numFilters = 32;
# ... % conv3 and batchnorm3: the same lines
#
# filterSize = [1 1];
# numChannels = 16;
# numFilters = 32;
# ... % convSkip and batchnormSkip: the same lines
# ```

# %%
for convName, bnName, filterSize, numChannels, numFilters in [
        ("conv2", "batchnorm2", [3, 3], 16, 32),
        ("conv3", "batchnorm3", [3, 3], 32, 32),
        ("convSkip", "batchnormSkip", [1, 1], 16, 32)]:
    sz = [*filterSize, numChannels, numFilters]
    numOut = np.prod(filterSize) * numFilters
    numIn = np.prod(filterSize) * numFilters      # as on the page
    parameters[convName] = {"Weights": initializeGlorot(sz, numOut, numIn),
                            "Bias": initializeZeros([numFilters, 1])}
    parameters[bnName] = {"Offset": initializeZeros([numFilters, 1]), "Scale": initializeOnes([numFilters, 1])}
    state[bnName] = {"TrainedMean": np.zeros((numFilters, 1), np.float32),
                     "TrainedVariance": np.ones((numFilters, 1), np.float32)}

# %% [markdown]
# The two fully connected operations. Their input is the 14×14×32 output of the addition (the stride-2
# convolutions halve 28×28), so the input size is 14·14·32 = 6272.
#
# ```matlab
# sz = [numClasses 6272];
# numOut = numClasses;
# numIn = 6272;
# parameters.fc1.Weights = initializeGlorot(sz,numOut,numIn);
# parameters.fc1.Bias = initializeZeros([numClasses 1]);
#
# numResponses = 1;
# sz = [numResponses 6272];
# numOut = numResponses;
# numIn = 6272;
# parameters.fc2.Weights = initializeGlorot(sz,numOut,numIn);
# parameters.fc2.Bias = initializeZeros([numResponses 1]);
# ```

# %%
sz = [numClasses, 6272]
numOut = numClasses
numIn = 6272
parameters["fc1"] = {"Weights": initializeGlorot(sz, numOut, numIn), "Bias": initializeZeros([numClasses, 1])}

numResponses = 1
sz = [numResponses, 6272]
numOut = numResponses
numIn = 6272
parameters["fc2"] = {"Weights": initializeGlorot(sz, numOut, numIn), "Bias": initializeZeros([numResponses, 1])}

# %% [markdown]
# View the structures (MATLAB: `parameters`, `parameters.conv1`, `state`, `state.batchnorm1`).

# %%
for name, p in parameters.items():
    print(f"{name:14s}", {k: f"{'x'.join(map(str, v.shape))} {extractdata(v).dtype} dlarray" for k, v in p.items()})
print()
for name, s in state.items():
    print(f"{name:14s}", {k: f"{'x'.join(map(str, v.shape))} {v.dtype} {type(v).__name__}" for k, v in s.items()})

# %% [markdown]
# ### Define Model Function
#
# `model` computes the two outputs. It takes the parameters, the input data, the flag `doTraining` (training or
# prediction: batch normalization uses the mini-batch statistics and updates the running statistics only in
# training) and the state; it returns the label probabilities, the angles and the updated state.
#
# ```matlab
# function [Y1,Y2,state] = model(parameters,X,doTraining,state)
#
# % Convolution
# weights = parameters.conv1.Weights;
# bias = parameters.conv1.Bias;
# Y = dlconv(X,weights,bias,Padding="same");
#
# % Batch normalization, ReLU
# offset = parameters.batchnorm1.Offset;
# scale = parameters.batchnorm1.Scale;
# trainedMean = state.batchnorm1.TrainedMean;
# trainedVariance = state.batchnorm1.TrainedVariance;
#
# if doTraining
#     [Y,trainedMean,trainedVariance] = batchnorm(Y,offset,scale,trainedMean,trainedVariance);
#
#     % Update state
#     state.batchnorm1.TrainedMean = trainedMean;
#     state.batchnorm1.TrainedVariance = trainedVariance;
# else
#     Y = batchnorm(Y,offset,scale,trainedMean,trainedVariance);
# end
#
# Y = relu(Y);
#
# % Convolution, batch normalization (Skip connection)
# weights = parameters.convSkip.Weights;
# bias = parameters.convSkip.Bias;
# YSkip = dlconv(Y,weights,bias,Stride=2);
#
# offset = parameters.batchnormSkip.Offset;
# scale = parameters.batchnormSkip.Scale;
# trainedMean = state.batchnormSkip.TrainedMean;
# trainedVariance = state.batchnormSkip.TrainedVariance;
#
# if doTraining
#     [YSkip,trainedMean,trainedVariance] = batchnorm(YSkip,offset,scale,trainedMean,trainedVariance);
#
#     % Update state
#     state.batchnormSkip.TrainedMean = trainedMean;
#     state.batchnormSkip.TrainedVariance = trainedVariance;
# else
#     YSkip = batchnorm(YSkip,offset,scale,trainedMean,trainedVariance);
# end
#
# % Convolution
# weights = parameters.conv2.Weights;
# bias = parameters.conv2.Bias;
# Y = dlconv(Y,weights,bias,Padding="same",Stride=2);
#
# % Batch normalization, ReLU
# ... % batchnorm2: the same lines as batchnorm1
# Y = relu(Y);
#
# % Convolution
# weights = parameters.conv3.Weights;
# bias = parameters.conv3.Bias;
# Y = dlconv(Y,weights,bias,Padding="same");
#
# % Batch normalization
# ... % batchnorm3: the same lines as batchnorm1
#
# % Addition, ReLU
# Y = YSkip + Y;
# Y = relu(Y);
#
# % Fully connect, softmax (labels)
# weights = parameters.fc1.Weights;
# bias = parameters.fc1.Bias;
# Y1 = fullyconnect(Y,weights,bias);
# Y1 = softmax(Y1);
#
# % Fully connect (angles)
# weights = parameters.fc2.Weights;
# bias = parameters.fc2.Bias;
# Y2 = fullyconnect(Y,weights,bias);
#
# end
# ```
#
# **One line does not translate as written.** MATLAB's `batchnorm` decides what to do from the *number of
# outputs* you ask for: three outputs (`[Y,mean,var] = batchnorm(...)`) normalize with the mini-batch statistics
# and return updated running statistics; one output normalizes with the statistics you pass. Python cannot see
# how many outputs the caller wants, so dlteach asks you to say it: `training=True` or `training=False`.
#
# The page repeats the batch-normalization block four times; the Python below keeps all four blocks, written out
# as on the page, so that each one can be compared line by line.

# %%
def model(parameters, X, doTraining, state):
    # Convolution
    weights = parameters["conv1"]["Weights"]
    bias = parameters["conv1"]["Bias"]
    Y = dlconv(X, weights, bias, Padding="same")

    # Batch normalization, ReLU
    offset = parameters["batchnorm1"]["Offset"]
    scale = parameters["batchnorm1"]["Scale"]
    trainedMean = state["batchnorm1"]["TrainedMean"]
    trainedVariance = state["batchnorm1"]["TrainedVariance"]

    if doTraining:
        Y, trainedMean, trainedVariance = batchnorm(Y, offset, scale, trainedMean, trainedVariance, training=True)

        # Update state
        state["batchnorm1"]["TrainedMean"] = trainedMean
        state["batchnorm1"]["TrainedVariance"] = trainedVariance
    else:
        Y = batchnorm(Y, offset, scale, trainedMean, trainedVariance, training=False)

    Y = relu(Y)

    # Convolution, batch normalization (Skip connection)
    weights = parameters["convSkip"]["Weights"]
    bias = parameters["convSkip"]["Bias"]
    YSkip = dlconv(Y, weights, bias, Stride=2)

    offset = parameters["batchnormSkip"]["Offset"]
    scale = parameters["batchnormSkip"]["Scale"]
    trainedMean = state["batchnormSkip"]["TrainedMean"]
    trainedVariance = state["batchnormSkip"]["TrainedVariance"]

    if doTraining:
        YSkip, trainedMean, trainedVariance = batchnorm(YSkip, offset, scale, trainedMean, trainedVariance,
                                                        training=True)

        # Update state
        state["batchnormSkip"]["TrainedMean"] = trainedMean
        state["batchnormSkip"]["TrainedVariance"] = trainedVariance
    else:
        YSkip = batchnorm(YSkip, offset, scale, trainedMean, trainedVariance, training=False)

    # Convolution
    weights = parameters["conv2"]["Weights"]
    bias = parameters["conv2"]["Bias"]
    Y = dlconv(Y, weights, bias, Padding="same", Stride=2)

    # Batch normalization, ReLU
    offset = parameters["batchnorm2"]["Offset"]
    scale = parameters["batchnorm2"]["Scale"]
    trainedMean = state["batchnorm2"]["TrainedMean"]
    trainedVariance = state["batchnorm2"]["TrainedVariance"]

    if doTraining:
        Y, trainedMean, trainedVariance = batchnorm(Y, offset, scale, trainedMean, trainedVariance, training=True)

        # Update state
        state["batchnorm2"]["TrainedMean"] = trainedMean
        state["batchnorm2"]["TrainedVariance"] = trainedVariance
    else:
        Y = batchnorm(Y, offset, scale, trainedMean, trainedVariance, training=False)

    Y = relu(Y)

    # Convolution
    weights = parameters["conv3"]["Weights"]
    bias = parameters["conv3"]["Bias"]
    Y = dlconv(Y, weights, bias, Padding="same")

    # Batch normalization
    offset = parameters["batchnorm3"]["Offset"]
    scale = parameters["batchnorm3"]["Scale"]
    trainedMean = state["batchnorm3"]["TrainedMean"]
    trainedVariance = state["batchnorm3"]["TrainedVariance"]

    if doTraining:
        Y, trainedMean, trainedVariance = batchnorm(Y, offset, scale, trainedMean, trainedVariance, training=True)

        # Update state
        state["batchnorm3"]["TrainedMean"] = trainedMean
        state["batchnorm3"]["TrainedVariance"] = trainedVariance
    else:
        Y = batchnorm(Y, offset, scale, trainedMean, trainedVariance, training=False)

    # Addition, ReLU
    Y = YSkip + Y
    Y = relu(Y)

    # Fully connect, softmax (labels)
    weights = parameters["fc1"]["Weights"]
    bias = parameters["fc1"]["Bias"]
    Y1 = fullyconnect(Y, weights, bias)
    Y1 = softmax(Y1)

    # Fully connect (angles)
    weights = parameters["fc2"]["Weights"]
    bias = parameters["fc2"]["Bias"]
    Y2 = fullyconnect(Y, weights, bias)

    return Y1, Y2, state


# %% [markdown]
# One difference from MATLAB hides in `state["batchnorm1"]["TrainedMean"] = ...`: a MATLAB struct is a
# *value* (the function changes its own copy), a Python dict is shared with the caller. Called inside `dlfeval`
# this does not matter here: dlfeval hands `model` its own copy of the containers and the loop below assigns the
# returned `state`, exactly as in MATLAB.
#
# ### Define Model Loss Function
#
# `modelLoss` takes the parameters, a mini-batch of images with their targets (one-hot labels `T1`, angles
# `T2`) and the state; it returns the loss, the gradients of the loss with respect to the parameters and the
# updated state. The loss is the cross-entropy of the labels plus 0.1 times the (half) mean squared error of the
# angles.
#
# ```matlab
# function [loss,gradients,state] = modelLoss(parameters,X,T1,T2,state)
#
# doTraining = true;
# [Y1,Y2,state] = model(parameters,X,doTraining,state);
#
# lossLabels = crossentropy(Y1,T1);
# lossAngles = mse(Y2,T2);
#
# loss = lossLabels + 0.1*lossAngles;
# gradients = dlgradient(loss,parameters);
#
# end
# ```

# %%
def modelLoss(parameters, X, T1, T2, state):
    doTraining = True
    Y1, Y2, state = model(parameters, X, doTraining, state)

    lossLabels = crossentropy(Y1, T1)
    lossAngles = mse(Y2, T2)

    loss = lossLabels + 0.1 * lossAngles
    gradients = dlgradient(loss, parameters)
    return loss, gradients, state


# %% [markdown]
# ## Specify Training Options
#
# ```matlab
# numEpochs = 20;
# miniBatchSize = 128;
# ```

# %%
numEpochs = 2          # the page: 20 (see the introduction)
miniBatchSize = 128

# %% [markdown]
# ## Train Model
#
# A `minibatchqueue` prepares the mini-batches with the function `preprocessMiniBatch`: it concatenates the
# images along the fourth dimension, the labels and the angles along the second, and one-hot encodes the
# labels. The images get the format `"SSCB"`; the targets stay unformatted (`""`).
#
# ```matlab
# mbq = minibatchqueue(dsTrain,...
#     MiniBatchSize=miniBatchSize,...
#     MiniBatchFcn=@preprocessMiniBatch,...
#     MiniBatchFormat=["SSCB" "" ""]);
#
# function [X,T1,T2] = preprocessMiniBatch(dataX,dataT1,dataT2)
#
# % Preprocess predictors.
# X = preprocessMiniBatchPredictors(dataX);
#
# % Extract label data from cell and concatenate.
# T1 = cat(2,dataT1{:});
#
# % Extract angle data from cell and concatenate.
# T2 = cat(2,dataT2{:});
#
# % One-hot encode labels.
# T1 = onehotencode(T1,1);
#
# end
#
# function X = preprocessMiniBatchPredictors(dataX)
#
# % Concatenate.
# X = cat(4,dataX{:});
#
# end
# ```
#
# The mini-batch function receives one list per datastore column (MATLAB: a cell array). `onehotencode` gets
# `ClassNames=classNames`: MATLAB's categorical labels carry their categories with them, integers do not (a
# mini-batch that happens to miss a digit would otherwise get fewer rows).

# %%
def preprocessMiniBatch(dataX, dataT1, dataT2):
    # Preprocess predictors.
    X = preprocessMiniBatchPredictors(dataX)

    # Extract label data from cell and concatenate.
    T1 = np.concatenate(dataT1)

    # Extract angle data from cell and concatenate.
    T2 = np.concatenate(dataT2).reshape(1, -1)

    # One-hot encode labels.
    T1 = onehotencode(T1, 1, ClassNames=classNames)
    return X, T1, T2


def preprocessMiniBatchPredictors(dataX):
    # Concatenate.
    return np.concatenate(dataX, axis=3)


mbq = minibatchqueue(dsTrain,
                     MiniBatchSize=miniBatchSize,
                     MiniBatchFcn=preprocessMiniBatch,
                     MiniBatchFormat=["SSCB", "", ""])

# %% [markdown]
# Initialize the parameters for Adam, compute the number of iterations for the progress bar, and create the
# training progress monitor just before the loop (its timer starts when it is created).
#
# ```matlab
# trailingAvg = [];
# trailingAvgSq = [];
#
# numIterationsPerEpoch = ceil(numObservations / miniBatchSize);
# numIterations = numEpochs * numIterationsPerEpoch;
#
# monitor = trainingProgressMonitor(Metrics="Loss",Info="Epoch",XLabel="Iteration");
# ```
#
# Train the model with a custom training loop. For each epoch, shuffle the data; for each mini-batch, evaluate
# the loss, the gradients and the state with `dlfeval` and `modelLoss`, then update the parameters with
# `adamupdate`, and update the monitor.
#
# ```matlab
# epoch = 0;
# iteration = 0;
#
# % Loop over epochs.
# while epoch < numEpochs && ~monitor.Stop
#     epoch = epoch + 1;
#
#     % Shuffle data.
#     shuffle(mbq)
#
#     % Loop over mini-batches
#     while hasdata(mbq) && ~monitor.Stop
#
#         iteration = iteration + 1;
#
#         [X,T1,T2] = next(mbq);
#
#         % Evaluate the model loss, gradients, and state, using dlfeval and the
#         % modelLoss function.
#         [loss,gradients,state] = dlfeval(@modelLoss,parameters,X,T1,T2,state);
#
#         % Update the network parameters using the Adam optimizer.
#         [parameters,trailingAvg,trailingAvgSq] = adamupdate(parameters,gradients, ...
#             trailingAvg,trailingAvgSq,iteration);
#
#         % Update the training progress monitor.
#         recordMetrics(monitor,iteration,Loss=loss);
#         updateInfo(monitor,Epoch=epoch + " of " + numEpochs);
#         monitor.Progress = 100 * iteration/numIterations;
#     end
# end
# ```
#
# In JupyterLab the monitor is a live plot with a working **Stop** button; the saved notebook keeps its final
# figure.

# %%
# NBVAL_IGNORE_OUTPUT
trailingAvg = None
trailingAvgSq = None

numIterationsPerEpoch = int(np.ceil(numObservations / miniBatchSize))
numIterations = numEpochs * numIterationsPerEpoch

monitor = trainingProgressMonitor(Metrics="Loss", Info="Epoch", XLabel="Iteration")

epoch = 0
iteration = 0
losses = []

# Loop over epochs.
while epoch < numEpochs and not monitor.Stop:
    epoch = epoch + 1

    # Shuffle data.
    shuffle(mbq)

    # Loop over mini-batches
    while hasdata(mbq) and not monitor.Stop:

        iteration = iteration + 1

        X, T1, T2 = next_batch(mbq)

        # Evaluate the model loss, gradients, and state, using dlfeval and the
        # modelLoss function.
        loss, gradients, state = dlfeval(modelLoss, parameters, X, T1, T2, state)

        # Update the network parameters using the Adam optimizer.
        parameters, trailingAvg, trailingAvgSq = adamupdate(parameters, gradients,
                                                            trailingAvg, trailingAvgSq, iteration)

        # Update the training progress monitor.
        recordMetrics(monitor, iteration, Loss=loss)
        updateInfo(monitor, Epoch=f"{epoch} of {numEpochs}")
        monitor.Progress = 100 * iteration / numIterations
        losses.append(float(loss))

# %% [markdown]
# The loss fell as follows (mean over each epoch). It starts high, mostly because of the angle term
# 0.1 · ½ · (angle error)² with angles up to 45°: at the start the network predicts angles near 0.

# %%
perEpoch = np.array(losses).reshape(numEpochs, -1).mean(axis=1)
print(f"{iteration} iterations; mean loss per epoch:", np.round(perEpoch, 2),
      f"| first mini-batch {losses[0]:.2f}, last {losses[-1]:.2f}")

# %% [markdown]
# ## Test Model
#
# Test the classification accuracy on the test set, predicting with `doTraining` false: batch normalization then
# uses the running statistics collected in `state` during training.
#
# ```matlab
# [XTest,T1Test,T2Test] = digitTest4DArrayData;
#
# dsXTest = arrayDatastore(XTest,IterationDimension=4);
# dsT1Test = arrayDatastore(T1Test);
# dsT2Test = arrayDatastore(T2Test);
#
# dsTest = combine(dsXTest,dsT1Test,dsT2Test);
#
# mbqTest = minibatchqueue(dsTest,...
#     MiniBatchSize=miniBatchSize,...
#     MiniBatchFcn=@preprocessMiniBatch,...
#     MiniBatchFormat=["SSCB" "" ""]);
#
# [labelsPred,anglesPred] = modelPredictions(parameters,state,mbqTest,classNames);
# ```
#
# `modelPredictions` loops over the test mini-batches, decodes the predicted labels and collects the angles:
#
# ```matlab
# function [predictions1, predictions2] = modelPredictions(parameters,state,mbq,classes)
#
# doTraining = false;
# predictions1 = [];
# predictions2 = [];
#
# while hasdata(mbq)
#     XTest = next(mbq);
#
#     [Y1,Y2] = model(parameters,XTest,doTraining,state);
#
#     % Determine predicted classes.
#     Y1PredBatch = onehotdecode(Y1,classes,1);
#     predictions1 = [predictions1 Y1PredBatch];
#
#     % Extract angle predictions.
#     Y2PredBatch = extractdata(Y2);
#     predictions2 = [predictions2 Y2PredBatch];
# end
#
# end
# ```
#
# **Two lines do not translate as written.** `XTest = next(mbq)` asks MATLAB for the *first* of the queue's
# three outputs; Python's `next_batch(mbq)` always returns all three, so the line becomes
# `XTest, _, _ = next_batch(mbq)`. Likewise `[Y1,Y2] = model(...)` drops the third output, which Python must
# receive (`Y1, Y2, _ = model(...)`).

# %%
def modelPredictions(parameters, state, mbq, classes):
    doTraining = False
    predictions1 = []
    predictions2 = []

    while hasdata(mbq):
        XTest, _, _ = next_batch(mbq)

        Y1, Y2, _ = model(parameters, XTest, doTraining, state)

        # Determine predicted classes.
        Y1PredBatch = onehotdecode(Y1, classes, 1)
        predictions1.append(Y1PredBatch)

        # Extract angle predictions.
        Y2PredBatch = extractdata(Y2)
        predictions2.append(Y2PredBatch)

    return np.concatenate(predictions1), np.concatenate(predictions2, axis=1).ravel()


XTest, T1Test, T2Test = digitTest4DArrayData()

dsXTest = arrayDatastore(XTest, IterationDimension=4)
dsT1Test = arrayDatastore(T1Test)
dsT2Test = arrayDatastore(T2Test)

dsTest = combine(dsXTest, dsT1Test, dsT2Test)

mbqTest = minibatchqueue(dsTest,
                         MiniBatchSize=miniBatchSize,
                         MiniBatchFcn=preprocessMiniBatch,
                         MiniBatchFormat=["SSCB", "", ""])

labelsPred, anglesPred = modelPredictions(parameters, state, mbqTest, classNames)

# %% [markdown]
# Evaluate the classification accuracy and the regression error (root mean squared error of the angles, in
# degrees).
#
# ```matlab
# accuracy = mean(labelsPred==T1Test)
# angleRMSE = sqrt(mean((anglesPred - T2Test).^2))
# ```

# %%
accuracy = np.mean(labelsPred == T1Test)
angleRMSE = np.sqrt(np.mean((anglesPred - T2Test) ** 2))
print(f"accuracy = {accuracy:.3f}")
print(f"angleRMSE = {angleRMSE:.1f} degrees (predicting 0 for every image would give "
      f"{np.sqrt(np.mean(T2Test ** 2)):.1f})")

# %% [markdown]
# After 2 epochs (instead of 20) the network is well past chance (0.1 accuracy), and the angle error is well below
# that of always answering 0°; both are worse than after the page's 20 epochs. Set `numEpochs = 10` and run again
# for a better model (about five times longer).
#
# View some of the test images with their predictions: the predicted angle in red, the true angle in green
# (dashed lines through the image).
#
# ```matlab
# idx = randperm(size(XTest,4),9);
# figure
# for i = 1:9
#     subplot(3,3,i)
#     I = XTest(:,:,:,idx(i));
#     imshow(I)
#     hold on
#
#     sz = size(I,1);
#     offset = sz/2;
#
#     thetaPred = anglesPred(idx(i));
#     plot(offset*[1-tand(thetaPred) 1+tand(thetaPred)],[sz 0],"r--")
#
#     thetaValidation = T2Test(idx(i));
#     plot(offset*[1-tand(thetaValidation) 1+tand(thetaValidation)],[sz 0],"g--")
#
#     hold off
#     label = string(labelsPred(idx(i)));
#     title("Label: " + label)
# end
# ```

# %%
# NBVAL_IGNORE_OUTPUT
idx = np.random.permutation(XTest.shape[3])[:9]
plt.figure(figsize=(5, 5.5))
for i in range(9):
    plt.subplot(3, 3, i + 1)
    I = XTest[:, :, 0, idx[i]]
    plt.imshow(I, cmap="gray")

    sz = I.shape[0]
    offset = sz / 2

    thetaPred = anglesPred[idx[i]]
    plt.plot(offset * np.array([1 - np.tan(np.deg2rad(thetaPred)), 1 + np.tan(np.deg2rad(thetaPred))]), [sz, 0], "r--")

    thetaValidation = T2Test[idx[i]]
    plt.plot(offset * np.array([1 - np.tan(np.deg2rad(thetaValidation)), 1 + np.tan(np.deg2rad(thetaValidation))]),
             [sz, 0], "g--")
    plt.xlim(0, sz)
    plt.ylim(sz, 0)
    plt.axis("off")
    plt.title(f"Label: {labelsPred[idx[i]]}")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## What to take away
#
# * A model function is a plain function of a parameter dict; `dlgradient(loss, parameters)` returns gradients
#   with the same nested structure, and `adamupdate` updates the whole dict at once.
# * Batch normalization in a model function needs the `doTraining` flag and a `state` you pass in, return and
#   keep; see the gallery notebook *Update Batch Normalization Statistics Using Model Function* for what goes
#   wrong when the state is not kept.
# * Where Python and MATLAB differ (the number of outputs a caller asks for), dlteach makes you say it:
#   `batchnorm(..., training=True/False)`, `XTest, _, _ = next_batch(mbq)`.
