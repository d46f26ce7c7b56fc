# ---
# jupyter:
#   dlteach:
#     example: true
#     seed: 'MATLAB: Train Network Using Custom Training Loop'
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
# # Train Network Using Custom Training Loop
#
# *An example, not a graded lesson.* It follows the structure of MATLAB's documentation page **"Train Network Using
# Custom Training Loop"** step by step, with the MATLAB code (in grey boxes) next to the Python code that does the same
# with `dlteach`. Run the cells from the top.
#
# The example trains a convolutional network to classify handwritten digits with a **time-based decay** learning rate
# schedule: at iteration $t$ the solver uses
#
# $$\rho_t = \frac{\rho_0}{1 + k\,t},$$
#
# where $\rho_0$ is the initial learning rate and $k$ the decay. What is new compared with the lessons:
#
# * **image files**: an `imageDatastore` over a folder with one subfolder per class (`LabelSource="foldernames"`),
#   split with `splitEachLabel`;
# * **augmentation**: an `augmentedImageDatastore` with an `imageDataAugmenter` shifts every training image by a
#   random number of pixels each time it is read;
# * a `minibatchqueue` over that datastore whose `preprocessMiniBatch` receives *lists* (MATLAB: cell arrays) and
#   concatenates them with `cat(4, ...)`, as on the page;
# * `sgdmupdate` with a learning rate that changes every iteration.
#
# **Data.** MATLAB's page unzips `DigitsData.zip` (older versions read the `DigitDataset` folder of the toolbox).
# `digitDatasetPath()` gives the same layout — ten folders `0` … `9` of 28×28 PNG files — made once from the 5,000
# real MNIST digits shipped with dlteach (MATLAB's set has 10,000 synthetic digits). Nothing is downloaded.
#
# **Time.** The page trains for 10 epochs. This network has three convolutions at full 28×28 resolution, which on a
# laptop CPU takes about half a second per mini-batch in NumPy, so this notebook trains for **one epoch** (36
# iterations) to stay well under a minute; the accuracy is therefore lower than the page's (see the end).

# %%
from pathlib import Path

import numpy as np
import matplotlib.pyplot as plt

from dlteach import (digitDatasetPath, imageDatastore, splitEachLabel, countEachLabel,     # data
                     imageDataAugmenter, augmentedImageDatastore, categories, cat, read,
                     minibatchqueue, hasdata, shuffle, onehotencode, onehotdecode,
                     imageInputLayer, convolution2dLayer, batchNormalizationLayer,         # network
                     reluLayer, fullyConnectedLayer, softmaxLayer, dlnetwork, forward, predict,
                     dlfeval, dlgradient, crossentropy, sgdmupdate,                        # training
                     trainingProgressMonitor, recordMetrics, updateInfo)
from dlteach import next          # MATLAB's next(mbq); on anything else it behaves like Python's next

np.random.seed(0)                 # MATLAB: rng(0) -- the split, the weights, the shuffles and the augmentation

# %% [markdown]
# ## Load Training Data
#
# ```matlab
# unzip("DigitsData.zip");
# imds = imageDatastore("DigitsData", ...
#     IncludeSubfolders=true, ...
#     LabelSource="foldernames");
# ```
#
# `IncludeSubfolders=True` lists the images of every subfolder; `LabelSource="foldernames"` labels each image with the
# name of its folder. `imds.Files` is the list of files, `imds.Labels` their labels (MATLAB: a categorical array; here a
# NumPy array of strings).

# %%
dataFolder = digitDatasetPath()          # written once to a cache folder, then reused
imds = imageDatastore(dataFolder,
                      IncludeSubfolders=True,
                      LabelSource="foldernames")
first = Path(imds.Files[0])
print(len(imds.Files), "files; the first:", f"{first.parent.name}/{first.name}", "with label", imds.Labels[0])
print(countEachLabel(imds))

# %% [markdown]
# `read(imds)` returns the next image as it is stored: a 28×28 `uint8` array (grey), as MATLAB's `imread`.

# %%
img = read(imds)
print(img.shape, img.dtype, img.min(), img.max())

# %% [markdown]
# Set aside 10 % of the images of every digit for testing, chosen at random:
#
# ```matlab
# [imdsTrain,imdsTest] = splitEachLabel(imds,0.9,"randomized");
# ```

# %%
imdsTrain, imdsTest = splitEachLabel(imds, 0.9, "randomized")
print(len(imdsTrain.Files), "training and", len(imdsTest.Files), "test images")

# %% [markdown]
# The network takes 28×28×1 images. During training, every image is shifted at random by up to 5 pixels
# horizontally and vertically (pixels that come in from outside are 0, the background), so the network sees a
# slightly different image in every epoch:
#
# ```matlab
# inputSize = [28 28 1];
# pixelRange = [-5 5];
# imageAugmenter = imageDataAugmenter( ...
#     RandXTranslation=pixelRange, ...
#     RandYTranslation=pixelRange);
# augimdsTrain = augmentedImageDatastore(inputSize(1:2),imdsTrain,DataAugmentation=imageAugmenter);
#
# classes = categories(imdsTrain.Labels);
# numClasses = numel(classes);
# ```

# %%
inputSize = [28, 28, 1]
pixelRange = [-5, 5]
imageAugmenter = imageDataAugmenter(
    RandXTranslation=pixelRange,
    RandYTranslation=pixelRange)
augimdsTrain = augmentedImageDatastore(inputSize[:2], imdsTrain, DataAugmentation=imageAugmenter)

classes = categories(imdsTrain.Labels)
numClasses = len(classes)
print(classes)

# %% [markdown]
# A read of the augmented datastore returns MATLAB's table as a dictionary of columns: `"input"` (a list of 28×28×1
# images, MATLAB `data.input{i}`) and `"response"` (their labels). Here are eight training images as the network
# will see them — twice, to show that each read shifts them anew:

# %%
# NBVAL_IGNORE_OUTPUT
preview_ds = augmentedImageDatastore(inputSize[:2], imdsTrain, DataAugmentation=imageAugmenter, MiniBatchSize=8)
fig, axes = plt.subplots(2, 8, figsize=(10, 3))
for row in axes:
    preview_ds.reset()
    data = read(preview_ds)
    for ax, x, label in zip(row, data["input"], data["response"]):
        ax.imshow(x[:, :, 0], cmap="gray")
        ax.set_title(label)
        ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Define Network
#
# ```matlab
# layers = [
#     imageInputLayer(inputSize,Normalization="none")
#     convolution2dLayer(5,20,Padding="same")
#     batchNormalizationLayer
#     reluLayer
#     convolution2dLayer(3,20,Padding="same")
#     batchNormalizationLayer
#     reluLayer
#     convolution2dLayer(3,20,Padding="same")
#     batchNormalizationLayer
#     reluLayer
#     fullyConnectedLayer(numClasses)
#     softmaxLayer];
# net = dlnetwork(layers);
# ```

# %%
layers = [
    imageInputLayer(inputSize, Normalization="none"),
    convolution2dLayer(5, 20, Padding="same"),
    batchNormalizationLayer(),
    reluLayer(),
    convolution2dLayer(3, 20, Padding="same"),
    batchNormalizationLayer(),
    reluLayer(),
    convolution2dLayer(3, 20, Padding="same"),
    batchNormalizationLayer(),
    reluLayer(),
    fullyConnectedLayer(numClasses),
    softmaxLayer()]
net = dlnetwork(layers)
net.Learnables

# %% [markdown]
# ## Define Model Loss Function
#
# The page puts its functions at the end (*Supporting Functions*); Python needs them before they are used, so they are
# here. `forward` returns the updated batch-normalization statistics as `state`, which the loop stores in the network.
#
# ```matlab
# function [loss,gradients,state] = modelLoss(net,X,T)
#     [Y,state] = forward(net,X);
#     loss = crossentropy(Y,T);
#     gradients = dlgradient(loss,net.Learnables);
# end
# ```

# %%
def modelLoss(net, X, T):
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state


# %% [markdown]
# ## Mini-Batch Preprocessing Functions
#
# The `minibatchqueue` hands `preprocessMiniBatch` one list per column of the datastore's reads: `dataX` holds the
# mini-batch's images (each 28×28×1), `dataT` their labels (each a one-element array). `cat(4, *dataX)` is MATLAB's
# `cat(4, dataX{:})` — the star unpacks the list as `{:}` does — and stacks the images along the 4th dimension:
# 28×28×1×B, which the queue labels `"SSCB"`.
#
# ```matlab
# function [X,T] = preprocessMiniBatch(dataX,dataT)
#     X = preprocessMiniBatchPredictors(dataX);
#     T = cat(2,dataT{1:end});      % labels of the mini-batch, 1 x B categorical
#     T = onehotencode(T,1);        % numClasses x B
# end
#
# function X = preprocessMiniBatchPredictors(dataX)
#     X = cat(4,dataX{1:end});
# end
# ```
#
# One difference: MATLAB's categorical labels know all their categories, a NumPy array of strings does not, so
# `onehotencode` gets `ClassNames=classes` — otherwise a mini-batch that happens to miss a digit would get fewer rows.

# %%
def preprocessMiniBatchPredictors(dataX):
    return cat(4, *dataX)


def preprocessMiniBatch(dataX, dataT):
    X = preprocessMiniBatchPredictors(dataX)
    T = cat(2, *dataT)
    T = onehotencode(T, 1, ClassNames=classes)
    return X, T


X, T = preprocessMiniBatch([np.zeros((28, 28, 1))] * 3, [np.array(["7"]), np.array(["0"]), np.array(["7"])])
print(X.shape, T.shape, T[:, 0])

# %% [markdown]
# ## Specify Training Options
#
# ```matlab
# numEpochs = 10;
# miniBatchSize = 128;
# initialLearnRate = 0.01;
# decay = 0.01;
# momentum = 0.9;
# ```
#
# `numEpochs = 1` here (the page: 10), to keep the notebook short; the rest are the page's values.

# %%
numEpochs = 1
miniBatchSize = 128
initialLearnRate = 0.01
decay = 0.01
momentum = 0.9

# %% [markdown]
# ## Train Model
#
# ```matlab
# mbq = minibatchqueue(augimdsTrain,...
#     MiniBatchSize=miniBatchSize,...
#     MiniBatchFcn=@preprocessMiniBatch,...
#     MiniBatchFormat=["SSCB" ""]);
# ```
#
# The images are `uint8`; the queue casts every output to `single` (float32, `OutputCast`'s default) and wraps `X` as a
# dlarray with format `"SSCB"`. `T` stays an unformatted array (`""`): `crossentropy` gives it the format of the
# network's output.

# %%
mbq = minibatchqueue(augimdsTrain,
                     MiniBatchSize=miniBatchSize,
                     MiniBatchFcn=preprocessMiniBatch,
                     MiniBatchFormat=["SSCB", ""])
X, T = next(mbq)
print(X.fmt, X.shape, X.dtype, "|", T.shape)

# %% [markdown]
# The training loop: stochastic gradient descent with momentum, the learning rate of the time-based decay schedule at
# every iteration, and a training progress monitor with the loss, the epoch and the learning rate.
#
# ```matlab
# velocity = [];
# numObservationsTrain = numel(imdsTrain.Files);
# numIterationsPerEpoch = ceil(numObservationsTrain / miniBatchSize);
# numIterations = numEpochs * numIterationsPerEpoch;
# monitor = trainingProgressMonitor(Metrics="Loss",Info=["Epoch","LearnRate"],XLabel="Iteration");
#
# epoch = 0;
# iteration = 0;
# while epoch < numEpochs && ~monitor.Stop
#     epoch = epoch + 1;
#     shuffle(mbq);
#     while hasdata(mbq) && ~monitor.Stop
#         iteration = iteration + 1;
#         [X,T] = next(mbq);
#         [loss,gradients,state] = dlfeval(@modelLoss,net,X,T);
#         net.State = state;
#         learnRate = initialLearnRate/(1 + decay*iteration);
#         [net,velocity] = sgdmupdate(net,gradients,velocity,learnRate,momentum);
#         recordMetrics(monitor,iteration,Loss=loss);
#         updateInfo(monitor,Epoch=epoch,LearnRate=learnRate);
#         monitor.Progress = 100 * iteration/numIterations;
#     end
# end
# ```

# %%
# NBVAL_IGNORE_OUTPUT
velocity = None
numObservationsTrain = len(imdsTrain.Files)
numIterationsPerEpoch = -(-numObservationsTrain // miniBatchSize)      # ceil: the last, smaller mini-batch counts
numIterations = numEpochs * numIterationsPerEpoch
monitor = trainingProgressMonitor(Metrics="Loss", Info=["Epoch", "LearnRate"], XLabel="Iteration")

epoch = 0
iteration = 0
while epoch < numEpochs and not monitor.Stop:
    epoch += 1
    shuffle(mbq)
    while hasdata(mbq) and not monitor.Stop:
        iteration += 1
        X, T = next(mbq)
        loss, gradients, state = dlfeval(modelLoss, net, X, T)
        net.State = state
        learnRate = initialLearnRate / (1 + decay * iteration)
        net, velocity = sgdmupdate(net, gradients, velocity, learnRate, momentum)
        recordMetrics(monitor, iteration, Loss=loss)
        updateInfo(monitor, Epoch=epoch, LearnRate=learnRate)
        monitor.Progress = 100 * iteration / numIterations

# %%
print(f"{iteration} iterations; learning rate at the end {learnRate:.5f}; "
      f"loss of the first and last mini-batch: {monitor.MetricData['Loss'][0][1]:.2f}, {float(loss):.2f}")

# %% [markdown]
# ## Test Model
#
# The test images are not augmented. Their queue has one output — `preprocessMiniBatchPredictors` takes only the
# images, so the number of outputs, 1, is given as MATLAB's second argument. A function with one argument gets only
# the first column (`input`) of the reads, as in MATLAB.
#
# ```matlab
# augimdsTest = augmentedImageDatastore(inputSize(1:2),imdsTest);
# mbqTest = minibatchqueue(augimdsTest,1, ...
#     MiniBatchSize=miniBatchSize, ...
#     MiniBatchFcn=@preprocessMiniBatchPredictors, ...
#     MiniBatchFormat="SSCB");
# YTest = modelPredictions(net,mbqTest,classes);
# TTest = imdsTest.Labels;
# accuracy = mean(TTest == YTest)
#
# function Y = modelPredictions(net,mbq,classes)
#     Y = [];
#     while hasdata(mbq)
#         X = next(mbq);
#         scores = predict(net,X);
#         labels = onehotdecode(scores,classes,1)';
#         Y = [Y; labels];
#     end
# end
# ```

# %%
def modelPredictions(net, mbq, classes):
    Y = []
    while hasdata(mbq):
        X = next(mbq)
        scores = predict(net, X)
        labels = onehotdecode(scores, classes, 1)
        Y.append(labels)
    return np.concatenate(Y)


augimdsTest = augmentedImageDatastore(inputSize[:2], imdsTest)
mbqTest = minibatchqueue(augimdsTest, 1,
                         MiniBatchSize=miniBatchSize,
                         MiniBatchFcn=preprocessMiniBatchPredictors,
                         MiniBatchFormat="SSCB")
YTest = modelPredictions(net, mbqTest, classes)
TTest = imdsTest.Labels
accuracy = np.mean(TTest == YTest)
print(f"test accuracy after {numEpochs} epoch: {accuracy:.2f}")

# %% [markdown]
# After one epoch the network classifies about three test digits in four correctly (0.72 on this run, deterministic
# with `np.random.seed(0)`): the loss was still falling steeply when the epoch ended (see the monitor). The page
# trains ten times as long; with `numEpochs = 10` the training cell takes about ten times as long too.
#
# A confusion matrix in place of MATLAB's `confusionchart(TTest,YTest)`: rows are the true digits, columns the
# predicted ones.

# %%
# NBVAL_IGNORE_OUTPUT
confusion = np.array([[np.sum((TTest == t) & (YTest == p)) for p in classes] for t in classes])
fig, ax = plt.subplots(figsize=(5, 4.5))
ax.imshow(confusion, cmap="Blues")
for i in range(numClasses):
    for j in range(numClasses):
        ax.text(j, i, confusion[i, j], ha="center", va="center", fontsize=8)
ax.set_xticks(range(numClasses), classes)
ax.set_yticks(range(numClasses), classes)
ax.set_xlabel("Predicted digit")
ax.set_ylabel("True digit")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What next
#
# * Train for more epochs (`numEpochs = 10`, the page's value): each epoch takes about as long as the training cell
#   above, and the test accuracy keeps rising.
# * Add rotations to the augmentation, `imageDataAugmenter(RandRotation=[-10, 10], ...)`, and look at the images it
#   makes with `augment(imageAugmenter, img)`.
# * Compare with a constant learning rate (`decay = 0`) and with `decay = 0.1`.
