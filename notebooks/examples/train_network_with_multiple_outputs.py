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
# # Example: Train Network with Multiple Outputs
#
# *Gallery example (ungraded). It follows the structure of MATLAB's documentation example **"Train Network
# with Multiple Outputs"** step by step: MATLAB on the left (or first), the same idea in Python with
# `dlteach` below it.*
#
# One network, two answers: from an image of a handwritten digit it predicts **which digit** it is
# (classification, 10 classes) and **by how many degrees it is rotated** (regression, one number). The network
# is a *graph*: a skip connection joins two branches with an addition layer, and two output layers (heads)
# branch off the shared trunk. MATLAB's `trainnet` cannot train such a network with two different losses, so the
# example uses a custom training loop:
#
# $$\text{loss} = \underbrace{\text{crossentropy}(Y_1, T_1)}_{\text{digit}} + 0.1\,\underbrace{\text{mse}(Y_2, T_2)}_{\text{angle}}$$
#
# **Differences from the MATLAB page** (all for speed or because nothing is downloaded):
#
# * the images are the 4,000 real MNIST digits shipped with dlteach, each rotated by a known angle drawn from
#   U(-45°, 45°) (`digitTrain4DArrayData`); MATLAB's are 5,000 synthetic digits;
# * **one epoch** instead of 30 (about half a minute on a laptop), so the accuracy is lower than the page's.

# %%
import matplotlib.pyplot as plt
import numpy as np

from dlteach import (
    adamupdate, addLayers, additionLayer, analyzeNetwork, arrayDatastore, batchNormalizationLayer, combine,
    connectLayers, convolution2dLayer, crossentropy, digitTest4DArrayData, digitTrain4DArrayData, dlarray, dlfeval,
    dlgradient, dlnetwork, extractdata, forward, fullyConnectedLayer, hasdata, imageInputLayer, initialize,
    minibatchqueue, mse, onehotencode, plot, predict, reluLayer, shuffle, softmaxLayer,
)
from dlteach import next as next_batch  # MATLAB's next(mbq); renamed so Python's next stays untouched

np.random.seed(0)  # MATLAB: rng("default")

# %% [markdown]
# ## Load training data
#
# ```matlab
# [XTrain,T1Train,T2Train] = digitTrain4DArrayData;
#
# dsXTrain = arrayDatastore(XTrain,IterationDimension=4);
# dsT1Train = arrayDatastore(T1Train);
# dsT2Train = arrayDatastore(T2Train);
# dsTrain = combine(dsXTrain,dsT1Train,dsT2Train);
#
# classNames = categories(T1Train);
# numClasses = numel(classNames);
# numObservations = numel(T1Train);
# ```
#
# In Python the function returns a tuple: images 28×28×1×N (MATLAB's "SSCB" layout, float32), the digit
# labels (integers 0–9; MATLAB: categorical) and the rotation angles in degrees. The combined datastore
# returns one image, its label and its angle per observation.

# %%
XTrain, T1Train, T2Train = digitTrain4DArrayData()

dsXTrain = arrayDatastore(XTrain, IterationDimension=4)
dsT1Train = arrayDatastore(T1Train)
dsT2Train = arrayDatastore(T2Train)
dsTrain = combine(dsXTrain, dsT1Train, dsT2Train)

classNames = np.arange(10)
numClasses = len(classNames)
numObservations = len(T1Train)
print(XTrain.shape, XTrain.dtype, T1Train[:8], np.round(T2Train[:4], 1))

# %% [markdown]
# View some images with their labels and angles (MATLAB: `imshow(imtile(XTrain(:,:,:,idx)))`).

# %%
# NBVAL_IGNORE_OUTPUT
fig, axes = plt.subplots(2, 8, figsize=(10, 3))
for ax, n in zip(axes.ravel(), range(16)):
    ax.imshow(XTrain[:, :, 0, n], cmap="gray")
    ax.set_title(f"{T1Train[n]}, {T2Train[n]:.0f}°", fontsize=8)
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Define deep learning model
#
# The main branch, as a layer array (connected in order), then the skip connection and the angle head are
# added and connected by name. `"add/in2"` names the *second input port* of the addition layer.
#
# ```matlab
# layers = [
#     imageInputLayer([28 28 1],Normalization="none")
#     convolution2dLayer(5,16,Padding="same")
#     batchNormalizationLayer
#     reluLayer(Name="relu_1")
#     convolution2dLayer(3,32,Padding="same",Stride=2)
#     batchNormalizationLayer
#     reluLayer
#     convolution2dLayer(3,32,Padding="same")
#     batchNormalizationLayer
#     additionLayer(2,Name="add")
#     reluLayer(Name="relu_4")
#     fullyConnectedLayer(numClasses)
#     softmaxLayer(Name="softmax")];
# net = dlnetwork(layers,Initialize=false);
#
# layers = [
#     convolution2dLayer(1,32,Stride=2,Name="conv_skip")
#     batchNormalizationLayer(Name="batchnorm_skip")];
# net = addLayers(net,layers);
# net = connectLayers(net,"relu_1","conv_skip");
# net = connectLayers(net,"batchnorm_skip","add/in2");
#
# layers = fullyConnectedLayer(1,Name="fc_2");
# net = addLayers(net,layers);
# net = connectLayers(net,"relu_4","fc_2");
# net = initialize(net);
# ```

# %%
layers = [
    imageInputLayer([28, 28, 1], Normalization="none"),
    convolution2dLayer(5, 16, Padding="same"),
    batchNormalizationLayer(),
    reluLayer(Name="relu_1"),
    convolution2dLayer(3, 32, Padding="same", Stride=2),
    batchNormalizationLayer(),
    reluLayer(),
    convolution2dLayer(3, 32, Padding="same"),
    batchNormalizationLayer(),
    additionLayer(2, Name="add"),
    reluLayer(Name="relu_4"),
    fullyConnectedLayer(numClasses),
    softmaxLayer(Name="softmax"),
]
net = dlnetwork(layers, Initialize=False)

layers = [
    convolution2dLayer(1, 32, Stride=2, Name="conv_skip"),
    batchNormalizationLayer(Name="batchnorm_skip"),
]
net = addLayers(net, layers)
net = connectLayers(net, "relu_1", "conv_skip")
net = connectLayers(net, "batchnorm_skip", "add/in2")

layers = fullyConnectedLayer(1, Name="fc_2")
net = addLayers(net, layers)
net = connectLayers(net, "relu_4", "fc_2")
net = initialize(net)
print(net.InputNames, net.OutputNames)

# %% [markdown]
# The network's outputs are the layers whose outputs go nowhere: `softmax` (the digit) and `fc_2` (the angle).
# `plot(net)` draws the graph (MATLAB: `figure, plot(net)`); `analyzeNetwork(net)` lists the activation sizes.

# %%
# NBVAL_IGNORE_OUTPUT
plot(net)
plt.show()

# %%
analyzeNetwork(net)

# %% [markdown]
# ## Define model loss function
#
# `forward` with `Outputs=[...]` returns one array per named output, then the state (MATLAB's
# `[Y1,Y2,state] = forward(net,X,Outputs=["softmax" "fc_2"])`).
#
# ```matlab
# function [loss,gradients,state] = modelLoss(net,X,T1,T2)
# [Y1,Y2,state] = forward(net,X,Outputs=["softmax" "fc_2"]);
# lossLabels = crossentropy(Y1,T1);
# lossAngles = mse(Y2,T2);
# loss = lossLabels + 0.1*lossAngles;
# gradients = dlgradient(loss,net.Learnables);
# end
# ```

# %%
def modelLoss(net, X, T1, T2):
    Y1, Y2, state = forward(net, X, Outputs=["softmax", "fc_2"], return_state=True)
    lossLabels = crossentropy(Y1, T1)
    lossAngles = mse(Y2, T2)
    loss = lossLabels + 0.1 * lossAngles
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state


# %% [markdown]
# ## Specify training options and the mini-batch queue
#
# ```matlab
# numEpochs = 30;
# miniBatchSize = 128;
# mbq = minibatchqueue(dsTrain, MiniBatchSize=miniBatchSize, MiniBatchFcn=@preprocessMiniBatch, ...
#     MiniBatchFormat=["SSCB" "" ""]);
# ```
#
# The mini-batch function receives one list per datastore column (MATLAB: cell arrays) and concatenates them:
#
# ```matlab
# function [X,T1,T2] = preprocessMiniBatch(dataX,dataT1,dataT2)
# X = cat(4,dataX{:});
# T1 = cat(2,dataT1{:});
# T1 = onehotencode(T1,1);
# T2 = cat(2,dataT2{:});
# end
# ```

# %%
def preprocessMiniBatch(dataX, dataT1, dataT2):
    X = np.concatenate(dataX, axis=3)                                # cat(4, dataX{:})
    T1 = np.concatenate(dataT1)                                      # cat(2, dataT1{:})
    T1 = onehotencode(T1, 1, ClassNames=classNames)                  # numClasses x N
    T2 = np.concatenate(dataT2).reshape(1, -1)                       # 1 x N
    return X, T1, T2


numEpochs = 1
miniBatchSize = 128
mbq = minibatchqueue(dsTrain, MiniBatchSize=miniBatchSize, MiniBatchFcn=preprocessMiniBatch,
                     MiniBatchFormat=["SSCB", "", ""])

# %% [markdown]
# ## Train model
#
# ```matlab
# trailingAvg = [];
# trailingAvgSq = [];
# iteration = 0;
# epoch = 0;
# while epoch < numEpochs
#     epoch = epoch + 1;
#     shuffle(mbq);
#     while hasdata(mbq)
#         iteration = iteration + 1;
#         [X,T1,T2] = next(mbq);
#         [loss,gradients,state] = dlfeval(@modelLoss,net,X,T1,T2);
#         net.State = state;
#         [net,trailingAvg,trailingAvgSq] = adamupdate(net,gradients,trailingAvg,trailingAvgSq,iteration);
#         recordMetrics(monitor,iteration,Loss=loss);
#     end
# end
# ```

# %%
# NBVAL_IGNORE_OUTPUT
trailingAvg = None
trailingAvgSq = None
iteration = 0
epoch = 0
losses = []
while epoch < numEpochs:
    epoch += 1
    shuffle(mbq)
    while hasdata(mbq):
        iteration += 1
        X, T1, T2 = next_batch(mbq)
        loss, gradients, state = dlfeval(modelLoss, net, X, T1, T2)
        net.State = state
        net, trailingAvg, trailingAvgSq = adamupdate(net, gradients, trailingAvg, trailingAvgSq, iteration)
        losses.append(float(extractdata(loss)))
print(f"{iteration} iterations, loss {losses[0]:.1f} -> {losses[-1]:.1f}")
plt.figure(figsize=(5, 2.5))
plt.plot(range(1, iteration + 1), losses)
plt.xlabel("Iteration")
plt.ylabel("Loss")
plt.show()

# %% [markdown]
# ## Test model
#
# `predict` (inference mode: batch normalization uses the trained statistics) returns both outputs.
#
# ```matlab
# [XTest,T1Test,T2Test] = digitTest4DArrayData;
# [Y1Test,Y2Test] = modelPredictions(net,mbqTest,classNames);
# accuracy = mean(Y1Test==T1Test)
# err = Y2Test - T2Test;
# rmse = sqrt(mean(err.^2))
# ```

# %%
XTest, T1Test, T2Test = digitTest4DArrayData()
Y1Test, Y2Test = predict(net, dlarray(XTest, "SSCB"))
predictedLabels = classNames[np.argmax(extractdata(Y1Test), axis=0)]     # MATLAB: onehotdecode
predictedAngles = extractdata(Y2Test)[0]
accuracy = np.mean(predictedLabels == T1Test)
err = predictedAngles - T2Test
rmse = np.sqrt(np.mean(err ** 2))
assert accuracy > 0.4 and rmse < 30, (accuracy, rmse)  # far better than chance (0.1) and than guessing 0 (26°)

# %%
# NBVAL_IGNORE_OUTPUT
print(f"accuracy {accuracy:.3f}, angle RMSE {rmse:.1f} degrees (after {numEpochs} epoch)")

# %% [markdown]
# View some test images with the predicted angle as a line (MATLAB draws the same with `plot` over `imshow`).

# %%
# NBVAL_IGNORE_OUTPUT
fig, axes = plt.subplots(1, 8, figsize=(10, 1.8))
for ax, n in zip(axes, range(8)):
    ax.imshow(XTest[:, :, 0, n], cmap="gray")
    for angle, color in ((T2Test[n], "lime"), (predictedAngles[n], "red")):
        a = np.deg2rad(angle)
        ax.plot([13.5 - 10 * np.sin(a), 13.5 + 10 * np.sin(a)], [13.5 + 10 * np.cos(a), 13.5 - 10 * np.cos(a)],
                color=color, linewidth=1)
    ax.set_title(f"{predictedLabels[n]} (true {T1Test[n]})", fontsize=8)
    ax.axis("off")
plt.show()

# %% [markdown]
# Green: the true angle, red: the predicted one. With the 30 epochs of the MATLAB page the two lines come much
# closer; try `numEpochs = 5` (about three minutes).
