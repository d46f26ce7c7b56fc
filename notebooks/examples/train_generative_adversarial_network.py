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
# # Example: Train Generative Adversarial Network (GAN)
#
# *Gallery example (ungraded). It follows the structure of MATLAB's documentation example **"Train Generative
# Adversarial Network (GAN)"**: MATLAB first, the same code in Python with `dlteach` below it.*
#
# A GAN is two networks trained against each other in one custom training loop:
#
# * the **generator** turns random vectors $Z$ into images;
# * the **discriminator** tells real images ($Y_\text{real}$ = its probability that the image is real) from
#   generated ones ($Y_\text{gen}$).
#
# $$\text{lossD} = -\text{mean}(\log Y_\text{real}) - \text{mean}(\log(1 - Y_\text{gen})), \qquad
#   \text{lossG} = -\text{mean}(\log Y_\text{gen})$$
#
# Each iteration computes both losses in ONE model loss function and updates each network with its own
# gradients. The generator starts with a **custom layer** written as a class (`projectAndReshapeLayer`, as on
# the MATLAB page) and upsamples with **transposed convolutions**.
#
# **Differences from the MATLAB page** (speed; nothing is downloaded): the images are the 4,000 shipped
# 28×28 handwritten digits instead of 64×64 colour flowers (so the networks are smaller: two upsampling steps
# instead of four), no data augmentation, and **250 iterations** instead of 500 epochs — enough to see the
# mechanics and the first strokes, not good digits (try more iterations at home).

# %%
import matplotlib.pyplot as plt
import numpy as np

from dlteach import (
    CustomLayer, adamupdate, batchNormalizationLayer, convolution2dLayer, dlarray, dlfeval, dlgradient, dlnetwork,
    dropoutLayer, extractdata, featureInputLayer, finddim, forward, fullyconnect, hasdata, imageInputLayer,
    leakyReluLayer, load_digits, minibatchqueue, predict, reluLayer, shuffle, sigmoidLayer, tanhLayer,
    transposedConv2dLayer,
)
from dlteach import next as next_batch  # MATLAB's next(mbq)

np.random.seed(0)  # MATLAB: rng("default")

# %% [markdown]
# ## Load training data
#
# ```matlab
# imds = imageDatastore(imageFolder,IncludeSubfolders=true);
# augimds = augmentedImageDatastore([64 64],imds,DataAugmentation=augmenter);
# ```
#
# The generator ends with `tanh`, so the images are rescaled to [-1, 1] (the page's `preprocessMiniBatch`
# does `X = rescale(X,-1,1,InputMin=0,InputMax=255)`).

# %%
XTrain, _, _ = load_digits("train")
XTrain = XTrain * 2 - 1                       # [0, 1] -> [-1, 1]
print(XTrain.shape, XTrain.min(), XTrain.max())

# %% [markdown]
# ## Define the generator, with a custom layer
#
# The generator projects the random vector to a 7×7×32 array (a fully connected operation and a reshape),
# then upsamples twice with transposed convolutions (7 → 14 → 28). The projection is a custom layer. MATLAB
# writes it as a class; dlteach's `CustomLayer` follows the same protocol:
#
# ```matlab
# classdef projectAndReshapeLayer < nnet.layer.Layer & nnet.layer.Formattable
#     properties
#         OutputSize
#     end
#     properties (Learnable)
#         Weights
#         Bias
#     end
#     methods
#         function layer = projectAndReshapeLayer(outputSize,NameValueArgs)
#             arguments
#                 outputSize
#                 NameValueArgs.Name = "";
#             end
#             layer.Name = NameValueArgs.Name;
#             layer.Description = "Project and reshape to size " + join(string(outputSize));
#             layer.Type = "Project and Reshape";
#             layer.OutputSize = outputSize;
#         end
#         function layer = initialize(layer,layout)
#             outputSize = layer.OutputSize;
#             if isempty(layer.Weights)
#                 idx = finddim(layout,"C");
#                 numChannels = layout.Size(idx);
#                 sz = [prod(outputSize) numChannels];
#                 numOut = prod(outputSize);
#                 numIn = numChannels;
#                 layer.Weights = initializeGlorot(sz,numOut,numIn);
#             end
#             if isempty(layer.Bias)
#                 layer.Bias = initializeZeros([prod(outputSize) 1]);
#             end
#         end
#         function Z = predict(layer, X)
#             weights = layer.Weights;
#             bias = layer.Bias;
#             X = fullyconnect(X,weights,bias);
#             outputSize = layer.OutputSize;
#             Z = reshape(X,outputSize(1),outputSize(2),outputSize(3),[]);
#             Z = dlarray(Z,"SSCB");
#         end
#     end
# end
# ```

# %%
class projectAndReshapeLayer(CustomLayer):      # < nnet.layer.Layer
    Formattable = True                          # & nnet.layer.Formattable
    Learnable = ("Weights", "Bias")             # properties (Learnable)

    def __init__(self, outputSize, Name=""):
        super().__init__(Name=Name)
        self.Description = "Project and reshape to size " + " ".join(map(str, outputSize))
        self.Type = "Project and Reshape"
        self.OutputSize = outputSize
        self.Weights = None                     # MATLAB: empty until initialize
        self.Bias = None

    def initialize(self, layout):
        outputSize = self.OutputSize
        if self.Weights is None:
            idx = finddim(layout, "C")[0]       # dlteach counts dimensions from 0
            numChannels = layout.Size[idx]
            sz = (int(np.prod(outputSize)), numChannels)
            numOut = int(np.prod(outputSize))
            numIn = numChannels
            bound = np.sqrt(6 / (numIn + numOut))          # initializeGlorot(sz, numOut, numIn)
            self.Weights = np.random.uniform(-bound, bound, sz)
        if self.Bias is None:
            self.Bias = np.zeros((int(np.prod(outputSize)), 1))   # initializeZeros
        return self

    def predict(self, X):
        weights = self.Weights
        bias = self.Bias
        X = fullyconnect(X, weights, bias)
        outputSize = self.OutputSize
        Z = X.reshape(outputSize[0], outputSize[1], outputSize[2], -1)
        return dlarray(Z, "SSCB")


# %% [markdown]
# ```matlab
# layersGenerator = [
#     featureInputLayer(numLatentInputs)
#     projectAndReshapeLayer(projectionSize)
#     transposedConv2dLayer(filterSize,4*numFilters)
#     batchNormalizationLayer
#     reluLayer
#     transposedConv2dLayer(filterSize,2*numFilters,Stride=2,Cropping="same")
#     ...
#     transposedConv2dLayer(filterSize,3,Stride=2,Cropping="same")
#     tanhLayer];
# netG = dlnetwork(layersGenerator);
# ```

# %%
numLatentInputs = 50
projectionSize = (7, 7, 32)
filterSize = 5
numFilters = 16

layersGenerator = [
    featureInputLayer(numLatentInputs),
    projectAndReshapeLayer(projectionSize, Name="proj"),
    transposedConv2dLayer(filterSize, numFilters, Stride=2, Cropping="same"),
    batchNormalizationLayer(),
    reluLayer(),
    transposedConv2dLayer(filterSize, 1, Stride=2, Cropping="same"),
    tanhLayer(),
]
netG = dlnetwork(layersGenerator)
netG.Learnables

# %% [markdown]
# ## Define the discriminator
#
# ```matlab
# layersDiscriminator = [
#     imageInputLayer(inputSize,Normalization="none")
#     dropoutLayer(dropoutProb)
#     convolution2dLayer(filterSize,numFilters,Stride=2,Padding="same")
#     leakyReluLayer(scale)
#     convolution2dLayer(filterSize,2*numFilters,Stride=2,Padding="same")
#     batchNormalizationLayer
#     leakyReluLayer(scale)
#     ...
#     convolution2dLayer(4,1)
#     sigmoidLayer];
# netD = dlnetwork(layersDiscriminator);
# ```

# %%
dropoutProb = 0.5
scale = 0.2

layersDiscriminator = [
    imageInputLayer([28, 28, 1], Normalization="none"),
    dropoutLayer(dropoutProb),
    convolution2dLayer(filterSize, numFilters, Stride=2, Padding="same"),
    leakyReluLayer(scale),
    convolution2dLayer(filterSize, 2 * numFilters, Stride=2, Padding="same"),
    batchNormalizationLayer(),
    leakyReluLayer(scale),
    convolution2dLayer(7, 1),                  # 7x7 -> 1x1: one score per image
    sigmoidLayer(),
]
netD = dlnetwork(layersDiscriminator)

# %% [markdown]
# ## Model loss function
#
# ```matlab
# function [lossG,lossD,gradientsG,gradientsD,stateG,scoreG,scoreD] = ...
#         modelLoss(netG,netD,X,Z,flipProb)
# YReal = forward(netD,X);
# [XGenerated,stateG] = forward(netG,Z);
# YGenerated = forward(netD,XGenerated);
# scoreD = (mean(YReal) + mean(1-YGenerated)) / 2;
# scoreG = mean(YGenerated);
# numObservations = size(YReal,4);
# idx = rand(1,numObservations) < flipProb;
# YReal(:,:,:,idx) = 1 - YReal(:,:,:,idx);
# [lossG, lossD] = ganLoss(YReal,YGenerated);
# gradientsG = dlgradient(lossG,netG.Learnables,RetainData=true);
# gradientsD = dlgradient(lossD,netD.Learnables);
# end
# ```
#
# Two translation notes. `YReal(:,:,:,idx) = 1 - YReal(:,:,:,idx)` (flipping the labels of a few real images,
# which keeps the discriminator from winning too early) becomes arithmetic with a 0/1 mask, because assigning
# into a traced array is not differentiable in dlteach. `RetainData=True` keeps the recorded computation
# after the first `dlgradient`, so that the second one can walk it again.

# %%
def ganLoss(YReal, YGenerated):
    lossD = -np.log(YReal).mean() - np.log(1 - YGenerated).mean()
    lossG = -np.log(YGenerated).mean()
    return lossG, lossD


def modelLoss(netG, netD, X, Z, flipProb):
    YReal = forward(netD, X)
    XGenerated, stateG = forward(netG, Z, return_state=True)
    YGenerated = forward(netD, XGenerated)
    scoreD = (YReal.mean() + (1 - YGenerated).mean()) / 2
    scoreG = YGenerated.mean()
    numObservations = YReal.shape[3]
    flip = (np.random.rand(1, 1, 1, numObservations) < flipProb).astype(np.float32)
    YReal = flip * (1 - YReal) + (1 - flip) * YReal
    lossG, lossD = ganLoss(YReal, YGenerated)
    gradientsG = dlgradient(lossG, netG.Learnables, RetainData=True)
    gradientsD = dlgradient(lossD, netD.Learnables)
    return lossG, lossD, gradientsG, gradientsD, stateG, scoreG, scoreD


# %% [markdown]
# ## Training options and the training loop
#
# ```matlab
# miniBatchSize = 128;
# learnRate = 0.0002;
# gradientDecayFactor = 0.5;
# squaredGradientDecayFactor = 0.999;
# flipProb = 0.35;
# mbq = minibatchqueue(augimds,MiniBatchSize=miniBatchSize,PartialMiniBatch="discard", ...
#     MiniBatchFcn=@preprocessMiniBatch,MiniBatchFormat="SSCB");
# ...
#         [~,~,gradientsG,gradientsD,stateG,scoreG,scoreD] = ...
#             dlfeval(@modelLoss,netG,netD,X,Z,flipProb);
#         netG.State = stateG;
#         [netD,trailingAvg,trailingAvgSqD] = adamupdate(netD, gradientsD, ...
#             trailingAvg, trailingAvgSqD, iteration, ...
#             learnRate, gradientDecayFactor, squaredGradientDecayFactor);
#         [netG,trailingAvgG,trailingAvgSqG] = adamupdate(netG, gradientsG, ...
#             trailingAvgG, trailingAvgSqG, iteration, ...
#             learnRate, gradientDecayFactor, squaredGradientDecayFactor);
# ```

# %%
miniBatchSize = 64
learnRate = 0.0002
gradientDecayFactor = 0.5
squaredGradientDecayFactor = 0.999
flipProb = 0.35
numIterations = 250

mbq = minibatchqueue(XTrain, MiniBatchSize=miniBatchSize, PartialMiniBatch="discard", MiniBatchFormat="SSCB")
trailingAvg = trailingAvgSqD = trailingAvgG = trailingAvgSqG = None
ZValidation = dlarray(np.random.randn(numLatentInputs, 25).astype(np.float32), "CB")

# %%
# NBVAL_IGNORE_OUTPUT
iteration = 0
scores = []
while iteration < numIterations:
    shuffle(mbq)
    while hasdata(mbq) and iteration < numIterations:
        iteration += 1
        X = next_batch(mbq)
        Z = dlarray(np.random.randn(numLatentInputs, miniBatchSize).astype(np.float32), "CB")
        _, _, gradientsG, gradientsD, stateG, scoreG, scoreD = dlfeval(modelLoss, netG, netD, X, Z, flipProb)
        netG.State = stateG
        netD, trailingAvg, trailingAvgSqD = adamupdate(netD, gradientsD, trailingAvg, trailingAvgSqD, iteration,
                                                       learnRate, gradientDecayFactor, squaredGradientDecayFactor)
        netG, trailingAvgG, trailingAvgSqG = adamupdate(netG, gradientsG, trailingAvgG, trailingAvgSqG, iteration,
                                                        learnRate, gradientDecayFactor, squaredGradientDecayFactor)
        scores.append((float(extractdata(scoreG)), float(extractdata(scoreD))))
scores = np.array(scores)
plt.figure(figsize=(6, 2.5))
plt.plot(scores[:, 0], label="generator score")
plt.plot(scores[:, 1], label="discriminator score")
plt.xlabel("Iteration")
plt.legend()
plt.show()

# %% [markdown]
# The scores are the discriminator's mean probabilities (MATLAB plots the same two curves). A score near 0.5
# for both means neither network wins — what a GAN aims for; the discriminator's score rising towards 1 means
# it wins.

# %%
assert netG.Initialized and scores.shape == (numIterations, 2) and np.all((scores > 0) & (scores < 1))

# %% [markdown]
# ## Generate new images
#
# ```matlab
# numObservations = 25;
# ZNew = randn(numLatentInputs,numObservations,"single");
# ZNew = dlarray(ZNew,"CB");
# XGeneratedNew = predict(netG,ZNew);
# I = imtile(extractdata(XGeneratedNew));
# ```

# %%
# NBVAL_IGNORE_OUTPUT
XGeneratedNew = extractdata(predict(netG, ZValidation))
fig, axes = plt.subplots(3, 8, figsize=(8, 3))
for ax, n in zip(axes.ravel(), range(24)):
    ax.imshow(XGeneratedNew[:, :, 0, n], cmap="gray", vmin=-1, vmax=1)
    ax.axis("off")
plt.show()

# %% [markdown]
# After 250 iterations the generated images are stroke-like blobs, not yet digits: a GAN needs many thousands
# of iterations (the MATLAB page trains for 500 epochs). The point here is the mechanics: two networks, one
# model loss function returning both gradients, and a custom layer that trains like any built-in one.
