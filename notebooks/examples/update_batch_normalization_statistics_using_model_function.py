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
# # Example: Update Batch Normalization Statistics Using Model Function
#
# *Gallery example (ungraded). It follows MATLAB's documentation example **"Update Batch Normalization Statistics
# Using Model Function"**: the MATLAB code of the page first, then the same code in Python with `dlteach`.
# The last section ("What the state is for") goes beyond the page: it measures what happens when the statistics
# are not kept.*
#
# This example shows how to update the network **state** in a network defined as a function.
#
# A batch normalization operation normalizes each input channel across a mini-batch. To speed up training of
# convolutional neural networks and reduce the sensitivity to network initialization, use batch normalization
# between convolutions and nonlinearities such as ReLU.
#
# During training, batch normalization first normalizes the activations of each channel by subtracting the
# mini-batch mean and dividing by the mini-batch standard deviation; then it shifts the result by a learnable
# offset β and scales it by a learnable scale factor γ:
#
# $$\hat x = \frac{x - \mu_{\text{batch}}}{\sqrt{\sigma^2_{\text{batch}} + \epsilon}}, \qquad y = \gamma\,\hat x + \beta .$$
#
# When you use a trained network to predict on new data, batch normalization uses the trained **data set** mean
# and variance instead of the mini-batch ones. To compute those statistics, you keep track of the mini-batch
# statistics in a continually updated state. In a model function you must therefore define both behaviours, for
# example with a Boolean flag `doTraining`:
#
# ```matlab
# if doTraining
#     [Y,trainedMean,trainedVariance] = batchnorm(Y,offset,scale,trainedMean,trainedVariance);
#
#     % Update state
#     state.batchnorm1.TrainedMean = trainedMean;
#     state.batchnorm1.TrainedVariance = trainedVariance;
# else
#     Y = batchnorm(Y,offset,scale,trainedMean,trainedVariance);
# end
# ```
#
# **Differences from the MATLAB page:** the 4,000 shipped MNIST digits rotated by known angles
# (`digitTrain4DArrayData`; MATLAB's set is 5,000 synthetic digits) and **2 epochs** instead of the page's 20, so
# that the notebook runs in about 20 seconds: the accuracy below is that of a short training.

# %%
import matplotlib.pyplot as plt
import numpy as np

from dlteach import (
    adamupdate, arrayDatastore, batchnorm, combine, crossentropy, digitTest4DArrayData, digitTrain4DArrayData,
    dlarray, dlconv, dlfeval, dlgradient, extractdata, fullyconnect, hasdata, initializeGlorot, initializeOnes,
    initializeZeros, minibatchqueue, mse, onehotdecode, onehotencode, recordMetrics, relu, shuffle, softmax,
    trainingProgressMonitor, updateInfo,
)
from dlteach import next as next_batch  # MATLAB's next(mbq); renamed so Python's next stays untouched

np.random.seed(0)  # MATLAB: rng("default")

# %% [markdown]
# ### The one line that does not translate as written
#
# MATLAB's `batchnorm` chooses its behaviour from the **number of outputs** the caller asks for: with three
# outputs it normalizes with the mini-batch statistics and returns the updated running statistics; with one it
# normalizes with the statistics you give it. Python cannot see how many outputs the caller wants, so dlteach
# asks you to say it with `training=True` or `training=False` (leaving it out is an error that says so):
#
# ```python
# if doTraining:
#     Y, trainedMean, trainedVariance = batchnorm(Y, offset, scale, trainedMean, trainedVariance, training=True)
#     ...
# else:
#     Y = batchnorm(Y, offset, scale, trainedMean, trainedVariance, training=False)
# ```
#
# The update of the running statistics is (φ = 0.1, MATLAB's `MeanDecay` and `VarianceDecay` defaults):
#
# $$s_{\text{new}} = \varphi\, s_{\text{batch}} + (1-\varphi)\, s_{\text{old}} .$$
#
# Check the three behaviours by hand on a small batch: 4×4 images, 3 channels, 8 observations.

# %%
Xs = dlarray(np.random.default_rng(1).normal(2.0, 3.0, (4, 4, 3, 8)).astype(np.float32), "SSCB")
offset, scale = np.zeros((3, 1), np.float32), np.ones((3, 1), np.float32)
trainedMean, trainedVariance = np.zeros((3, 1), np.float32), np.ones((3, 1), np.float32)

x = extractdata(Xs)
mu = x.mean(axis=(0, 1, 3)).reshape(3, 1)                 # per channel, over S, S and B
var = x.var(axis=(0, 1, 3)).reshape(3, 1)                 # the variance used to normalize
M = 4 * 4 * 8                                             # values per channel
Y, newMean, newVariance = batchnorm(Xs, offset, scale, trainedMean, trainedVariance, training=True)
y = extractdata(Y)
print("training: per-channel mean of Y is 0:", np.allclose(y.mean(axis=(0, 1, 3)), 0, atol=1e-6),
      "| variance", np.round(y.var(axis=(0, 1, 3)), 4))
print("running mean    ", np.allclose(newMean, 0.1 * mu + 0.9 * trainedMean, atol=1e-6))
print("running variance", np.allclose(newVariance, 0.1 * var * M / (M - 1) + 0.9 * trainedVariance, atol=1e-5),
      "(the batch variance in this update is the unbiased one, M/(M-1), as in PyTorch)")
Yinf = batchnorm(Xs, offset, scale, newMean, newVariance, training=False)
print("inference uses the given statistics:",
      np.allclose(extractdata(Yinf), (x - newMean.reshape(1, 1, 3, 1)) / np.sqrt(newVariance.reshape(1, 1, 3, 1) + 1e-5),
                  atol=1e-5))

# %% [markdown]
# ## Load Training Data
#
# `digitTrain4DArrayData` loads the images, their digit labels and their angles of rotation from the vertical.
# An `arrayDatastore` for each, combined into a single datastore with all the training data.
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
# numResponses = size(T2Train,2);
# numObservations = numel(T1Train);
# ```

# %%
XTrain, T1Train, T2Train = digitTrain4DArrayData()

dsXTrain = arrayDatastore(XTrain, IterationDimension=4)
dsT1Train = arrayDatastore(T1Train)
dsT2Train = arrayDatastore(T2Train)

dsTrain = combine(dsXTrain, dsT1Train, dsT2Train)

classNames = np.unique(T1Train)          # MATLAB: categories(T1Train) (the labels are integers here)
numClasses = len(classNames)
numResponses = 1                         # MATLAB: size(T2Train,2); the angles are a vector here
numObservations = len(T1Train)
print(XTrain.shape, "| classes", classNames, "| responses", numResponses, "| observations", numObservations)

# %% [markdown]
# ## Define Deep Learning Model
#
# The network predicts the label (classification) and the angle of rotation (regression):
#
# * a convolution-batchnorm-ReLU block with 16 5×5 filters;
# * a branch of two convolution-batchnorm blocks, each with 32 3×3 filters, with a ReLU in between;
# * a skip connection with a convolution-batchnorm block with 32 1×1 filters;
# * both branches combined by addition, then a ReLU;
# * for the angle, a fully connected operation of size 1; for the label, a fully connected operation of size 10
#   and a softmax.
#
# ### Define and Initialize Model Parameters and State
#
# The learnable parameters go into `parameters`, the batch-normalization statistics into `state`; the
# statistics are plain arrays, not `dlarray` objects. The page initializes each operation with these lines
# (shown for `conv1` and `batchnorm1`; the other operations repeat them with their sizes):
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
#
# parameters.batchnorm1.Offset = initializeZeros([numFilters 1]);
# parameters.batchnorm1.Scale = initializeOnes([numFilters 1]);
# state.batchnorm1.TrainedMean = zeros(numFilters,1,"single");
# state.batchnorm1.TrainedVariance = ones(numFilters,1,"single");
# ...
# sz = [numClasses 6272];  % 14*14*32 inputs
# numOut = numClasses;
# numIn = 6272;
# parameters.fc1.Weights = initializeGlorot(sz,numOut,numIn);
# parameters.fc1.Bias = initializeZeros([numClasses 1]);
#
# sz = [numResponses 6272];
# numOut = numResponses;
# numIn = 6272;
# parameters.fc2.Weights = initializeGlorot(sz,numOut,numIn);
# parameters.fc2.Bias = initializeZeros([numResponses 1]);
# ```
#
# (`numIn = prod(filterSize) * numFilters` is the page's line; the Glorot formula's fan-in is
# `prod(filterSize) * numChannels`. Kept as written.) In Python the four convolution blocks are one loop over
# their sizes.

# %%
parameters = {}
state = {}

for convName, bnName, filterSize, numChannels, numFilters in [
        ("conv1", "batchnorm1", [5, 5], 1, 16),
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

sz = [numClasses, 6272]
parameters["fc1"] = {"Weights": initializeGlorot(sz, numClasses, 6272), "Bias": initializeZeros([numClasses, 1])}
sz = [numResponses, 6272]
parameters["fc2"] = {"Weights": initializeGlorot(sz, numResponses, 6272),
                     "Bias": initializeZeros([numResponses, 1])}
print("state:", {k: list(v) for k, v in state.items()})

# %% [markdown]
# ### Define Model Function
#
# `model` takes the parameters, the input, the flag `doTraining` and the state, and returns the two outputs and
# the updated state. Every batch normalization follows the pattern shown at the top:
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
# % Convolution, batch normalization (skip connection)
# weights = parameters.convSkip.Weights;
# bias = parameters.convSkip.Bias;
# YSkip = dlconv(Y,weights,bias,Stride=2);
# ... % batchnormSkip: the same pattern
#
# % Convolution, batch normalization, ReLU
# weights = parameters.conv2.Weights;
# bias = parameters.conv2.Bias;
# Y = dlconv(Y,weights,bias,Padding="same",Stride=2);
# ... % batchnorm2: the same pattern
# Y = relu(Y);
#
# % Convolution, batch normalization
# weights = parameters.conv3.Weights;
# bias = parameters.conv3.Bias;
# Y = dlconv(Y,weights,bias,Padding="same");
# ... % batchnorm3: the same pattern
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
# The Python version writes the repeated batch-normalization block once, as a small helper `batchnormBlock` (the
# gallery notebook *Train Network Using Model Function* keeps the four copies written out).

# %%
def batchnormBlock(Y, name, parameters, state, doTraining):
    offset = parameters[name]["Offset"]
    scale = parameters[name]["Scale"]
    trainedMean = state[name]["TrainedMean"]
    trainedVariance = state[name]["TrainedVariance"]

    if doTraining:
        Y, trainedMean, trainedVariance = batchnorm(Y, offset, scale, trainedMean, trainedVariance, training=True)

        # Update state
        state[name]["TrainedMean"] = trainedMean
        state[name]["TrainedVariance"] = trainedVariance
    else:
        Y = batchnorm(Y, offset, scale, trainedMean, trainedVariance, training=False)
    return Y, state


def model(parameters, X, doTraining, state):
    # Convolution, batch normalization, ReLU
    Y = dlconv(X, parameters["conv1"]["Weights"], parameters["conv1"]["Bias"], Padding="same")
    Y, state = batchnormBlock(Y, "batchnorm1", parameters, state, doTraining)
    Y = relu(Y)

    # Convolution, batch normalization (skip connection)
    YSkip = dlconv(Y, parameters["convSkip"]["Weights"], parameters["convSkip"]["Bias"], Stride=2)
    YSkip, state = batchnormBlock(YSkip, "batchnormSkip", parameters, state, doTraining)

    # Convolution, batch normalization, ReLU
    Y = dlconv(Y, parameters["conv2"]["Weights"], parameters["conv2"]["Bias"], Padding="same", Stride=2)
    Y, state = batchnormBlock(Y, "batchnorm2", parameters, state, doTraining)
    Y = relu(Y)

    # Convolution, batch normalization
    Y = dlconv(Y, parameters["conv3"]["Weights"], parameters["conv3"]["Bias"], Padding="same")
    Y, state = batchnormBlock(Y, "batchnorm3", parameters, state, doTraining)

    # Addition, ReLU
    Y = YSkip + Y
    Y = relu(Y)

    # Fully connect, softmax (labels)
    Y1 = softmax(fullyconnect(Y, parameters["fc1"]["Weights"], parameters["fc1"]["Bias"]))

    # Fully connect (angles)
    Y2 = fullyconnect(Y, parameters["fc2"]["Weights"], parameters["fc2"]["Bias"])
    return Y1, Y2, state


# %% [markdown]
# ### Define Model Loss Function
#
# The loss function calls the model with `doTraining = true` and returns the updated state as a third output.
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
numEpochs = 2          # the page: 20
miniBatchSize = 128

# %% [markdown]
# ## Train Model
#
# The mini-batch queue and its preprocessing function (concatenate, one-hot encode the labels):
#
# ```matlab
# mbq = minibatchqueue(dsTrain,...
#     MiniBatchSize=miniBatchSize,...
#     MiniBatchFcn=@preprocessMiniBatch,...
#     MiniBatchFormat=["SSCB" "" ""]);
#
# function [X,T1,T2] = preprocessMiniBatch(dataX,dataT1,dataT2)
# X = cat(4,dataX{:});
# T1 = cat(2,dataT1{:});
# T2 = cat(2,dataT2{:});
# T1 = onehotencode(T1,1);
# end
# ```

# %%
def preprocessMiniBatch(dataX, dataT1, dataT2):
    X = np.concatenate(dataX, axis=3)
    T1 = np.concatenate(dataT1)
    T2 = np.concatenate(dataT2).reshape(1, -1)
    T1 = onehotencode(T1, 1, ClassNames=classNames)    # integer labels: name the classes (MATLAB's categorical knows them)
    return X, T1, T2


mbq = minibatchqueue(dsTrain,
                     MiniBatchSize=miniBatchSize,
                     MiniBatchFcn=preprocessMiniBatch,
                     MiniBatchFormat=["SSCB", "", ""])

# %% [markdown]
# The training loop: `dlfeval` returns the updated state, and the loop **keeps it** (`state` on the left-hand
# side) so that the next iteration starts from the new running statistics.
#
# ```matlab
# trailingAvg = [];
# trailingAvgSq = [];
# numIterationsPerEpoch = ceil(numObservations / miniBatchSize);
# numIterations = numEpochs * numIterationsPerEpoch;
# monitor = trainingProgressMonitor(Metrics="Loss",Info="Epoch",XLabel="Iteration");
#
# epoch = 0;
# iteration = 0;
# while epoch < numEpochs && ~monitor.Stop
#     epoch = epoch + 1;
#     shuffle(mbq)
#     while hasdata(mbq) && ~monitor.Stop
#         iteration = iteration + 1;
#         [X,T1,T2] = next(mbq);
#
#         [loss,gradients,state] = dlfeval(@modelLoss,parameters,X,T1,T2,state);
#
#         [parameters,trailingAvg,trailingAvgSq] = adamupdate(parameters,gradients, ...
#             trailingAvg,trailingAvgSq,iteration);
#
#         recordMetrics(monitor,iteration,Loss=loss);
#         updateInfo(monitor,Epoch=epoch + " of " + numEpochs);
#         monitor.Progress = 100 * iteration/numIterations;
#     end
# end
# ```
#
# To show how the running mean of the first batch normalization moves, the Python loop also records it (one
# extra line, not on the page).

# %%
# NBVAL_IGNORE_OUTPUT
trailingAvg = None
trailingAvgSq = None
numIterationsPerEpoch = int(np.ceil(numObservations / miniBatchSize))
numIterations = numEpochs * numIterationsPerEpoch
monitor = trainingProgressMonitor(Metrics="Loss", Info="Epoch", XLabel="Iteration")

epoch = 0
iteration = 0
meanHistory = []                                                      # not on the page
while epoch < numEpochs and not monitor.Stop:
    epoch = epoch + 1
    shuffle(mbq)
    while hasdata(mbq) and not monitor.Stop:
        iteration = iteration + 1
        X, T1, T2 = next_batch(mbq)

        loss, gradients, state = dlfeval(modelLoss, parameters, X, T1, T2, state)

        parameters, trailingAvg, trailingAvgSq = adamupdate(parameters, gradients,
                                                            trailingAvg, trailingAvgSq, iteration)

        recordMetrics(monitor, iteration, Loss=loss)
        updateInfo(monitor, Epoch=f"{epoch} of {numEpochs}")
        monitor.Progress = 100 * iteration / numIterations
        meanHistory.append(state["batchnorm1"]["TrainedMean"].ravel().copy())   # not on the page

# %%
print(f"{iteration} iterations, loss of the last mini-batch {float(loss):.2f}")

# %% [markdown]
# Each iteration moves the running statistics 10 % of the way towards the mini-batch's: after n iterations the
# initial zeros weigh 0.9ⁿ (0.9⁶⁴ ≈ 0.001 here). The running mean of the 16 channels of `batchnorm1`:

# %%
# NBVAL_IGNORE_OUTPUT
plt.figure(figsize=(6, 2.8))
plt.plot(range(1, iteration + 1), np.array(meanHistory))
plt.xlabel("Iteration")
plt.ylabel("TrainedMean (batchnorm1)")
plt.title("running mean of each of the 16 channels")
plt.show()

# %% [markdown]
# ## Test Model
#
# Predict on the test set with `doTraining = false`: the batch normalizations use the trained statistics in
# `state`.
#
# ```matlab
# [XTest,T1Test,T2Test] = digitTest4DArrayData;
# dsTest = combine(arrayDatastore(XTest,IterationDimension=4), ...
#     arrayDatastore(T1Test),arrayDatastore(T2Test));
# mbqTest = minibatchqueue(dsTest,...
#     MiniBatchSize=miniBatchSize,...
#     MiniBatchFcn=@preprocessMiniBatch,...
#     MiniBatchFormat=["SSCB" "" ""]);
#
# [labelsPred,anglesPred] = modelPredictions(parameters,state,mbqTest,classNames);
# accuracy = mean(labelsPred==T1Test)
# angleRMSE = sqrt(mean((anglesPred - T2Test).^2))
#
# function [predictions1, predictions2] = modelPredictions(parameters,state,mbq,classes)
# doTraining = false;
# predictions1 = [];
# predictions2 = [];
# while hasdata(mbq)
#     XTest = next(mbq);
#     [Y1,Y2] = model(parameters,XTest,doTraining,state);
#     Y1PredBatch = onehotdecode(Y1,classes,1);
#     predictions1 = [predictions1 Y1PredBatch];
#     Y2PredBatch = extractdata(Y2);
#     predictions2 = [predictions2 Y2PredBatch];
# end
# end
# ```
#
# `XTest = next(mbq)` takes the first of three outputs in MATLAB; in Python `next_batch` returns all three
# (`XTest, _, _ = next_batch(mbq)`), and `model`'s third output is received and dropped (`Y1, Y2, _ = ...`).
# A `doTraining` argument is added to `modelPredictions` (default false, as on the page) for the experiment
# below.

# %%
def modelPredictions(parameters, state, mbq, classes, doTraining=False):
    predictions1 = []
    predictions2 = []
    while hasdata(mbq):
        XTest, _, _ = next_batch(mbq)
        Y1, Y2, _ = model(parameters, XTest, doTraining, state)
        predictions1.append(onehotdecode(Y1, classes, 1))
        predictions2.append(extractdata(Y2))
    return np.concatenate(predictions1), np.concatenate(predictions2, axis=1).ravel()


XTest, T1Test, T2Test = digitTest4DArrayData()
dsTest = combine(arrayDatastore(XTest, IterationDimension=4), arrayDatastore(T1Test), arrayDatastore(T2Test))


def testQueue(miniBatchSize):
    return minibatchqueue(dsTest, MiniBatchSize=miniBatchSize, MiniBatchFcn=preprocessMiniBatch,
                          MiniBatchFormat=["SSCB", "", ""])


labelsPred, anglesPred = modelPredictions(parameters, state, testQueue(miniBatchSize), classNames)
accuracy = np.mean(labelsPred == T1Test)
angleRMSE = np.sqrt(np.mean((anglesPred - T2Test) ** 2))
print(f"accuracy = {accuracy:.3f}, angleRMSE = {angleRMSE:.1f} degrees")

# %% [markdown]
# ## What the state is for (beyond the page)
#
# Three ways to get batch normalization wrong at prediction time, measured on the same trained parameters:
#
# 1. **The state was never kept** — a loop that writes `loss, gradients, _ = dlfeval(...)`, or forgets the
#    `state` output, predicts with the initial statistics (mean 0, variance 1);
# 2. **Predicting with the mini-batch statistics** (`doTraining = true` at test time) on full test batches of 128;
# 3. the same, one image at a time: each image is normalized with its own statistics (over its 28×28 pixels).

# %%
initialState = {k: {"TrainedMean": np.zeros_like(v["TrainedMean"]),
                    "TrainedVariance": np.ones_like(v["TrainedVariance"])} for k, v in state.items()}
results = {
    "trained statistics (the page)": (parameters, state, False, miniBatchSize),
    "1. initial statistics (state not kept)": (parameters, initialState, False, miniBatchSize),
    "2. mini-batch statistics, batches of 128": (parameters, state, True, miniBatchSize),
    "3. mini-batch statistics, one image at a time": (parameters, state, True, 1),
}
for name, (p, s, doTraining, batchSize) in results.items():
    if batchSize == 1:   # 1,000 single-image calls take a while: the first 200 test images
        ds = combine(arrayDatastore(XTest[..., :200], IterationDimension=4), arrayDatastore(T1Test[:200]),
                     arrayDatastore(T2Test[:200]))
        q = minibatchqueue(ds, MiniBatchSize=1, MiniBatchFcn=preprocessMiniBatch, MiniBatchFormat=["SSCB", "", ""])
        truth = T1Test[:200]
    else:
        q, truth = testQueue(batchSize), T1Test
    labels, _ = modelPredictions(p, s, q, classNames, doTraining=doTraining)
    print(f"{name:48s} accuracy {np.mean(labels == truth):.3f}")

# %% [markdown]
# * Without the kept state the network sees activations on a completely different scale from training: the
#   accuracy falls to about chance (0.1).
# * Mini-batch statistics on large test batches work about as well here, because a batch of 128 test digits has
#   nearly the statistics of the training set; but the prediction for one image then depends on which other
#   images share its batch.
# * One image at a time, each channel is normalized by the statistics of that image alone. Here that still gives
#   a usable answer, because each channel of an image has 784 (or 196) values to average over, but a worse one:
#   the data set's scale of each channel is lost. After a fully connected layer (one value per channel and
#   observation) a single observation would have variance 0, and batch normalization would erase it completely.
#   That is why prediction uses the data-set statistics collected in `state`.
#
# How close are the running statistics to the real data-set statistics? Compute the mean of every channel of
# `conv1`'s output over the whole training set with the final parameters and compare it with `TrainedMean`
# (a running average of mini-batch means, made with parameters that were still changing):

# %%
channelSums = 0
for first in range(0, numObservations, 500):        # 500 images at a time: keeps the memory small
    conv1Out = dlconv(dlarray(XTrain[..., first:first + 500], "SSCB"), parameters["conv1"]["Weights"],
                      parameters["conv1"]["Bias"], Padding="same")
    channelSums = channelSums + extractdata(conv1Out).astype(np.float64).sum(axis=(0, 1, 3))
dataSetMean = channelSums / (28 * 28 * numObservations)
runningMean = state["batchnorm1"]["TrainedMean"].ravel()
print("largest difference between TrainedMean and the data-set mean of conv1's output:",
      f"{np.abs(runningMean - dataSetMean).max():.4f}",
      f"(the channel means range from {dataSetMean.min():.3f} to {dataSetMean.max():.3f})")

# %%
# NBVAL_IGNORE_OUTPUT
plt.figure(figsize=(3.5, 3.5))
plt.plot(dataSetMean, runningMean, "o")
lim = [min(dataSetMean.min(), runningMean.min()), max(dataSetMean.max(), runningMean.max())]
plt.plot(lim, lim, "k--", linewidth=0.8)
plt.xlabel("data-set mean (final parameters)")
plt.ylabel("TrainedMean (running average)")
plt.title("batchnorm1, 16 channels")
plt.show()

# %% [markdown]
# ## What to take away
#
# * In a model function, the batch-normalization statistics are **state**: you pass them in, `batchnorm` returns
#   the updated values during training, and the loop must keep them (`[loss,gradients,state] = dlfeval(...)`).
# * `doTraining` selects the behaviour: mini-batch statistics plus an update in training, the stored statistics
#   in prediction. In Python `batchnorm` needs `training=True/False` to know which (MATLAB reads the number of
#   outputs).
# * A `dlnetwork` does the same bookkeeping for you through `[Y,state] = forward(net,X)` and `net.State = state`.
