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
# # Example: Specify Training Options in Custom Training Loop
#
# *Gallery example (ungraded). It follows MATLAB's documentation topic **"Specify Training Options in Custom
# Training Loop"**: for each option, the page's MATLAB snippet, then the same code in Python with `dlteach`, with a
# small check of what it does. The page shows fragments to paste into a loop; the last section, "All the options
# in one loop", puts them together and trains a network (that assembled loop is ours, not the page's).*
#
# For most tasks you set the training options with `trainingOptions` and train with `trainnet`. When
# `trainingOptions` does not offer what you need (for example a custom learn-rate schedule), you write your own
# training loop over a `dlnetwork`, and each option becomes a few lines of code:
#
# | `trainingOptions` argument | section below |
# |---|---|
# | `"adam"`, `"rmsprop"`, `"sgdm"` solver | Solver Options |
# | `InitialLearnRate`, `LearnRateSchedule`, `LearnRateDropPeriod`, `LearnRateDropFactor` | Learn Rate |
# | `Plots` | Training Progress Plot |
# | `Verbose`, `VerboseFrequency` | Verbose Output |
# | `MiniBatchSize`, `MaxEpochs` | Mini-Batch Size, Number of Epochs |
# | `ValidationData`, `ValidationFrequency`, `ValidationPatience` | Validation, Early Stopping |
# | `L2Regularization` | L2 Regularization |
# | `GradientThresholdMethod`, `GradientThreshold` | Gradient Clipping |
# | `ExecutionEnvironment` | Single CPU or GPU Training |
# | `CheckpointPath` | Checkpoints |
#
# **The network and data used here** (the page has none: it shows fragments): a small multilayer perceptron on
# 3,000 of the shipped rotated digits (`digitTrain4DArrayData`), the other 1,000 held out for validation, so that
# the whole notebook runs in about 20 seconds.

# %%
import os
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np

from dlteach import (
    adamupdate, arrayDatastore, combine, crossentropy, digitTrain4DArrayData, dlarray, dlfeval, dlgradient,
    dlnetwork, dlupdate, extractdata, forward, fullyConnectedLayer, groupSubPlot, hasdata, imageInputLayer, load,
    minibatchqueue, onehotdecode, onehotencode, predict, recordMetrics, reluLayer, rmspropupdate, save, sgdmupdate,
    shuffle, softmaxLayer, trainingProgressMonitor, updateInfo,
)
from dlteach import next as next_batch  # MATLAB's next(mbq); renamed so Python's next stays untouched

np.random.seed(0)  # MATLAB: rng("default")

# %% [markdown]
# The data, the network and its model loss function (as in *Train Network Using Custom Training Loop*):

# %%
X, T, _ = digitTrain4DArrayData()
classNames = np.unique(T)
idx = np.random.permutation(len(T))
XTrain, TTrain = X[..., idx[:3000]], T[idx[:3000]]
XValidation, TValidation = X[..., idx[3000:]], T[idx[3000:]]

layers = [
    imageInputLayer([28, 28, 1], Normalization="none"),
    fullyConnectedLayer(100),
    reluLayer(),
    fullyConnectedLayer(10),
    softmaxLayer(),
]
net = dlnetwork(layers)


def modelLoss(net, X, T):
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state


def preprocessMiniBatch(dataX, dataT):
    X = np.concatenate(dataX, axis=3)
    T = onehotencode(np.concatenate(dataT), 1, ClassNames=classNames)
    return X, T


dsTrain = combine(arrayDatastore(XTrain, IterationDimension=4), arrayDatastore(TTrain))
print(f"{XTrain.shape[3]} training and {XValidation.shape[3]} validation images; learnables:")
print(net.Learnables)

# %% [markdown]
# A mini-batch and its gradients, used by the checks in the sections below:

# %%
mbq = minibatchqueue(dsTrain, MiniBatchSize=128, MiniBatchFcn=preprocessMiniBatch, MiniBatchFormat=["SSCB", ""])
Xb, Tb = next_batch(mbq)
loss, gradients, state = dlfeval(modelLoss, net, Xb, Tb)
print(f"loss {float(loss):.4f}")

# %% [markdown]
# ## Solver Options
#
# The solver is the update function you call in the loop: `adamupdate`, `rmspropupdate` or `sgdmupdate`; to write
# your own solver, update the learnables with `dlupdate`.
#
# ### Adaptive Moment Estimation (ADAM)
#
# Specify the gradient decay and squared gradient decay factors with the corresponding arguments:
#
# ```matlab
# learnRate = 0.01;
# gradientDecayFactor = 0.75;
# squaredGradientDecayFactor = 0.95;
#
# averageGrad = [];
# averageSqGrad = [];
#
# [net,averageGrad,averageSqGrad] = adamupdate(net,gradients,averageGrad,averageSqGrad,iteration, ...
#     learnRate,gradientDecayFactor,squaredGradientDecayFactor);
# ```
#
# ### Root Mean Square Propagation (RMSProp)
#
# ```matlab
# learnRate = 0.01;
# squaredGradientDecayFactor = 0.95;
#
# averageSqGrad = [];
#
# [net,averageSqGrad] = rmspropupdate(net,gradients,averageSqGrad,learnRate,squaredGradientDecayFactor);
# ```
#
# ### Stochastic Gradient Descent with Momentum (SGDM)
#
# ```matlab
# learnRate = 0.01;
# momentum = 0.9;
#
# velocity = [];
#
# [net,velocity] = sgdmupdate(net,gradients,velocity,learnRate,momentum);
# ```
#
# The same three calls in Python (one step each from the same network; `[]` is `None`). Each returns a new
# network; `net` itself is unchanged here.

# %%
iteration = 1
learnRate = 0.01
gradientDecayFactor = 0.75
squaredGradientDecayFactor = 0.95
momentum = 0.9

averageGrad = None
averageSqGrad = None
netAdam, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, iteration,
                                                 learnRate, gradientDecayFactor, squaredGradientDecayFactor)

averageSqGrad = None
netRMSProp, averageSqGrad = rmspropupdate(net, gradients, averageSqGrad, learnRate, squaredGradientDecayFactor)

velocity = None
netSGDM, velocity = sgdmupdate(net, gradients, velocity, learnRate, momentum)

w0 = extractdata(net.Learnables.value("fc_1", "Weights"))
for name, n in (("adamupdate", netAdam), ("rmspropupdate", netRMSProp), ("sgdmupdate", netSGDM)):
    step = np.abs(extractdata(n.Learnables.value("fc_1", "Weights")) - w0)
    print(f"{name:14s} largest change of fc_1 Weights in one step: {step.max():.2e}")

# %% [markdown]
# On the first step Adam moves every weight with a nonzero gradient by about the learning rate (0.01), RMSProp by
# about learnRate/sqrt(1 − 0.95) ≈ 0.045, SGDM by learnRate × gradient — much less here, because the
# gradients are small.
#
# ## Learn Rate
#
# Set the learn rate before the loop, and pass it to the update function:
#
# ```matlab
# learnRate = 0.01;
# ```
#
# ### Piecewise Learn Rate Schedule
#
# To drop the learn rate by a factor after a given number of epochs, create the variables `learnRate`,
# `learnRateSchedule` (`"piecewise"` or `"none"`), `learnRateDropFactor` (in [0, 1]) and `learnRateDropPeriod`
# (a number of epochs):
#
# ```matlab
# learnRate = 0.01;
# learnRateSchedule = "piecewise";
# learnRateDropPeriod = 10;
# learnRateDropFactor = 0.1;
# ```
#
# At the **end of each epoch**, drop the learn rate when the schedule is piecewise and the epoch number is a
# multiple of the drop period:
#
# ```matlab
# if learnRateSchedule == "piecewise" && mod(epoch,learnRateDropPeriod) == 0
#     learnRate = learnRate * learnRateDropFactor;
# end
# ```

# %%
learnRate = 0.01
learnRateSchedule = "piecewise"
learnRateDropPeriod = 10
learnRateDropFactor = 0.1

piecewise = []
for epoch in range(1, 31):
    piecewise.append(learnRate)                       # the learn rate used during this epoch
    if learnRateSchedule == "piecewise" and epoch % learnRateDropPeriod == 0:
        learnRate = learnRate * learnRateDropFactor
print("learn rate in epochs 1, 10, 11, 20, 21, 30:", [piecewise[e - 1] for e in (1, 10, 11, 20, 21, 30)])

# %% [markdown]
# ### Time-Based Decay Learn Rate Schedule
#
# *Not on this page; from MATLAB's example "Train Network Using Custom Training Loop".* Decay the learn rate at
# **every iteration**: learnRate = initialLearnRate / (1 + decay · iteration).
#
# ```matlab
# initialLearnRate = 0.01;
# decay = 0.01;
# ...
# learnRate = initialLearnRate/(1 + decay*iteration);
# ```

# %%
initialLearnRate = 0.01
decay = 0.01
iterationsPerEpoch = int(np.ceil(3000 / 128))
timeBased = [initialLearnRate / (1 + decay * iteration) for iteration in range(1, 30 * iterationsPerEpoch + 1)]
print(f"time-based: iteration 1 {timeBased[0]:.5f}, iteration 100 {timeBased[99]:.5f}, "
      f"iteration {len(timeBased)} {timeBased[-1]:.5f}")

# %%
# NBVAL_IGNORE_OUTPUT
iters = np.arange(1, 30 * iterationsPerEpoch + 1)
plt.figure(figsize=(5.5, 2.6))
plt.semilogy(iters, np.repeat(piecewise, iterationsPerEpoch), label="piecewise (drop 0.1 every 10 epochs)")
plt.semilogy(iters, timeBased, label="time-based (decay 0.01 per iteration)")
plt.xlabel("Iteration")
plt.ylabel("learn rate")
plt.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Training Progress Plot
#
# Plot the training and validation loss while training with a `trainingProgressMonitor` (MATLAB R2022b and
# later). Create a variable `plots` to switch it on (`"training-progress"`) or off (`"none"`), and group the two
# losses in one subplot:
#
# ```matlab
# plots = "training-progress";
#
# if plots == "training-progress"
#     monitor = trainingProgressMonitor( ...
#         Metrics=["TrainingLoss","ValidationLoss"], ...
#         Info=["Epoch","LearnRate"], ...
#         XLabel="Iteration");
#     groupSubPlot(monitor,"Loss",["TrainingLoss","ValidationLoss"]);
# end
# ```
#
# and in the loop, after the update:
#
# ```matlab
# if plots == "training-progress"
#     recordMetrics(monitor,iteration,TrainingLoss=loss);
#     updateInfo(monitor,Epoch=epoch + " of " + numEpochs,LearnRate=learnRate);
# end
# ```
#
# (adapted: the page's exact metric names may differ between releases.) The monitor is created in the last
# section, right before its loop: its timer starts when it is created.
#
# ## Verbose Output
#
# To print a table of the progress, print a header before the loop, start a timer, and every
# `verboseFrequency` iterations print one row:
#
# ```matlab
# verbose = true;
# verboseFrequency = 50;
#
# if verbose
#     disp(" |======================================================================================================================|")
#     disp(" |  Epoch  |  Iteration  |  Time Elapsed  |  Mini-batch  |  Validation  |  Mini-batch  |  Validation  |  Base Learning  |")
#     disp(" |         |             |   (hh:mm:ss)   |   Accuracy   |   Accuracy   |     Loss     |     Loss     |      Rate       |")
#     disp(" |======================================================================================================================|")
# end
# start = tic;
# ...
# if verbose && (iteration == 1 || mod(iteration,verboseFrequency) == 0)
#     D = duration(0,0,toc(start),'Format','hh:mm:ss');
#
#     if isempty(validationData) || mod(iteration,validationFrequency) ~= 0
#         accuracyValidation = "";
#         lossValidation = "";
#     end
#
#     disp(" | " + ...
#         pad(string(epoch),7,'left') + " | " + ...
#         pad(string(iteration),11,'left') + " | " + ...
#         pad(string(D),14,'left') + " | " + ...
#         pad(string(accuracyTrain),12,'left') + " | " + ...
#         pad(string(accuracyValidation),12,'left') + " | " + ...
#         pad(string(lossTrain),12,'left') + " | " + ...
#         pad(string(lossValidation),12,'left') + " | " + ...
#         pad(string(learnRate),15,'left') + " |")
# end
# ...
# if verbose
#     disp(" |======================================================================================================================|")
# end
# ```
#
# In Python `pad(s, n, 'left')` is `s.rjust(n)` and `duration(0,0,seconds,'Format','hh:mm:ss')` a small helper.
# MATLAB's `string(x)` shows a number with up to 5 significant digits: `f"{x:.5g}"`. The table is printed by the
# loop in the last section.

# %%
def durationText(seconds):
    """MATLAB's duration(0,0,seconds,'Format','hh:mm:ss') as text."""
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def printHeader():
    print(" |" + "=" * 118 + "|")
    print(" |  Epoch  |  Iteration  |  Time Elapsed  |  Mini-batch  |  Validation  |  Mini-batch  |  Validation  "
          "|  Base Learning  |")
    print(" |         |             |   (hh:mm:ss)   |   Accuracy   |   Accuracy   |     Loss     |     Loss     "
          "|      Rate       |")
    print(" |" + "=" * 118 + "|")


def printRow(epoch, iteration, D, accuracyTrain, accuracyValidation, lossTrain, lossValidation, learnRate):
    def text(v):
        return v if isinstance(v, str) else f"{v:.5g}"
    print(" | " + text(epoch).rjust(7) + " | " + text(iteration).rjust(11) + " | " + D.rjust(14) + " | "
          + text(accuracyTrain).rjust(12) + " | " + text(accuracyValidation).rjust(12) + " | "
          + text(lossTrain).rjust(12) + " | " + text(lossValidation).rjust(12) + " | " + text(learnRate).rjust(15)
          + " |")


printHeader()
printRow(1, 1, durationText(75.4), 0.1, "", 2.3036, "", 0.01)

# %% [markdown]
# ## Mini-Batch Size
#
# Set the mini-batch size with the `MiniBatchSize` option of `minibatchqueue`:
#
# ```matlab
# miniBatchSize = 128;
# mbq = minibatchqueue(ds,MiniBatchSize=miniBatchSize,...);
# ```
#
# ## Number of Epochs
#
# Loop over the epochs:
#
# ```matlab
# numEpochs = 30;
# for epoch = 1:numEpochs
#     ...
# end
# ```

# %%
miniBatchSize = 128
numEpochs = 30

# %% [markdown]
# ## Validation
#
# To validate the network during training, set aside held-out data and evaluate the network on them every
# `validationFrequency` iterations:
#
# ```matlab
# validationData = {XValidation,TValidation};
# validationFrequency = 50;
# ```
#
# In the loop, after the update, when validation data are given and it is the first iteration or a multiple of
# `validationFrequency`, predict the validation data with `predict` (not `forward`: inference mode) and compute
# the loss and the accuracy:
#
# ```matlab
# if ~isempty(validationData) && (iteration == 1 || mod(iteration,validationFrequency) == 0)
#     XValidation = validationData{1};
#     TValidation = validationData{2};
#
#     YValidation = predict(net,XValidation);
#     lossValidation = crossentropy(YValidation,TValidation);
#
#     % Calculate accuracy.
#     [~,idx] = max(YValidation);
#     labels = classNames(idx);
#     accuracyValidation = mean(labels(:) == TValidationLabels(:));
# end
# ```
#
# (adapted.) For a regression task, compute the validation RMSE instead of the accuracy.

# %%
XValidationDl = dlarray(XValidation, "SSCB")
TValidationOneHot = onehotencode(TValidation, 1, ClassNames=classNames)
validationData = [XValidationDl, TValidationOneHot]          # MATLAB: {XValidation,TValidation}
validationFrequency = 50


def validate(net, validationData):
    XValidation, TValidation = validationData
    YValidation = predict(net, XValidation)
    lossValidation = float(crossentropy(YValidation, TValidation))

    # Calculate accuracy.
    labels = onehotdecode(YValidation, classNames, 1)
    accuracyValidation = np.mean(labels == onehotdecode(TValidation, classNames, 1))
    return lossValidation, accuracyValidation


print("untrained network: validation loss %.4f, accuracy %.3f" % validate(net, validationData))

# %% [markdown]
# ## Early Stopping
#
# To stop when the validation loss stops decreasing, set a **patience**: the number of validations that may give
# a loss larger than or equal to the smallest one so far before training stops.
#
# ```matlab
# validationPatience = 5;
# ```
#
# Before training, a flag and the last `validationPatience` losses (initialised to `inf`):
#
# ```matlab
# earlyStop = false;
# if isfinite(validationPatience)
#     validationLosses = inf(1,validationPatience);
# end
# ```
#
# Add the flag to the loop conditions (`while hasdata(mbq) && ~earlyStop`), and at each validation:
#
# ```matlab
# if isfinite(validationPatience)
#     validationLosses = [validationLosses lossValidation];
#
#     if min(validationLosses) == validationLosses(1)
#         earlyStop = true;
#     else
#         validationLosses(1) = [];
#     end
# end
# ```
#
# The window holds the last `validationPatience + 1` losses: training stops when the oldest one is still the
# smallest, i.e. after `validationPatience` validations without a new minimum. Check it on a made-up sequence of
# losses that reaches its minimum at the fourth validation:

# %%
validationPatience = 5

earlyStop = False
validationLosses = [np.inf] * validationPatience
made_up = [2.0, 1.5, 1.2, 1.1, 1.15, 1.12, 1.3, 1.1, 1.2, 1.4, 1.6]
for k, lossValidation in enumerate(made_up, start=1):
    validationLosses = validationLosses + [lossValidation]
    if min(validationLosses) == validationLosses[0]:
        earlyStop = True
        break
    else:
        del validationLosses[0]
print(f"stopped at validation {k} (the minimum {min(made_up)} was reached at validation 4; "
      "a loss equal to it at validation 8 is no improvement)")

# %% [markdown]
# ## L2 Regularization
#
# L2 regularization adds $\frac{\lambda}{2}\lVert w\rVert^2$ to the loss for the weights, so $\lambda w$ to their
# gradients. Add it with `dlupdate`, to the **weights only** (rows whose `Parameter` is `"Weights"`):
#
# ```matlab
# l2Regularization = 0.0001;
#
# idx = net.Learnables.Parameter == "Weights";
# gradients(idx,:) = dlupdate(@(g,w) g + l2Regularization*w, gradients(idx,:), net.Learnables(idx,:));
# ```
#
# In Python the logical row index is the same mask; `gradients[idx, :] = ...` assigns rows of the gradients
# table, as `gradients(idx,:) = ...` does (the rows must be the same layers and parameters, in the same order).

# %%
l2Regularization = 0.0001

before = gradients.copy()
idx = net.Learnables.Parameter == "Weights"
gradients[idx, :] = dlupdate(lambda g, w: g + l2Regularization * w, gradients[idx, :], net.Learnables[idx, :])

for (layer, parameter), g0, g1, w in zip(gradients.keys(), before.Value, gradients.Value, net.Learnables.Value):
    expected = extractdata(g0) + (l2Regularization * extractdata(w) if parameter == "Weights" else 0)
    print(f"{layer}/{parameter:7s} changed: {not np.array_equal(extractdata(g0), extractdata(g1))!s:5s} "
          f"equals g + l2Regularization*w{' (weights only)' if parameter == 'Weights' else ''}: "
          f"{np.allclose(extractdata(g1), expected, rtol=1e-6, atol=1e-12)}")

# %% [markdown]
# ## Gradient Clipping
#
# Create the variables `gradientThresholdMethod` (`"global-l2norm"`, `"l2norm"` or `"absolute-value"`) and
# `gradientThreshold` (a positive number, or `inf`):
#
# ```matlab
# gradientThresholdMethod = "global-l2norm";
# gradientThreshold = 2;
# ```
#
# and one function per method. `"global-l2norm"` scales **all** gradients by the same factor when their joint L2
# norm exceeds the threshold; `"l2norm"` does the same for each learnable on its own; `"absolute-value"` clips
# every element to [−threshold, threshold]:
#
# ```matlab
# function gradients = thresholdGlobalL2Norm(gradients,gradientThreshold)
#
# globalL2Norm = 0;
# for i = 1:numel(gradients)
#     globalL2Norm = globalL2Norm + sum(gradients{i}(:).^2);
# end
# globalL2Norm = sqrt(globalL2Norm);
#
# if globalL2Norm > gradientThreshold
#     normScale = gradientThreshold / globalL2Norm;
#     for i = 1:numel(gradients)
#         gradients{i} = gradients{i} * normScale;
#     end
# end
#
# end
#
# function gradients = thresholdL2Norm(gradients,gradientThreshold)
#
# gradientNorm = sqrt(sum(gradients(:).^2));
# if gradientNorm > gradientThreshold
#     gradients = gradients * (gradientThreshold / gradientNorm);
# end
#
# end
#
# function gradients = thresholdAbsoluteValue(gradients,gradientThreshold)
#
# gradients(gradients > gradientThreshold) = gradientThreshold;
# gradients(gradients < -gradientThreshold) = -gradientThreshold;
#
# end
# ```
#
# `thresholdGlobalL2Norm` needs all the gradients, so it is applied to them directly — to the cell array of values
# `gradients.Value` (adapted: a table's values are a cell array); the other two are applied to each gradient with
# `dlupdate`:
#
# ```matlab
# switch gradientThresholdMethod
#     case "global-l2norm"
#         gradients.Value = thresholdGlobalL2Norm(gradients.Value, gradientThreshold);
#     case "l2norm"
#         gradients = dlupdate(@(g) thresholdL2Norm(g, gradientThreshold),gradients);
#     case "absolute-value"
#         gradients = dlupdate(@(g) thresholdAbsoluteValue(g, gradientThreshold),gradients);
# end
# ```
#
# In Python, `gradients.Value` is a list; the element-wise functions work on `dlarray` values as in MATLAB. One
# difference: `gradients[gradients > gradientThreshold] = ...` changes the array **in place** (a MATLAB function
# changes its own copy), so `thresholdAbsoluteValue` clips a copy of its argument first, `np.clip` style.

# %%
def thresholdGlobalL2Norm(gradients, gradientThreshold):
    globalL2Norm = 0
    for i in range(len(gradients)):
        globalL2Norm = globalL2Norm + np.sum(gradients[i] ** 2)
    globalL2Norm = np.sqrt(globalL2Norm)

    if globalL2Norm > gradientThreshold:
        normScale = gradientThreshold / globalL2Norm
        for i in range(len(gradients)):
            gradients[i] = gradients[i] * normScale
    return gradients


def thresholdL2Norm(gradients, gradientThreshold):
    gradientNorm = np.sqrt(np.sum(gradients ** 2))
    if gradientNorm > gradientThreshold:
        gradients = gradients * (gradientThreshold / gradientNorm)
    return gradients


def thresholdAbsoluteValue(gradients, gradientThreshold):
    gradients = dlarray(gradients)          # a copy: MATLAB's function works on its own copy
    gradients[gradients > gradientThreshold] = gradientThreshold
    gradients[gradients < -gradientThreshold] = -gradientThreshold
    return gradients


def clipGradients(gradients, gradientThresholdMethod, gradientThreshold):
    gradients = gradients.copy()            # (only for this demonstration: keep the original table)
    if gradientThresholdMethod == "global-l2norm":
        gradients.Value = thresholdGlobalL2Norm(gradients.Value, gradientThreshold)
    elif gradientThresholdMethod == "l2norm":
        gradients = dlupdate(lambda g: thresholdL2Norm(g, gradientThreshold), gradients)
    elif gradientThresholdMethod == "absolute-value":
        gradients = dlupdate(lambda g: thresholdAbsoluteValue(g, gradientThreshold), gradients)
    return gradients


def norms(gradients):
    return [float(np.sqrt(np.sum(extractdata(g).astype(np.float64) ** 2))) for g in gradients.Value]


big = dlupdate(lambda g: 100 * g, gradients)       # gradients 100x larger, so that every method clips
print("L2 norm of each gradient (fc_1 W, fc_1 b, fc_2 W, fc_2 b) and the global norm:")
print(f"  {'unclipped':15s}", np.round(norms(big), 3), f"global {np.linalg.norm(norms(big)):.3f}")
for method, threshold in (("global-l2norm", 2), ("l2norm", 2), ("absolute-value", 0.05)):
    clipped = clipGradients(big, method, threshold)
    largest = max(np.abs(extractdata(g)).max() for g in clipped.Value)
    print(f"  {method:15s}", np.round(norms(clipped), 3), f"global {np.linalg.norm(norms(clipped)):.3f}",
          f"largest |element| {largest:.3f}")

# %% [markdown]
# * `global-l2norm` (threshold 2): the global norm becomes exactly 2 and every gradient keeps its share (same
#   direction as the unclipped gradient);
# * `l2norm` (threshold 2): each gradient whose own norm exceeds 2 is scaled to 2; the small bias gradients are
#   untouched, so the direction changes;
# * `absolute-value` (threshold 0.05): elements are clipped one by one.
#
# ## Single CPU or GPU Training
#
# MATLAB moves data to the GPU when one is available (`minibatchqueue`'s `OutputEnvironment`, default `"auto"`):
#
# ```matlab
# executionEnvironment = "auto";
# if (executionEnvironment == "auto" && canUseGPU) || executionEnvironment == "gpu"
#     X = gpuArray(X);
# end
# ```
#
# dlteach runs on the CPU only (NumPy); there is nothing to set.
#
# ## Checkpoints
#
# To save the network during training, set a checkpoint folder (or leave it empty, `[]`, for none), create it,
# and at the end of each epoch save the network in a file whose name has the iteration number and the date:
#
# ```matlab
# checkpointPath = fullfile(tempdir,"checkpoints");
# if ~exist(checkpointPath,"dir")
#     mkdir(checkpointPath)
# end
# ...
# if ~isempty(checkpointPath)
#     D = string(datetime("now",Format="yyyy_MM_dd__HH_mm_ss"));
#     filename = "net_checkpoint__" + iteration + "__" + D + ".mat";
#     save(fullfile(checkpointPath,filename),"net")
# end
# ```
#
# In Python `save(path, net)` takes the object itself (MATLAB's `save(filename,"net")` names the variable), and
# writes a `.npz` file; `load(path)` returns the network. Resuming from a checkpoint (not on the page) is
# `net = load(filename)`. The checkpoints are written by the loop in the next section.

# %%
checkpointPath = os.path.join(tempfile.mkdtemp(), "checkpoints")     # MATLAB: fullfile(tempdir,"checkpoints")
if not os.path.isdir(checkpointPath):
    os.makedirs(checkpointPath)


def saveCheckpoint(net, iteration, checkpointPath):
    if checkpointPath:
        D = time.strftime("%Y_%m_%d__%H_%M_%S")                      # yyyy_MM_dd__HH_mm_ss
        filename = "net_checkpoint__" + str(iteration) + "__" + D + ".npz"
        save(os.path.join(checkpointPath, filename), net)


# %% [markdown]
# ## All the options in one loop
#
# *Not on the page: its fragments put together as the page describes.* Adam with a piecewise learn-rate schedule,
# L2 regularization, gradient clipping (global L2 norm), validation every 50 iterations with patience 5, a
# verbose table every 50 iterations, the training progress monitor, and a checkpoint at the end of every epoch.
#
# ```matlab
# iteration = 0;
# epoch = 0;
# averageGrad = [];
# averageSqGrad = [];
# mbq = minibatchqueue(dsTrain,MiniBatchSize=miniBatchSize,MiniBatchFcn=@preprocessMiniBatch,...
#     MiniBatchFormat=["SSCB" ""]);
# (monitor, verbose header, earlyStop, validationLosses: as above)
# start = tic;
#
# while epoch < numEpochs && ~earlyStop && ~monitor.Stop
#     epoch = epoch + 1;
#     shuffle(mbq);
#     while hasdata(mbq) && ~earlyStop && ~monitor.Stop
#         iteration = iteration + 1;
#         [X,T] = next(mbq);
#         [loss,gradients,state] = dlfeval(@modelLoss,net,X,T);
#         net.State = state;
#
#         (L2 regularization, gradient clipping: as above)
#
#         [net,averageGrad,averageSqGrad] = adamupdate(net,gradients,averageGrad,averageSqGrad, ...
#             iteration,learnRate);
#
#         (training progress plot, validation, early stopping, verbose output: as above)
#     end
#     (piecewise learn rate drop, checkpoint: as above)
# end
# ```

# %%
learnRate = 0.01
learnRateSchedule = "piecewise"
learnRateDropPeriod = 10
learnRateDropFactor = 0.1
gradientThresholdMethod = "global-l2norm"
gradientThreshold = 2
verbose = True
verboseFrequency = 50
plots = "training-progress"

net = dlnetwork(layers)            # a fresh network
mbq = minibatchqueue(dsTrain, MiniBatchSize=miniBatchSize, MiniBatchFcn=preprocessMiniBatch,
                     MiniBatchFormat=["SSCB", ""])
iteration = 0
epoch = 0
averageGrad = None
averageSqGrad = None
history = {"iteration": [], "lossValidation": []}

if plots == "training-progress":
    monitor = trainingProgressMonitor(Metrics=["TrainingLoss", "ValidationLoss"], Info=["Epoch", "LearnRate"],
                                      XLabel="Iteration")
    groupSubPlot(monitor, "Loss", ["TrainingLoss", "ValidationLoss"])

earlyStop = False
if np.isfinite(validationPatience):
    validationLosses = [np.inf] * validationPatience

if verbose:
    printHeader()
start = time.time()                                                 # MATLAB: start = tic

while epoch < numEpochs and not earlyStop and not monitor.Stop:
    epoch = epoch + 1
    shuffle(mbq)
    while hasdata(mbq) and not earlyStop and not monitor.Stop:
        iteration = iteration + 1
        X, T = next_batch(mbq)
        loss, gradients, state = dlfeval(modelLoss, net, X, T)
        net.State = state

        # L2 regularization
        idx = net.Learnables.Parameter == "Weights"
        gradients[idx, :] = dlupdate(lambda g, w: g + l2Regularization * w, gradients[idx, :],
                                     net.Learnables[idx, :])

        # Gradient clipping
        if gradientThresholdMethod == "global-l2norm":
            gradients.Value = thresholdGlobalL2Norm(gradients.Value, gradientThreshold)
        elif gradientThresholdMethod == "l2norm":
            gradients = dlupdate(lambda g: thresholdL2Norm(g, gradientThreshold), gradients)
        elif gradientThresholdMethod == "absolute-value":
            gradients = dlupdate(lambda g: thresholdAbsoluteValue(g, gradientThreshold), gradients)

        net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, iteration,
                                                     learnRate)

        # Training progress plot
        if plots == "training-progress":
            recordMetrics(monitor, iteration, TrainingLoss=loss)
            updateInfo(monitor, Epoch=f"{epoch} of {numEpochs}", LearnRate=learnRate)

        # Validation and early stopping
        lossValidation = accuracyValidation = ""
        if validationData and (iteration == 1 or iteration % validationFrequency == 0):
            lossValidation, accuracyValidation = validate(net, validationData)
            history["iteration"].append(iteration)
            history["lossValidation"].append(lossValidation)
            if plots == "training-progress":
                recordMetrics(monitor, iteration, ValidationLoss=lossValidation)
            if np.isfinite(validationPatience):
                validationLosses = validationLosses + [lossValidation]
                if min(validationLosses) == validationLosses[0]:
                    earlyStop = True
                else:
                    del validationLosses[0]

        # Verbose output
        if verbose and (iteration == 1 or iteration % verboseFrequency == 0):
            D = durationText(time.time() - start)
            lossTrain = float(loss)
            accuracyTrain = np.mean(onehotdecode(predict(net, X), classNames, 1) == onehotdecode(T, classNames, 1))
            printRow(epoch, iteration, D, accuracyTrain, accuracyValidation, lossTrain, lossValidation, learnRate)

    # Piecewise learn rate schedule
    if learnRateSchedule == "piecewise" and epoch % learnRateDropPeriod == 0:
        learnRate = learnRate * learnRateDropFactor

    # Checkpoint
    saveCheckpoint(net, iteration, checkpointPath)

if verbose:
    print(" |" + "=" * 118 + "|")
print(f"stopped after epoch {epoch}, iteration {iteration}: early stop {earlyStop}")

# %% [markdown]
# (The mini-batch accuracy of the verbose table is computed here with `predict` after the update; MATLAB's page
# computes it from the mini-batch predictions in the model loss function.)
#
# The mini-batch loss went on falling towards 0 (the network fits the 3,000 training images almost perfectly),
# while the validation loss stopped improving: the drop of the learn rate after epoch 10 helped once, then five
# validations in a row brought no new minimum and early stopping ended the training before epoch 30. Where was
# the minimum, and what did the extra epochs cost?

# %%
best = int(np.argmin(history["lossValidation"]))
print(f"smallest validation loss {history['lossValidation'][best]:.4f} at iteration {history['iteration'][best]};"
      f" at the stop ({history['iteration'][-1]}): {history['lossValidation'][-1]:.4f}")
print("validation loss, accuracy of the final network: %.4f, %.3f" % validate(net, validationData))

# %% [markdown]
# The loop returns the *last* network, not the best one: patience trades a few extra validations for certainty
# that the minimum has passed. The checkpoints let you go back. One per epoch was written:

# %%
files = sorted(os.listdir(checkpointPath), key=lambda f: int(f.split("__")[1]))
print(len(files), "checkpoints, e.g.", files[0])

# %% [markdown]
# Load the checkpoint closest to the validation minimum (the epoch ending at or after that iteration) and
# evaluate it:

# %%
bestIteration = history["iteration"][best]
filename = next(f for f in files if int(f.split("__")[1]) >= bestIteration)
netBest = load(os.path.join(checkpointPath, filename))
print(f"{filename.split('__')[1]}: validation loss, accuracy %.4f, %.3f" % validate(netBest, validationData))

# %% [markdown]
# ## What to take away
#
# * Every `trainingOptions` setting is a few lines in a custom loop: the solver is the update function, the
#   schedule a line at the end of each epoch (piecewise) or iteration (time-based), L2 regularization and gradient
#   clipping are `dlupdate` calls on the gradients before the update.
# * `gradients[idx, :] = dlupdate(...)` assigns rows of the gradients table, as MATLAB's `gradients(idx,:)` does.
# * Validation uses `predict` (inference mode), early stopping a window of the last `validationPatience + 1`
#   losses, and checkpoints are `save` / `load`.
