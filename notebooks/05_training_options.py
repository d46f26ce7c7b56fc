# ---
# jupyter:
#   dlteach:
#     estimated_minutes: 75
#     lesson: 5
#     seed: 'MATLAB: Specify Training Options in Custom Training Loop (learn-rate schedules,
#       L2 regularization, gradient clipping, validation and patience, checkpoints, L-BFGS)'
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
# # Lesson 5 — Training options in a custom loop
#
# *`trainingOptions("adam", InitialLearnRate=0.01, L2Regularization=1e-4, ...)` does a lot in one line. In a custom
# loop, every option is a few lines of your own code — which ones, and where do they go?*
#
# This lesson follows MATLAB's documentation page **"Specify Training Options in Custom Training Loop"**, retold in our
# own words and in Python with `dlteach`. The page takes the options of `trainingOptions` one by one and shows the code
# that does the same job inside a custom training loop. We do the same, MATLAB and Python side by side.
#
# **After this lesson you can**
#
# 1. write **learn-rate schedules** — piecewise (drop by a factor every few epochs) and time-based decay — and say
#    which learn rate the loop uses at any iteration;
# 2. add **L2 regularization** to the gradients with `dlupdate` on rows of the `Learnables` table, with each layer's
#    `L2Factor`, and see it as a term of the loss ("a sum of terms", lesson 02) and as *weight decay*;
# 3. **clip gradients** three ways — L2 norm per parameter, global L2 norm, absolute value — and predict which
#    parameters each one changes;
# 4. **validate** during training, plot training and validation loss in **one** `trainingProgressMonitor`, and stop
#    early with a **patience** rule;
# 5. write **checkpoints** with `save` and **resume** from one so that training continues exactly;
# 6. train a small full-batch problem with **L-BFGS** (`lbfgsupdate`) and compare it with Adam by iterations and by
#    wall-clock time.
#
# **Time:** about 75 minutes. **Builds on:** lesson 02 (the loss as a sum of terms), lesson 03 (the custom loop,
# `adamupdate`, `dlupdate`, `trainingProgressMonitor`) and lesson 04 (reading loss curves).
#
# **How the exercises work.** There are six graded exercises in sixteen graded parts (18 points), and three written
# questions (3 points, graded by your instructor). Each exercise has a cell for your answer — replace the blank `____`
# under `# YOUR CODE HERE` with your code — and, below it, one-line *check cells* such as `ex1.check("a")`. Run them:
# each answers in one box, **Correct** (with the list of what it checked), **Incorrect** (with what is wrong) or **Not
# attempted yet**. When your work is graded, the same checks run again, and those that test code also on other inputs
# (other schedules, gradients, networks, loss curves), so code that only fits the notebook's inputs does not pass.
# Stuck? `ex1.hint()` gives the next hint — first the idea, then where to look, then partial code — and
# `ex1.solution()` a full solution (unless your instructor switched solutions off). Unfinished exercises do not stop
# the notebook: *Run ▸ Run All Cells* goes through to the end; the cells that need one of your answers say so instead
# of failing. The check code is in `dlteach/exercises/lesson05.py`.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false}
import copy
import os
import tempfile
import time

import numpy as np
import matplotlib.pyplot as plt

from dlteach import (dlarray, extractdata, dlfeval, dlgradient, dlupdate,                        # arrays, autodiff
                     adamupdate, sgdmupdate, lbfgsupdate, lbfgsState,                              # updaters
                     dlnetwork, forward, predict, getL2Factor, save, load,                         # network, files
                     imageInputLayer, featureInputLayer, fullyConnectedLayer, batchNormalizationLayer,
                     reluLayer, tanhLayer, softmaxLayer, crossentropy, mse, load_digits,
                     trainingProgressMonitor, recordMetrics, updateInfo, groupSubPlot)             # the monitor
from dlteach.nnc import nnc_loss, CategoricalCrossEntropy, MulScalar, PowScalar, Sum                # lesson 02's NNC view
# the checks of this lesson's exercises: dlteach/exercises/lesson05.py
from dlteach.exercises.lesson05 import ex1, ex2, ex3, ex4, ex5, ex6, ____

np.random.seed(0)   # networks draw their initial weights from NumPy's global random generator

# %% [markdown]
# ## 1. From `trainingOptions` to code
#
# With `trainnet` (or the older `trainNetwork`), training options are *values*: `trainingOptions` collects them and
# the training function applies them. A custom loop has no options object — the loop **is** the options. MATLAB's page
# lists, for each option, what to write instead. The ones of this lesson:
#
# | `trainingOptions` option | in a custom training loop | section |
# |---|---|---|
# | solver `"sgdm"`, `"adam"`, `"rmsprop"`, `"lbfgs"` | the updater you call: `sgdmupdate`, `adamupdate`, `rmspropupdate`, `lbfgsupdate` | 1, 7 |
# | `InitialLearnRate`, `LearnRateSchedule`, `LearnRateDropPeriod`, `LearnRateDropFactor` | a variable `learnRate`, changed by your code, passed to the updater | 2 |
# | `L2Regularization` | `dlupdate` on the gradients before the update | 3 |
# | `GradientThreshold`, `GradientThresholdMethod` | a clipping function applied to the gradients | 4 |
# | `ValidationData`, `ValidationFrequency`, `ValidationPatience` | a forward pass on held-out data every few iterations, and a stopping rule | 5 |
# | `Plots="training-progress"` | `trainingProgressMonitor` | 5 |
# | `CheckpointPath`, `CheckpointFrequency` | `save` inside the loop | 6 |
# | `MiniBatchSize`, `MaxEpochs`, `Shuffle` | the loops over epochs and mini-batches (lesson 03) | 1 |
#
# Our patient is small, so that every training run of the lesson takes a second or two: 500 training digits, 500
# **held-out** validation digits (the model never trains on them), mini-batches of 100 (5 iterations per epoch), and a
# perceptron with one hidden layer of 64 units and batch normalisation.

# %%
XTrain, labelsTrain, TTrain = load_digits("train")

numTrain, miniBatchSize = 500, 100
numIterationsPerEpoch = numTrain // miniBatchSize
XValidation = dlarray(XTrain[:, :, :, 3000:3500], "SSCB")     # held out: never used for training
TValidation = TTrain[:, 3000:3500]

layers = [
    imageInputLayer([28, 28, 1], Normalization="none"),
    fullyConnectedLayer(64),
    batchNormalizationLayer(),
    reluLayer(),
    fullyConnectedLayer(10),
    softmaxLayer(),
]
np.random.seed(0)
net = dlnetwork(layers)
print(net.Learnables)


def modelLoss(net, X, T):
    # MATLAB: function [loss,gradients,state] = modelLoss(net,X,T)
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state


def miniBatches(epoch):
    # The mini-batches of one epoch, shuffled (MATLAB: shuffle(mbq) at the start of each epoch). The order depends
    # on the epoch number only, so a run that resumes at epoch 5 sees exactly the batches it would have seen.
    order = np.random.default_rng(epoch).permutation(numTrain)
    for start in range(0, numTrain, miniBatchSize):
        idx = order[start:start + miniBatchSize]
        yield dlarray(XTrain[:, :, :, idx], "SSCB"), TTrain[:, idx]


def validationLoss(net):
    # the loss on the held-out digits: predict (inference mode: batch normalisation uses the stored statistics)
    return float(crossentropy(predict(net, XValidation), TValidation))


print(f"{numTrain} training digits, {XValidation.shape[-1]} validation digits, "
      f"{numIterationsPerEpoch} iterations per epoch")

# %% [markdown]
# ## 2. Learn-rate schedules
#
# A large learn rate makes fast progress at the start; a small one settles into a minimum at the end. A **schedule**
# gives both: it changes the learn rate as training goes on. `trainingOptions` has `LearnRateSchedule="piecewise"`:
# multiply the learn rate by `LearnRateDropFactor` every `LearnRateDropPeriod` epochs. In a custom loop that is an
# `if` at the **end** of the epoch loop:
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# learnRate = initialLearnRate;
# iteration = 0;
# for epoch = 1:numEpochs
#     shuffle(mbq);
#     while hasdata(mbq)
#         iteration = iteration + 1;
#         [X,T] = next(mbq);
#         [loss,gradients,state] = ...
#             dlfeval(@modelLoss,net,X,T);
#         net.State = state;
#         [net,avgG,avgSqG] = adamupdate(net, ...
#             gradients,avgG,avgSqG,iteration,learnRate);
#     end
#     if mod(epoch,learnRateDropPeriod) == 0
#         learnRate = learnRate*learnRateDropFactor;
#     end
# end
# </pre>
# </td><td>
# <pre>
# learnRate = initialLearnRate
# iteration = 0
# for epoch in range(1, numEpochs + 1):
# &nbsp;
#     for X, T in miniBatches(epoch):
#         iteration += 1
# &nbsp;
#         loss, gradients, state = \
#             dlfeval(modelLoss, net, X, T)
#         net.State = state
#         net, avgG, avgSqG = adamupdate(net,
#             gradients, avgG, avgSqG, iteration, learnRate)
# &nbsp;
#     if epoch % learnRateDropPeriod == 0:
#         learnRate = learnRate * learnRateDropFactor
# &nbsp;
# </pre>
# </td></tr>
# </table>
#
# The other classic is **time-based decay**, used in MATLAB's example "Train Network Using Custom Training Loop": the
# learn rate shrinks a little at *every iteration*,
#
# $$\text{learnRate} = \frac{\text{initialLearnRate}}{1 + \text{decay}\cdot\text{iteration}}$$
#
# — MATLAB `learnRate = initialLearnRate/(1 + decay*iteration);`, Python
# `learnRate = initialLearnRate / (1 + decay * iteration)`, computed before the update. After $1/\text{decay}$
# iterations the rate is half the initial one, after $9/\text{decay}$ a tenth.
#
# The function below trains the lesson's network for 40 epochs with a constant rate, the piecewise schedule (0.01,
# halved every 10 epochs) or time-based decay (0.01, decay 0.01), and records the learn rate of every iteration:

# %%
initialLearnRate = 0.01
learnRateDropPeriod, learnRateDropFactor = 10, 0.5
decay = 0.01
numEpochs = 40


def trainWithSchedule(schedule, numEpochs=numEpochs):
    np.random.seed(0)
    net = dlnetwork(layers)
    averageGrad = averageSqGrad = None
    iteration = 0
    learnRate = initialLearnRate
    learnRates, losses = [], []
    for epoch in range(1, numEpochs + 1):
        for X, T in miniBatches(epoch):
            iteration += 1
            if schedule == "time-based":
                learnRate = initialLearnRate / (1 + decay * iteration)
            loss, gradients, state = dlfeval(modelLoss, net, X, T)
            net.State = state
            net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, iteration,
                                                         learnRate)
            learnRates.append(learnRate)
            losses.append(float(loss))
        if schedule == "piecewise" and epoch % learnRateDropPeriod == 0:
            learnRate = learnRate * learnRateDropFactor
    return net, learnRates, losses


runs = {schedule: trainWithSchedule(schedule) for schedule in ["constant", "piecewise", "time-based"]}
print(f"{'schedule':11s} {'last rate':>10s} {'training loss (last epoch)':>26s} {'validation loss':>16s}")
for schedule, (netS, ratesS, lossesS) in runs.items():
    print(f"{schedule:11s} {ratesS[-1]:10.5f} {np.mean(lossesS[-numIterationsPerEpoch:]):26.4f} "
          f"{validationLoss(netS):16.4f}")

# %% [markdown]
# The learn rates of the piecewise run at a few iterations (the loop recorded them):

# %%
ratesPiecewise = runs["piecewise"][1]
for k in [1, 5, 6, 49, 50, 51, 52, 100, 101, 150, 151, 200]:
    print(f"iteration {k:3d} (epoch {(k - 1) // numIterationsPerEpoch + 1:2d}): learnRate = {ratesPiecewise[k - 1]:g}")

# %%
# NBVAL_IGNORE_OUTPUT
fig, (axRate, axLoss) = plt.subplots(1, 2, figsize=(11, 3.4))
for schedule, (_net, ratesS, lossesS) in runs.items():
    axRate.plot(np.arange(1, len(ratesS) + 1), ratesS, label=schedule)
    smooth = np.convolve(lossesS, np.ones(5) / 5, mode="valid")        # mean over one epoch
    axLoss.semilogy(np.arange(5, len(lossesS) + 1), smooth, label=schedule)
axRate.set(xlabel="iteration", ylabel="learn rate", title="Learn-rate schedules")
axLoss.set(xlabel="iteration", ylabel="training loss (mean of 5)", title="Training loss")
axRate.legend()
axLoss.legend()
plt.show()

# %% [markdown]
# The constant rate ends with the lowest training loss — 500 digits are easy to memorise — but the highest
# validation loss. The two schedules take smaller steps late in training and end a little better on the held-out
# digits. Which schedule (and which rates) suits a problem is found by trying, with the validation loss as the judge
# (Section 5).
#
# ### Exercise 1 — which learn rate at which iteration?
#
# **(a) (2 points)** Write `piecewiseLearnRate(iteration, initialLearnRate, learnRateDropPeriod, learnRateDropFactor,
# numIterationsPerEpoch)`: the learn rate that the piecewise loop above passes to `adamupdate` at iteration
# `iteration` (counted from 1, across epochs) — without running a loop: a formula. Test it on the iterations printed
# above. (Grading also uses other rates, periods, factors and numbers of iterations per epoch.)
#
# **(b) (1 point)** `decayToMatch`: the `decay` with which the **time-based** schedule, starting from the same
# `initialLearnRate = 0.01`, uses at iteration 200 (the last of the 40 epochs) exactly the learn rate that the
# piecewise schedule uses at iteration 200.

# %% nbgrader={"grade": false, "grade_id": "ex1_answer_a", "locked": false, "schema_version": 3, "solution": true}
def piecewiseLearnRate(iteration, initialLearnRate, learnRateDropPeriod, learnRateDropFactor, numIterationsPerEpoch):
    ### BEGIN SOLUTION
    epoch = (iteration - 1) // numIterationsPerEpoch + 1
    numDrops = (epoch - 1) // learnRateDropPeriod
    return initialLearnRate * learnRateDropFactor ** numDrops
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1_a", "locked": true, "points": 2, "schema_version": 3, "solution": false}
ex1.check("a")
### BEGIN HIDDEN TESTS
ex1.check("a", seed=51)
### END HIDDEN TESTS

# %% nbgrader={"grade": false, "grade_id": "ex1_answer_b", "locked": false, "schema_version": 3, "solution": true}
# decayToMatch = ...
### BEGIN SOLUTION
target = piecewiseLearnRate(200, 0.01, 10, 0.5, 5)
decayToMatch = (0.01 / target - 1) / 200
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex1_b", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex1.check("b")

# %% [markdown]
# ## 3. L2 regularization
#
# `trainingOptions(..., L2Regularization=λ)` trains on a **regularized loss**: the loss plus a penalty on large
# parameters,
#
# $$E_R(\theta) = E(\theta) + \frac{\lambda}{2}\sum_{p} f_p\,\lVert w_p\rVert^2 ,$$
#
# a sum over the learnable arrays $w_p$ with each one's **L2 factor** $f_p$ (a layer option: `WeightL2Factor` of a
# fully connected layer is 1 and `BiasL2Factor` is 0 — biases are not penalised —, batch normalisation's `OffsetL2Factor`
# and `ScaleL2Factor` are 1). Its gradient is the gradient of the loss plus $\lambda f_p w_p$ for every array. So
# instead of changing the loss, a custom loop changes the **gradients**, before the updater. MATLAB's page does it for
# the rows of the gradients table whose `Parameter` is `"Weights"` (factor 1), with `dlupdate` on those rows:
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# idx = net.Learnables.Parameter == "Weights";
# gradients(idx,:) = dlupdate( ...
#     @(g,w) g + l2Regularization*w, ...
#     gradients(idx,:), net.Learnables(idx,:));
# </pre>
# </td><td>
# <pre>
# idx = net.Learnables.Parameter == "Weights"
# gradients[idx, :] = dlupdate(
#     lambda g, w: g + l2Regularization * w,
#     gradients[idx, :], net.Learnables[idx, :])
# </pre>
# </td></tr>
# </table>
#
# `dlupdate(fun, A, B)` calls `fun(a, b)` for every pair of matching rows of the two tables and returns a table of the
# results: here `a` is the gradient, `b` the learnable. One difference from MATLAB: a MATLAB table is a value, so
# `gradients(idx,:) = ...` changes only the variable `gradients` of that function; a Python `Table` is an object, and
# `gradients[idx, :] = ...` changes **that object**, wherever else it is used. (`gradients[:, :]` is a copy.)

# %%
l2Regularization = 0.01
X1, T1 = dlarray(XTrain[:, :, :, :100], "SSCB"), TTrain[:, :100]          # one mini-batch: the first 100 digits
np.random.seed(0)
net = dlnetwork(layers)
loss, gradients, state = dlfeval(modelLoss, net, X1, T1)

gradientsReg = gradients[:, :]                                            # a copy: gradients stays as it is
idx = net.Learnables.Parameter == "Weights"
gradientsReg[idx, :] = dlupdate(lambda g, w: g + l2Regularization * w, gradientsReg[idx, :], net.Learnables[idx, :])

for row, g, gR, w in zip(net.Learnables, gradients.Value, gradientsReg.Value, net.Learnables.Value):
    added = extractdata(gR) - extractdata(g)
    if np.any(added != 0):
        isLambdaW = np.allclose(added, l2Regularization * extractdata(w), rtol=1e-4, atol=1e-8)
        print(f"{row.Layer + '/' + row.Parameter:18s} changed; the change is lambda * w: {isLambdaW}")
    else:
        print(f"{row.Layer + '/' + row.Parameter:18s} unchanged")

# %% [markdown]
# ### Weight decay
#
# Why is L2 regularization also called **weight decay**? Take plain gradient descent with learn rate $\eta$ on the
# regularized gradient: $w \leftarrow w - \eta\,(g + \lambda w) = (1 - \eta\lambda)\,w - \eta\,g$. Every step first
# shrinks the weights by the factor $1 - \eta\lambda$ — they *decay* towards 0 unless the loss pulls them back — and
# then takes the usual step. `sgdmupdate` with momentum 0 on the regularized gradients, and the decay written out, give the
# same weights:

# %%
learnRate = 0.1
netSGD, _vel = sgdmupdate(net, gradientsReg, None, learnRate, 0)                 # SGD on the regularized gradients
for i in np.flatnonzero(idx):                                                     # the "Weights" rows
    w, g = net.Learnables.Value[i], gradients.Value[i]
    decayed = (1 - learnRate * l2Regularization) * w - learnRate * g              # shrink, then the usual step
    difference = float(np.max(np.abs(extractdata(netSGD.Learnables.Value[i]) - extractdata(decayed))))
    print(f"{net.Learnables.Layer[i]}/Weights: largest difference {difference:.1e}   (float32 rounding)")

# %% [markdown]
# With momentum, or with Adam, the two stop being the same: Adam divides the whole gradient, penalty included, by
# $\sqrt{v}$ per parameter, so a weight with large gradients is decayed *less*. "Decoupled weight decay" (the AdamW
# method) shrinks the weights directly instead, $w \leftarrow (1-\eta\lambda)w$, next to Adam's step. Keep the two apart
# in your head: "L2 regularization" changes the gradients, "weight decay" changes the weights; they coincide only for
# plain SGD.
#
# ### The NNC view: a regularized loss is a sum of terms
#
# Lesson 02 met Neural Network Console's rule: the loss that is minimised is the **sum of the means of all terminal
# outputs** of the network (`dlteach.nnc.nnc_loss`). A regularized loss fits that rule as it is: one terminal is the
# cross-entropy per observation, and each weight array adds a terminal $\frac{\lambda}{2}\sum w^2$ (a scalar: its mean is
# itself). In NNC you would draw a `PowScalar` → `Sum` → `MulScalar` branch from each weight; here it is written with
# the same layers as functions. Its gradient, taken by `dlgradient`, is the recipe's:

# %%
def modelLossNNC(net, X, labels):
    Y, state = forward(net, X, return_state=True)
    terminals = [CategoricalCrossEntropy(Y, labels)]                      # 1 x B: the loss of each observation
    for parameter, w in zip(net.Learnables.Parameter, net.Learnables.Value):
        if parameter == "Weights":
            terminals.append(MulScalar(Sum(PowScalar(w, 2)), l2Regularization / 2))   # lambda/2 * sum(w.^2)
    loss = nnc_loss(terminals)                                            # the sum of the terminals' means
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state


labels1 = labelsTrain[:100].reshape(1, -1)                                # class indices, as NNC's layer wants them
lossNNC, gradientsNNC, _ = dlfeval(modelLossNNC, net, X1, labels1)
largest = max(float(np.max(np.abs(extractdata(a) - extractdata(b))))
              for a, b in zip(gradientsNNC.Value, gradientsReg.Value))
print(f"loss without the penalty {float(loss):.4f}, with it {float(lossNNC):.4f}")
print(f"largest difference between the NNC loss's gradients and the recipe's: {largest:.1e}")

# %% [markdown]
# ### Each parameter's L2 factor
#
# The page's recipe penalises the rows named `"Weights"`. `trainnet` does more: it uses every learnable's L2 factor,
# which you can read with `getL2Factor(net, layerName, parameterName)` (MATLAB: the same) — and set per layer
# (`fullyConnectedLayer(64, WeightL2Factor=0.5, BiasL2Factor=1)`) or on a network with `setL2Factor`:

# %%
for row in net.Learnables:
    print(f"{row.Layer + '/' + row.Parameter:18s} L2Factor = {getL2Factor(net, row.Layer, row.Parameter):g}")

# %% [markdown]
# ### Exercise 2 — L2 regularization as `trainnet` does it
#
# **(a, b) (2 points)** Write `regularizeGradients(gradients, net, l2Regularization)`: it returns a **new** gradients
# table in which every row has gained `l2Regularization * L2Factor * w`, with `w` that row's learnable in
# `net.Learnables` and `L2Factor` that row's factor (`getL2Factor`). Rows whose factor is 0 stay as they are. The table
# `gradients` that is passed in must not change (the check verifies it), and the values stay float32.
#
# * **(a) (1 point)** checked on the lesson's network (its weights have factor 1);
# * **(b) (1 point)** checked on another network whose layers set other factors (0.5, 2, 0).

# %% nbgrader={"grade": false, "grade_id": "ex2_answer_ab", "locked": false, "schema_version": 3, "solution": true}
def regularizeGradients(gradients, net, l2Regularization):
    ### BEGIN SOLUTION
    out = gradients[:, :]
    for i, (layer, parameter) in enumerate(zip(out.Layer, out.Parameter)):
        factor = getL2Factor(net, layer, parameter)
        if factor != 0:
            out.Value[i] = out.Value[i] + l2Regularization * factor * net.Learnables.Value[i]
    return out
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2_weights", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex2.check("a")
### BEGIN HIDDEN TESTS
ex2.check("a", seed=52)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex2_factors", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex2.check("b")
### BEGIN HIDDEN TESTS
ex2.check("b", seed=53)
### END HIDDEN TESTS

# %% [markdown]
# **(c) (2 points)** Six colleagues each put the page's recipe — L2 regularization of the `"Weights"` rows with
# `l2Regularization` — into a training step with Adam, in their own way. `stepRecipe` is the recipe itself; the six
# candidates are below. Which of them train **exactly as the recipe does** (up to float32 rounding), at every step?
# Set `equivalent` to the letters of all of them, as one string (for example `"AD"`). Reason first, then test your
# reasoning: run a candidate and `stepRecipe` for a few steps from the same network and compare the learnables.

# %%
def stepRecipe(net, X, T, averageGrad, averageSqGrad, iteration, learnRate=0.01):
    loss, gradients, state = dlfeval(modelLoss, net, X, T)
    net.State = state
    idx = net.Learnables.Parameter == "Weights"
    gradients[idx, :] = dlupdate(lambda g, w: g + l2Regularization * w, gradients[idx, :], net.Learnables[idx, :])
    return adamupdate(net, gradients, averageGrad, averageSqGrad, iteration, learnRate)


def stepA(net, X, T, averageGrad, averageSqGrad, iteration, learnRate=0.01):
    loss, gradients, state = dlfeval(modelLoss, net, X, T)
    net.State = state
    idx = net.Learnables.Parameter == "Weights"
    gradients[idx, :] = dlupdate(lambda w, g: g + l2Regularization * w, gradients[idx, :], net.Learnables[idx, :])
    return adamupdate(net, gradients, averageGrad, averageSqGrad, iteration, learnRate)


def modelLossB(net, X, T):
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    for parameter, w in zip(net.Learnables.Parameter, net.Learnables.Value):
        if parameter == "Weights":
            loss = loss + l2Regularization / 2 * np.sum(w ** 2)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state


def stepB(net, X, T, averageGrad, averageSqGrad, iteration, learnRate=0.01):
    loss, gradients, state = dlfeval(modelLossB, net, X, T)
    net.State = state
    return adamupdate(net, gradients, averageGrad, averageSqGrad, iteration, learnRate)


def modelLossC(net, X, T):
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    for parameter, w in zip(net.Learnables.Parameter, net.Learnables.Value):
        if parameter == "Weights":
            loss = loss + l2Regularization * np.sum(w ** 2)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state


def stepC(net, X, T, averageGrad, averageSqGrad, iteration, learnRate=0.01):
    loss, gradients, state = dlfeval(modelLossC, net, X, T)
    net.State = state
    return adamupdate(net, gradients, averageGrad, averageSqGrad, iteration, learnRate)


def stepD(net, X, T, averageGrad, averageSqGrad, iteration, learnRate=0.01):
    loss, gradients, state = dlfeval(modelLoss, net, X, T)
    net.State = state
    gradients = dlupdate(lambda g, w: g + l2Regularization * w, gradients, net.Learnables)
    return adamupdate(net, gradients, averageGrad, averageSqGrad, iteration, learnRate)


def stepE(net, X, T, averageGrad, averageSqGrad, iteration, learnRate=0.01):
    loss, gradients, state = dlfeval(modelLoss, net, X, T)
    net.State = state
    net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, iteration, learnRate)
    idx = net.Learnables.Parameter == "Weights"
    learnables = net.Learnables
    learnables[idx, :] = dlupdate(lambda w: (1 - learnRate * l2Regularization) * w, learnables[idx, :])
    net.Learnables = learnables
    return net, averageGrad, averageSqGrad


def stepF(net, X, T, averageGrad, averageSqGrad, iteration, learnRate=0.01):
    loss, gradients, state = dlfeval(modelLoss, net, X, T)
    net.State = state
    for i in np.flatnonzero(net.Learnables.Parameter == "Weights"):
        gradients.Value[i] = gradients.Value[i] + l2Regularization * net.Learnables.Value[i]
    return adamupdate(net, gradients, averageGrad, averageSqGrad, iteration, learnRate)


# %% nbgrader={"grade": false, "grade_id": "ex2_answer_c", "locked": false, "schema_version": 3, "solution": true}
# Test your reasoning here (add cells if you like), then set equivalent = "..."
### BEGIN SOLUTION
def runSteps(stepFcn, numSteps=3):
    np.random.seed(0)
    netK = dlnetwork(layers)
    avgG = avgSqG = None
    for k, (X, T) in zip(range(1, numSteps + 1), miniBatches(1)):
        netK, avgG, avgSqG = stepFcn(netK, X, T, avgG, avgSqG, k)
    return netK


reference = runSteps(stepRecipe)
for name, stepFcn in [("A", stepA), ("B", stepB), ("C", stepC), ("D", stepD), ("E", stepE), ("F", stepF)]:
    other = runSteps(stepFcn)
    diff = max(float(np.max(np.abs(extractdata(a) - extractdata(b))))
               for a, b in zip(reference.Learnables.Value, other.Learnables.Value))
    print(name, f"{diff:.1e}")
equivalent = "BF"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex2_candidates", "locked": true, "points": 2, "schema_version": 3, "solution": false}
ex2.check("c")

# %% [markdown]
# ## 4. Gradient clipping
#
# Now and then a mini-batch produces a huge gradient — an unusual batch, a steep wall of the loss surface, an exploding
# recurrent network (lesson 06) — and one step throws the parameters far away. **Gradient clipping** caps the gradient
# before the update. `trainingOptions` has `GradientThreshold` and three `GradientThresholdMethod`s, and MATLAB's page
# writes one small function for each:
#
# * `"l2norm"` — each learnable on its own: if the L2 norm of its gradient $\lVert g\rVert_2$ exceeds the threshold
#   $\tau$, scale that gradient to norm $\tau$: $g \leftarrow g\,\tau / \lVert g\rVert_2$ (`thresholdL2Norm`);
# * `"global-l2norm"` — one norm over **all** the gradients, $\sqrt{\sum_p \lVert g_p\rVert_2^2}$; if it exceeds $\tau$,
#   every gradient is multiplied by the same factor $\tau / \text{(global norm)}$ (`thresholdGlobalL2Norm`);
# * `"absolute-value"` — every entry on its own: entries above $\tau$ become $\tau$, entries below $-\tau$ become $-\tau$
#   (`thresholdAbsoluteValue`).
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# function g = thresholdL2Norm(g,gradientThreshold)
# gradientNorm = sqrt(sum(g(:).^2));
# if gradientNorm > gradientThreshold
#     g = g*(gradientThreshold/gradientNorm);
# end
# end
# &nbsp;
# gradients = dlupdate(@(g) ...
#     thresholdL2Norm(g,gradientThreshold),gradients);
# </pre>
# </td><td>
# <pre>
# def thresholdL2Norm(g, gradientThreshold):
#     gradientNorm = np.sqrt(np.sum(g ** 2))
#     if gradientNorm > gradientThreshold:
#         g = g * (gradientThreshold / gradientNorm)
#     return g
# &nbsp;
# &nbsp;
# gradients = dlupdate(lambda g:
#     thresholdL2Norm(g, gradientThreshold), gradients)
# </pre>
# </td></tr>
# </table>
#
# (The page's global version takes the cell array `gradients.Value` and is called as
# `gradients.Value = thresholdGlobalL2Norm(gradients.Value,gradientThreshold);`.) The gradients of the untrained
# network on the first 100 training digits (`X1`, `T1` of Section 3), with the two numbers that decide what clipping
# does to each row:

# %%
def thresholdL2Norm(g, gradientThreshold):
    gradientNorm = np.sqrt(np.sum(g ** 2))
    if gradientNorm > gradientThreshold:
        g = g * (gradientThreshold / gradientNorm)
    return g


np.random.seed(0)
net = dlnetwork(layers)
loss, gradients, state = dlfeval(modelLoss, net, X1, T1)
print(f"{'row':18s} {'L2 norm':>10s} {'largest |entry|':>16s}")
for row, g in zip(net.Learnables, gradients.Value):
    gd = extractdata(g)
    print(f"{row.Layer + '/' + row.Parameter:18s} {np.linalg.norm(gd):10.4g} {np.max(np.abs(gd)):16.4g}")
globalNorm = np.sqrt(sum(np.sum(extractdata(g) ** 2) for g in gradients.Value))
print(f"global L2 norm: {globalNorm:.4g}")

# %% [markdown]
# (The bias of `fc_1` has a gradient of almost exactly zero: batch normalisation subtracts the mean of each channel right
# after `fc_1`, so adding a constant to a channel — which is what its bias does — changes nothing. The tiny values left
# are rounding.)
#
# ### Exercise 3 — three ways to clip
#
# **(a, b, c) (3 points)** Write `clipGradients(gradients, gradientThreshold, method)` for the gradients table of a
# network: `method` is `"l2norm"`, `"global-l2norm"` or `"absolute-value"`, as in `trainingOptions`. It returns a new
# table with the same rows (the table passed in must not change), float32 values, clipped by that method. Each method is
# one graded part (1 point each); grading also uses other networks, gradients and thresholds.

# %% nbgrader={"grade": false, "grade_id": "ex3_answer_abc", "locked": false, "schema_version": 3, "solution": true}
def clipGradients(gradients, gradientThreshold, method):
    ### BEGIN SOLUTION
    if method == "l2norm":
        return dlupdate(lambda g: thresholdL2Norm(g, gradientThreshold), gradients)
    if method == "global-l2norm":
        globalNorm = float(np.sqrt(sum(np.sum(extractdata(g) ** 2) for g in gradients.Value)))
        if globalNorm > gradientThreshold:
            scale = gradientThreshold / globalNorm
            return dlupdate(lambda g: g * scale, gradients)
        return gradients[:, :]
    if method == "absolute-value":
        return dlupdate(lambda g: np.clip(g, -gradientThreshold, gradientThreshold), gradients)
    raise ValueError(f"unknown method {method!r}")
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3_l2norm", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex3.check("a")
### BEGIN HIDDEN TESTS
ex3.check("a", seed=54)
ex3.check("a", seed=55)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex3_global", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex3.check("b")
### BEGIN HIDDEN TESTS
ex3.check("b", seed=54)
ex3.check("b", seed=55)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex3_absolute", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex3.check("c")
### BEGIN HIDDEN TESTS
ex3.check("c", seed=54)
ex3.check("c", seed=55)
### END HIDDEN TESTS

# %% [markdown]
# **(d) (1 point)** Which parameters does each method change? For the gradients printed above, list the rows (as
# `"layer/Parameter"` strings, e.g. `"fc_1/Weights"`) whose gradient is changed by
#
# * `changedL2Norm`: `"l2norm"` clipping with threshold 0.25;
# * `changedAbsolute`: `"absolute-value"` clipping with threshold 0.1;
# * `changedGlobal`: `"global-l2norm"` clipping with threshold 0.25.
#
# Decide from the table of norms and largest entries first; then check your answer with your `clipGradients`.

# %% nbgrader={"grade": false, "grade_id": "ex3_answer_d", "locked": false, "schema_version": 3, "solution": true}
# changedL2Norm = ["...", ...]; changedAbsolute = [...]; changedGlobal = [...]
### BEGIN SOLUTION
names = [f"{layer}/{parameter}" for layer, parameter in zip(gradients.Layer, gradients.Parameter)]


def changedRows(clipped):
    return [name for name, g, c in zip(names, gradients.Value, clipped.Value)
            if not np.array_equal(extractdata(g), extractdata(c))]


changedL2Norm = changedRows(clipGradients(gradients, 0.25, "l2norm"))
changedAbsolute = changedRows(clipGradients(gradients, 0.1, "absolute-value"))
changedGlobal = changedRows(clipGradients(gradients, 0.25, "global-l2norm"))
print(changedL2Norm, changedAbsolute, changedGlobal, sep="\n")
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex3_rows", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex3.check("d")

# %% [markdown]
# ## 5. Validation, patience and one monitor for both curves
#
# The training loss says how well the network fits the digits it trains on; only data it never trains on — the
# **validation** set — says how well it does on new ones. `trainingOptions` has `ValidationData` (the held-out
# data), `ValidationFrequency` (every how many iterations) and `ValidationPatience`: stop training when the validation
# loss has been **larger than or equal to the smallest validation loss so far** that many times in a row — the network
# has started to memorise its training digits (*overfitting*), and more training only makes it worse on new ones.
#
# MATLAB's page plots both losses in one `trainingProgressMonitor` (`groupSubPlot` puts the two metrics in one
# subplot) and keeps the last `validationPatience + 1` validation losses in a sliding window: when the oldest of them is
# the smallest, the last `validationPatience` ones did not beat it, and training stops.
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# monitor = trainingProgressMonitor( ...
#     Metrics=["TrainingLoss","ValidationLoss"], ...
#     Info=["Epoch","LearnRate"],XLabel="Iteration");
# groupSubPlot(monitor,"Loss", ...
#     ["TrainingLoss","ValidationLoss"]);
# validationLosses = inf(1,validationPatience);
# earlyStop = false;
# ...
# while epoch < numEpochs && ~earlyStop && ~monitor.Stop
#   ...
#   recordMetrics(monitor,iteration,TrainingLoss=loss);
#   if iteration == 1 || ...
#           mod(iteration,validationFrequency) == 0
#     Y = predict(net,XValidation);
#     lossValidation = crossentropy(Y,TValidation);
#     recordMetrics(monitor,iteration, ...
#         ValidationLoss=lossValidation);
#     validationLosses = ...
#         [validationLosses lossValidation];
#     if min(validationLosses) == validationLosses(1)
#       earlyStop = true;
#     else
#       validationLosses(1) = [];
#     end
#   end
# </pre>
# </td><td>
# <pre>
# monitor = trainingProgressMonitor(
#     Metrics=["TrainingLoss", "ValidationLoss"],
#     Info=["Epoch", "LearnRate"], XLabel="Iteration")
# groupSubPlot(monitor, "Loss",
#     ["TrainingLoss", "ValidationLoss"])
# validationLosses = [np.inf] * validationPatience
# earlyStop = False
# ...
# while epoch < numEpochs and not earlyStop and not monitor.Stop:
#   ...
#   recordMetrics(monitor, iteration, TrainingLoss=loss)
#   if (iteration == 1 or
#           iteration % validationFrequency == 0):
#     Y = predict(net, XValidation)
#     lossValidation = crossentropy(Y, TValidation)
#     recordMetrics(monitor, iteration,
#                   ValidationLoss=lossValidation)
#     validationLosses = (validationLosses
#                         + [float(lossValidation)])
#     if min(validationLosses) == validationLosses[0]:
#       earlyStop = True
#     else:
#       validationLosses.pop(0)
# </pre>
# </td></tr>
# </table>
#
# The whole loop, with the piecewise schedule of Section 2, a validation every epoch (every 5 iterations) and a patience
# of 5. In JupyterLab the monitor draws both curves live; its **Stop** button ends the loop as in lesson 03.

# %%
# NBVAL_IGNORE_OUTPUT
validationFrequency, validationPatience = 5, 5
np.random.seed(0)
net = dlnetwork(layers)
monitor = trainingProgressMonitor(Metrics=["TrainingLoss", "ValidationLoss"], Info=["Epoch", "LearnRate"],
                                  XLabel="Iteration")
groupSubPlot(monitor, "Loss", ["TrainingLoss", "ValidationLoss"])

averageGrad = averageSqGrad = None
learnRate = initialLearnRate
validationLosses = [np.inf] * validationPatience          # the sliding window of the patience rule
allValidationLosses = []                                    # every validation loss, for the exercise below
earlyStop = False
epoch = iteration = 0
while epoch < numEpochs and not earlyStop and not monitor.Stop:
    epoch += 1
    for X, T in miniBatches(epoch):
        iteration += 1
        loss, gradients, state = dlfeval(modelLoss, net, X, T)
        net.State = state
        net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, iteration,
                                                     learnRate)
        recordMetrics(monitor, iteration, TrainingLoss=loss)
        updateInfo(monitor, Epoch=f"{epoch} of {numEpochs}", LearnRate=learnRate)
        monitor.Progress = 100 * iteration / (numEpochs * numIterationsPerEpoch)
        if iteration == 1 or iteration % validationFrequency == 0:
            lossValidation = validationLoss(net)
            recordMetrics(monitor, iteration, ValidationLoss=lossValidation)
            allValidationLosses.append(lossValidation)
            validationLosses = validationLosses + [lossValidation]
            if min(validationLosses) == validationLosses[0]:
                earlyStop = True
                break
            validationLosses.pop(0)
        if monitor.Stop:
            break
    if epoch % learnRateDropPeriod == 0:
        learnRate = learnRate * learnRateDropFactor
monitor.Status = "Stopped early (patience)" if earlyStop else ("Stopped" if monitor.Stop else "Training complete")

# %%
best = int(np.argmin(allValidationLosses)) + 1
print(f"{monitor.Status}: {len(allValidationLosses)} validations, {iteration} iterations, epoch {epoch}")
print(f"smallest validation loss {min(allValidationLosses):.4f} at validation {best}; "
      f"the last {len(allValidationLosses) - best} validations did not beat it")

# %% [markdown]
# (A validation every 5 iterations, and one at iteration 1: validation $k$ happened at iteration $5(k-1)$, except
# the first.) Note `break` after `earlyStop = True`: MATLAB's loop tests `~earlyStop` only in the loop conditions, so
# it finishes the current mini-batch loop first — here, the validation happens at the end of an epoch anyway.
#
# ### Exercise 4 — when does patience stop training?
#
# Write `stopsAtValidation(validationLosses, validationPatience)`: given the list of validation losses of a run, in
# order, return the number of the validation (counted from 1) **at which** the patience rule stops training — or
# `None` if it never does. The rule, as `trainingOptions` states it: training stops when the validation loss has been
# larger than or **equal** to the smallest earlier validation loss `validationPatience` times in a row. A
# `validationPatience` of `np.inf` (MATLAB's default, `Inf`) never stops. The sliding window above is one way to
# compute it; yours may be another.
#
# * **(a) (1 point)** losses that are all different (the run above: `allValidationLosses` with patience 5 stops at
#   its last validation);
# * **(b) (1 point)** equal losses, a run that never stops, `np.inf` patience, patience 1.

# %% nbgrader={"grade": false, "grade_id": "ex4_answer", "locked": false, "schema_version": 3, "solution": true}
def stopsAtValidation(validationLosses, validationPatience):
    ### BEGIN SOLUTION
    smallest, count = np.inf, 0
    for k, loss in enumerate(validationLosses, start=1):
        if loss < smallest:
            smallest, count = loss, 0
        else:
            count += 1
        if count >= validationPatience:
            return k
    return None
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex4_a", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex4.check("a")
### BEGIN HIDDEN TESTS
ex4.check("a", seed=56)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex4_b", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex4.check("b")
### BEGIN HIDDEN TESTS
ex4.check("b", seed=57)
### END HIDDEN TESTS

# %% [markdown]
# Your function on the run above, and with other patiences (this cell uses your `stopsAtValidation`):

# %% dlteach={"requires_solutions": true}
if ex4.solved:
    for patience in [1, 2, 3, 5]:
        k = stopsAtValidation(allValidationLosses, patience)
        print(f"patience {patience}: stops at validation {k}" + ("" if k is None else f" (iteration {5 * (k - 1) if k > 1 else 1})"))
else:
    print("(stopsAtValidation of Exercise 4 is not solved yet - the lesson goes on without it)")

# %% [markdown]
# ## 6. Checkpoints, and resuming from one
#
# A long training run can die: the session times out, the machine reboots, the kernel runs out of memory.
# `trainingOptions(..., CheckpointPath=folder, CheckpointFrequency=n)` saves the network every `n` epochs; in a custom
# loop it is a `save` at the end of the epoch loop. MATLAB's page saves the network, with the iteration and the date in
# the file name:
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# if mod(epoch,checkpointFrequency) == 0
#     D = string(datetime("now", ...
#         Format="yyyy_MM_dd__HH_mm_ss"));
#     filename = "net_checkpoint__" + ...
#         iteration + "__" + D + ".mat";
#     save(fullfile(checkpointPath,filename),"net")
# end
# </pre>
# </td><td>
# <pre>
# if epoch % checkpointFrequency == 0:
#     D = time.strftime("%Y_%m_%d__%H_%M_%S")
# &nbsp;
#     filename = (f"net_checkpoint__{iteration}"
#                 f"__{D}.npz")
#     save(os.path.join(checkpointPath, filename), net)
# &nbsp;
# </pre>
# </td></tr>
# </table>
#
# `save` writes a `.npz` file (arrays + a description, no pickle); `load(filename)` gives the network back. **Several
# variables** go into one file as a dictionary — MATLAB `save(filename,"net","averageGrad")` is
# `save(filename, {"net": net, "averageGrad": averageGrad})`, and `S = load(filename)` gives the dictionary back
# (MATLAB: a struct, `S.net`; Python: `S["net"]`).
#
# Is the network enough to resume? A short run shows it: 8 epochs with a schedule that halves the learn rate every 2
# epochs, once without a break and once stopped after epoch 4, with a checkpoint of the network only, and resumed from
# the file — as a new session would, with what the file holds.

# %%
checkpointPath = tempfile.mkdtemp(prefix="dlteach-checkpoints-")   # a fresh folder (a real run: a folder of yours)
checkpointFrequency = 4
dropPeriodShort = 2


def trainEpochs(net, averageGrad, averageSqGrad, iteration, firstEpoch, lastEpoch, checkpoint=None):
    # the loop of Section 2 from epoch firstEpoch to lastEpoch; the learn rate follows from the iteration
    losses = []
    for epoch in range(firstEpoch, lastEpoch + 1):
        learnRate = initialLearnRate * learnRateDropFactor ** ((epoch - 1) // dropPeriodShort)
        for X, T in miniBatches(epoch):
            iteration += 1
            loss, gradients, state = dlfeval(modelLoss, net, X, T)
            net.State = state
            net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, iteration,
                                                         learnRate)
            losses.append(float(loss))
        if checkpoint is not None and epoch % checkpointFrequency == 0:
            checkpoint(net, averageGrad, averageSqGrad, iteration)
    return net, averageGrad, averageSqGrad, iteration, losses


def saveNetOnly(net, averageGrad, averageSqGrad, iteration):
    D = time.strftime("%Y_%m_%d__%H_%M_%S")
    save(os.path.join(checkpointPath, f"net_checkpoint__{iteration}__{D}.npz"), net)


np.random.seed(0)
*_, lossesStraight = trainEpochs(dlnetwork(layers), None, None, 0, 1, 8)      # 8 epochs without a break

np.random.seed(0)
*_, lossesFirstHalf = trainEpochs(dlnetwork(layers), None, None, 0, 1, 4, checkpoint=saveNetOnly)
(checkpointFile,) = [f for f in os.listdir(checkpointPath) if f.startswith("net_checkpoint__20__")]

# ... a new session: only the file is left. It loads the network and runs the training script again,
# for the 4 epochs that are missing:
netResumed = load(os.path.join(checkpointPath, checkpointFile))
*_, lossesSecondHalf = trainEpochs(netResumed, None, None, 0, 1, 4)
lossesNetOnly = lossesFirstHalf + lossesSecondHalf

print("checkpoint file:", checkpointFile.split("__")[0] + "__" + checkpointFile.split("__")[1] + "__<date>.npz")
print("first half identical:", lossesFirstHalf == lossesStraight[:20])
for k in [21, 22, 23, 24, 25, 30, 40]:
    print(f"iteration {k}: loss without a break {lossesStraight[k - 1]:.4f}, resumed from the network only "
          f"{lossesNetOnly[k - 1]:.4f}")

# %%
# NBVAL_IGNORE_OUTPUT
fig, ax = plt.subplots(figsize=(7, 3.3))
ax.semilogy(np.arange(1, 41), lossesStraight, "k-", label="without a break")
ax.semilogy(np.arange(1, 41), lossesNetOnly, "--", label="resumed from the network only")
ax.axvline(20.5, color="gray", lw=0.8, ls=":")
ax.set(xlabel="iteration", ylabel="training loss", title="Resuming from a checkpoint of the network only")
ax.legend()
plt.show()

# %% [markdown]
# Right after the restart the curve leaves the one without a break, and the loss jumps up within a few iterations.
# The resumed run knows the network, but nothing else the loop had: it starts at epoch 1 again, so the schedule gives
# the initial learn rate 0.01 instead of 0.0025, and the mini-batches are those of epoch 1; its iteration counter is 0
# and Adam's averages start from zero, so Adam's first step moves **every** parameter by about `learnRate`, whatever its
# gradient (the bias correction at iteration 1). Later its training loss even ends *lower* — back at the learn rate
# 0.01 for four more epochs, it memorises the 500 digits harder — but it is another run, not the one you started: the
# schedule you chose is gone, and its result cannot be reproduced or compared with others. A checkpoint that resumes
# *exactly* holds everything that the next iteration reads.
#
# ### Exercise 5 — a checkpoint that resumes exactly
#
# Write `saveCheckpoint(filename, net, averageGrad, averageSqGrad, iteration)`, which writes one file, and
# `loadCheckpoint(filename)`, which returns `net, averageGrad, averageSqGrad, iteration` from it, so that the loop
# above, started again from what `loadCheckpoint` returns, continues **exactly** as if it had never stopped (here
# `iteration` is the number of iterations done; the next one is `iteration + 1`). The check trains the lesson's network
# for a few epochs with the loop above (Adam, the schedule, the state stored), calls your two functions, continues from
# what `loadCheckpoint` returns and compares:
#
# * **(a) (1 point)** the network (learnables and batch normalisation's state) comes back exactly;
# * **(b) (1 point)** Adam's two moving averages come back exactly, in order;
# * **(c) (1 point)** the losses after resuming are those of the run without a break.

# %% nbgrader={"grade": false, "grade_id": "ex5_answer", "locked": false, "schema_version": 3, "solution": true}
def saveCheckpoint(filename, net, averageGrad, averageSqGrad, iteration):
    ### BEGIN SOLUTION
    save(filename, {"net": net, "averageGrad": averageGrad, "averageSqGrad": averageSqGrad, "iteration": iteration})
    ### END SOLUTION


def loadCheckpoint(filename):
    ### BEGIN SOLUTION
    S = load(filename)
    return S["net"], S["averageGrad"], S["averageSqGrad"], S["iteration"]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex5_net", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex5.check("a")
### BEGIN HIDDEN TESTS
ex5.check("a", seed=58)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex5_averages", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex5.check("b")
### BEGIN HIDDEN TESTS
ex5.check("b", seed=58)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex5_resume", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex5.check("c")
### BEGIN HIDDEN TESTS
ex5.check("c", seed=59)
### END HIDDEN TESTS

# %% [markdown]
# The same interrupted run with your checkpoint (this cell uses your two functions):

# %% dlteach={"requires_solutions": true}
if ex5.solved:
    def saveFull(net, averageGrad, averageSqGrad, iteration):
        saveCheckpoint(os.path.join(checkpointPath, f"checkpoint__{iteration}.npz"), net, averageGrad,
                       averageSqGrad, iteration)

    np.random.seed(0)
    trainEpochs(dlnetwork(layers), None, None, 0, 1, 4, checkpoint=saveFull)
    netR, averageGradR, averageSqGradR, iterationR = loadCheckpoint(os.path.join(checkpointPath, "checkpoint__20.npz"))
    *_, lossesResumed = trainEpochs(netR, averageGradR, averageSqGradR, iterationR, iterationR // 5 + 1, 8)
    print(f"resumed at iteration {iterationR + 1}; losses after resuming identical to the run without a break:",
          lossesResumed == lossesStraight[20:])
else:
    print("(saveCheckpoint / loadCheckpoint of Exercise 5 are not solved yet - the lesson goes on without them)")

# %% [markdown]
# The order of the mini-batches is part of "everything the next iteration reads" too. Our `miniBatches` shuffles with a
# generator seeded by the epoch number, so the epoch number — which follows from the iteration — is all it needs. A loop
# that shuffles with one global random generator must save that generator's state as well
# (`np.random.get_state()`, MATLAB `rng`), or the resumed run sees other mini-batches.

# %% [markdown]
# ## 7. L-BFGS: a solver with a line search
#
# Adam, SGDM and RMSProp take one step per gradient: `adamupdate(net, gradients, ...)`. MATLAB's fourth solver,
# `trainingOptions("lbfgs")` — in a custom loop `lbfgsupdate` (R2023a) — works differently. **L-BFGS**
# (limited-memory BFGS) is a quasi-Newton method: from the last few steps $s$ and gradient changes $y$ (its *history*,
# 10 pairs by default) it builds an estimate of the inverse Hessian $H$ — the curvature of the loss — and steps along
# $-H g$. How far along that direction it goes is decided by a **line search**, which tries step lengths and evaluates
# the loss (with its gradients) at each. So `lbfgsupdate` does not take gradients: it takes a **function** that
# computes the loss and the gradients, and calls it as often as its line search needs.
#
# That only works when the loss is the same function from one call to the next — the **whole** training set in one
# batch, no mini-batches. L-BFGS is the solver for small problems with smooth losses: fitting a function, or
# physics-informed networks. `trainingOptions("lbfgs")` stops at `MaxIterations` (1000), when the norm of the
# gradient falls below `GradientTolerance` (1e-5) or the step below `StepTolerance` (1e-5), or when the line search
# fails.
#
# <table>
# <tr><th>MATLAB</th><th>Python (dlteach)</th></tr>
# <tr><td>
# <pre>
# solverState = lbfgsState;
# lossFcn = @(net) dlfeval(@modelLoss,net,X,T);
# for iteration = 1:maxIterations
#     [net,solverState] = lbfgsupdate(net, ...
#         lossFcn,solverState);
#     if solverState.GradientsNorm < gradientTolerance || ...
#             solverState.StepNorm < stepTolerance || ...
#             solverState.LineSearchStatus == "failed"
#         break
#     end
# end
# </pre>
# </td><td>
# <pre>
# solverState = lbfgsState()
# lossFcn = lambda net: dlfeval(modelLoss, net, X, T)
# for iteration in range(1, maxIterations + 1):
#     net, solverState = lbfgsupdate(net,
#         lossFcn, solverState)
#     if (solverState.GradientsNorm < gradientTolerance
#             or solverState.StepNorm < stepTolerance
#             or solverState.LineSearchStatus == "failed"):
#         break
# &nbsp;
# </pre>
# </td></tr>
# </table>
#
# `lossFcn` is a function of the network alone: the data `X`, `T` are *captured* by the anonymous function (MATLAB's
# `@(net) ...`, Python's `lambda`). Our problem: fit the curve $y = \sin 3x + 0.3\cos 9x$ on 200 points of $[-1, 1]$
# with a small network (1 → 20 → 20 → 1, tanh), the loss `mse`, full batch. The same initial network is trained by Adam
# (learn rate 0.01, 600 iterations) and by L-BFGS (at most 150 iterations):

# %%
xFit = np.linspace(-1, 1, 200, dtype=np.float32).reshape(1, -1)
XFit = dlarray(xFit, "CB")
TFit = dlarray(np.sin(3 * xFit) + np.float32(0.3) * np.cos(9 * xFit), "CB")
layersFit = [featureInputLayer(1), fullyConnectedLayer(20), tanhLayer(), fullyConnectedLayer(20), tanhLayer(),
             fullyConnectedLayer(1)]


def modelLossFit(net, X, T):
    loss = mse(forward(net, X), T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients


np.random.seed(0)
netFit0 = dlnetwork(layersFit)

# Adam: one loss evaluation per iteration
net, averageGrad, averageSqGrad = netFit0, None, None
lossesAdam, timesAdam = [], []
start = time.perf_counter()
for iteration in range(1, 601):
    loss, gradients = dlfeval(modelLossFit, net, XFit, TFit)
    net, averageGrad, averageSqGrad = adamupdate(net, gradients, averageGrad, averageSqGrad, iteration, 0.01)
    lossesAdam.append(float(loss))
    timesAdam.append(time.perf_counter() - start)
netAdam = net

# L-BFGS: the loss after each update is solverState.Loss
gradientTolerance, stepTolerance = 1e-5, 1e-5
net, solverState = netFit0, lbfgsState()
lossFcn = lambda net: dlfeval(modelLossFit, net, XFit, TFit)         # MATLAB: @(net) dlfeval(@modelLoss,net,X,T)
lossesLBFGS, timesLBFGS, evaluationsLBFGS = [], [], []
start = time.perf_counter()
for iteration in range(1, 151):
    net, solverState = lbfgsupdate(net, lossFcn, solverState)
    lossesLBFGS.append(float(solverState.Loss))
    timesLBFGS.append(time.perf_counter() - start)
    evaluationsLBFGS.append(solverState.num_loss_evaluations)        # dlteach: lossFcn calls of this update
    if (solverState.GradientsNorm < gradientTolerance or solverState.StepNorm < stepTolerance
            or solverState.LineSearchStatus == "failed"):
        break
netLBFGS = net


def firstBelow(losses, level):
    return next((k for k, v in enumerate(losses, start=1) if v < level), None)


print(f"Adam:   {len(lossesAdam)} iterations, final loss {lossesAdam[-1]:.2e}")
print(f"L-BFGS: {len(lossesLBFGS)} iterations, final loss {lossesLBFGS[-1]:.2e}, "
      f"{sum(evaluationsLBFGS)} loss evaluations ({sum(evaluationsLBFGS) / len(evaluationsLBFGS):.2f} per iteration)")
for level in [1e-2, 1e-3]:
    print(f"loss below {level:g}: Adam at iteration {firstBelow(lossesAdam, level)}, "
          f"L-BFGS at iteration {firstBelow(lossesLBFGS, level)}")

# %% [markdown]
# By iterations, L-BFGS is far ahead. By wall-clock time? Each L-BFGS iteration costs more — the line search's
# evaluations, and the two-loop recursion over the history. The times depend on your machine (and its load):

# %%
# NBVAL_IGNORE_OUTPUT
for level in [1e-2, 1e-3]:
    kA, kL = firstBelow(lossesAdam, level), firstBelow(lossesLBFGS, level)
    tA = f"{timesAdam[kA - 1]:.2f} s" if kA else "not reached"
    tL = f"{timesLBFGS[kL - 1]:.2f} s" if kL else "not reached"
    print(f"loss below {level:g}: Adam after {tA}, L-BFGS after {tL}")
print(f"time per iteration: Adam {1e3 * timesAdam[-1] / len(timesAdam):.2f} ms, "
      f"L-BFGS {1e3 * timesLBFGS[-1] / len(timesLBFGS):.2f} ms")

fig, (axIt, axTime, axFit) = plt.subplots(1, 3, figsize=(13, 3.3))
axIt.semilogy(np.arange(1, len(lossesAdam) + 1), lossesAdam, label="Adam")
axIt.semilogy(np.arange(1, len(lossesLBFGS) + 1), lossesLBFGS, label="L-BFGS")
axIt.set(xlabel="iteration", ylabel="loss (mse)", title="By iterations")
axTime.semilogy(timesAdam, lossesAdam, label="Adam")
axTime.semilogy(timesLBFGS, lossesLBFGS, label="L-BFGS")
axTime.set(xlabel="seconds", title="By wall-clock time")
axFit.plot(xFit.ravel(), extractdata(TFit).ravel(), "k", lw=3, alpha=0.3, label="target")
axFit.plot(xFit.ravel(), extractdata(predict(netAdam, XFit)).ravel(), label="Adam")
axFit.plot(xFit.ravel(), extractdata(predict(netLBFGS, XFit)).ravel(), "--", label="L-BFGS")
axFit.set(xlabel="x", title="The fitted curves")
for ax in (axIt, axTime, axFit):
    ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ### Exercise 6 — an L-BFGS loop that counts its evaluations
#
# Write `trainLBFGS(net, lossFcn, maxIterations, gradientTolerance)`: the L-BFGS loop above, with a fresh
# `lbfgsState()`, stopping after `maxIterations` updates, or right after the update at which
# `solverState.GradientsNorm < gradientTolerance` or the line search failed (no step tolerance here). It returns
# `net, losses, numEvaluations`: the trained network, the list of the losses after each update (`solverState.Loss`, as
# Python floats), and how many times **`lossFcn` was called** in all. The caller gives `lossFcn`, so you cannot count
# inside it — but you can give `lbfgsupdate` a function of your own.
#
# * **(a) (1 point)** the network and the losses, and the stopping rule;
# * **(b) (1 point)** the number of calls of `lossFcn`.

# %% nbgrader={"grade": false, "grade_id": "ex6_answer", "locked": false, "schema_version": 3, "solution": true}
def trainLBFGS(net, lossFcn, maxIterations, gradientTolerance):
    ### BEGIN SOLUTION
    calls = [0]

    def countingLossFcn(net):
        calls[0] += 1
        return lossFcn(net)

    solverState = lbfgsState()
    losses = []
    for iteration in range(maxIterations):
        net, solverState = lbfgsupdate(net, countingLossFcn, solverState)
        losses.append(float(solverState.Loss))
        if solverState.GradientsNorm < gradientTolerance or solverState.LineSearchStatus == "failed":
            break
    return net, losses, calls[0]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex6_losses", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex6.check("a")
### BEGIN HIDDEN TESTS
ex6.check("a", seed=60)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "ex6_evaluations", "locked": true, "points": 1, "schema_version": 3, "solution": false}
ex6.check("b")
### BEGIN HIDDEN TESTS
ex6.check("b", seed=61)
### END HIDDEN TESTS

# %% [markdown]
# ## 8. Written questions
#
# Answer in a few sentences each, in the cell below the question (double-click it to edit). These are graded by your
# instructor, not by a check.
#
# **Question 1 (1 point).** In Exercise 3 (d), `"global-l2norm"` changed every row, `"l2norm"` only some, and
# `"absolute-value"` did not change `fc_1/Weights` although it has the largest norm. For each method, say what it keeps
# of the gradient (its direction as a whole, the direction of each parameter's gradient, neither), and describe one
# situation in which you would choose it.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written1", "locked": false, "points": 1, "schema_version": 3, "solution": true}
# *Model answer (only in the instructor version; learners get an empty answer cell).*
#
# Global-l2norm multiplies every gradient by the same factor: the direction of the whole update is kept, only its
# length is capped -- the usual choice (e.g. exploding gradients in recurrent networks), it never distorts the balance
# between layers. l2norm scales each parameter's gradient on its own: each parameter's direction is kept but the
# relative sizes between parameters change (a layer with large gradients is slowed down relative to the others);
# useful when one layer's gradients explode while the others are fine. absolute-value clamps single entries: neither
# direction is kept (the large entries are cut, the small ones not), but it is cheap and bounds every single step,
# robust to single outliers; a matrix with many medium entries and a large norm is not touched at all.

# %% [markdown]
# **Question 2 (1 point).** The run of Section 5 stopped because of its patience. Which network does `net` hold at the
# end — the one with the smallest validation loss, or another? Which one would you keep, and what would you add to the
# loop to have it at the end (MATLAB's `trainingOptions` has `OutputNetwork="best-validation-loss"` for this)? Why
# can the smallest validation loss, chosen this way, no longer be reported as the accuracy to expect on new data?

# %% [markdown] nbgrader={"grade": true, "grade_id": "written2", "locked": false, "points": 1, "schema_version": 3, "solution": true}
# *Model answer (only in the instructor version; learners get an empty answer cell).*
#
# net is the network after the last iteration, validationPatience validations (here 5 epochs) after the best one,
# slightly overfitted. Keep the best: in the validation block, when lossValidation < smallest so far, store a copy
# (bestNet = net -- networks are not changed in place by the updaters; or save a checkpoint of it) and return/keep it at
# the end. The validation set was used to choose the network (and when to stop, and the hyperparameters): the chosen
# loss is optimistically biased; an unbiased estimate needs a third, untouched test set.

# %% [markdown]
# **Question 3 (1 point).** (After Section 7.) By iterations L-BFGS wins clearly; by wall-clock time the margin is
# smaller. Explain both, and say why L-BFGS is used on small full-batch problems (such as fitting a function, or
# physics-informed networks) and not to train a large network on mini-batches.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written3", "locked": false, "points": 1, "schema_version": 3, "solution": true}
# *Model answer (only in the instructor version; learners get an empty answer cell).*
#
# An L-BFGS iteration uses curvature information (a low-rank inverse-Hessian estimate from the last m gradient
# differences) and a line search, so each step is far better than a first-order step; but each iteration costs more:
# the two-loop recursion over m stored pairs and, above all, several loss-and-gradient evaluations for the line search.
# L-BFGS needs a deterministic objective: with mini-batches the loss changes from one batch to the next, the gradient
# differences mix curvature with sampling noise and the line search's sufficient-decrease test becomes meaningless; it
# also stores m copies of all parameters. So: small models, full batch, smooth losses (PINNs, curve fitting).

# %% [markdown]
# ## 9. MATLAB ↔ Python, side by side
#
# | option | MATLAB | Python (dlteach) |
# |---|---|---|
# | piecewise schedule | `if mod(epoch,learnRateDropPeriod) == 0, learnRate = learnRate*learnRateDropFactor; end` | `if epoch % learnRateDropPeriod == 0: learnRate = learnRate * learnRateDropFactor` |
# | time-based decay | `learnRate = initialLearnRate/(1 + decay*iteration);` | `learnRate = initialLearnRate / (1 + decay * iteration)` |
# | L2 regularization | `idx = net.Learnables.Parameter == "Weights";` `gradients(idx,:) = dlupdate(@(g,w) g + l2Regularization*w, gradients(idx,:), net.Learnables(idx,:));` | `idx = net.Learnables.Parameter == "Weights"` `gradients[idx, :] = dlupdate(lambda g, w: g + l2Regularization * w, gradients[idx, :], net.Learnables[idx, :])` |
# | L2 factor | `getL2Factor(net,"fc_1","Weights")` | `getL2Factor(net, "fc_1", "Weights")` |
# | clipping per parameter | `gradients = dlupdate(@(g) thresholdL2Norm(g,gradientThreshold),gradients);` | `gradients = dlupdate(lambda g: thresholdL2Norm(g, gradientThreshold), gradients)` |
# | clipping by global norm | `gradients.Value = thresholdGlobalL2Norm(gradients.Value,gradientThreshold);` | `gradients.Value = thresholdGlobalL2Norm(gradients.Value, gradientThreshold)` |
# | two curves in one plot | `groupSubPlot(monitor,"Loss",["TrainingLoss","ValidationLoss"])` | `groupSubPlot(monitor, "Loss", ["TrainingLoss", "ValidationLoss"])` |
# | validation loss | `lossValidation = crossentropy(predict(net,XValidation),TValidation);` | `lossValidation = crossentropy(predict(net, XValidation), TValidation)` |
# | checkpoint | `save(filename,"net","averageGrad","averageSqGrad","iteration")` | `save(filename, {"net": net, "averageGrad": averageGrad, "averageSqGrad": averageSqGrad, "iteration": iteration})` |
# | resume | `S = load(filename); net = S.net;` | `S = load(filename); net = S["net"]` |
# | L-BFGS | `solverState = lbfgsState;` `lossFcn = @(net) dlfeval(@modelLoss,net,X,T);` `[net,solverState] = lbfgsupdate(net,lossFcn,solverState);` | `solverState = lbfgsState()` `lossFcn = lambda net: dlfeval(modelLoss, net, X, T)` `net, solverState = lbfgsupdate(net, lossFcn, solverState)` |

# %% [markdown] nbgrader={"grade": false, "grade_id": "summary", "locked": true, "schema_version": 3, "solution": false}
# ## 10. Summary
#
# * A custom loop has no options object: each training option is a few lines of code at a definite place — the
#   schedule before (time-based) or after (piecewise, end of epoch) the iterations, regularization and clipping between
#   `dlfeval` and the updater, validation and checkpoints every few iterations or epochs.
# * **Schedules**: the piecewise rate drops after every `learnRateDropPeriod`-th epoch, so iteration $k$ uses
#   `initialLearnRate * learnRateDropFactor ** ((epoch - 1) // learnRateDropPeriod)` with
#   `epoch = (k - 1) // numIterationsPerEpoch + 1`; time-based decay divides by $1 + \text{decay}\cdot k$.
# * **L2 regularization** adds $\lambda f_p w_p$ to each gradient ($f_p$: the L2 factor, 0 for biases): `dlupdate` on rows
#   of the gradients table. It is the gradient of a loss with one more term — a sum of terms, as in NNC — and for plain
#   SGD it is weight decay, $(1-\eta\lambda)w$; with Adam it is not.
# * **Clipping**: `"global-l2norm"` keeps the update's direction, `"l2norm"` each parameter's, `"absolute-value"`
#   neither.
# * **Validation and patience**: a validation loss on held-out data every few iterations, in the same monitor as the
#   training loss (`groupSubPlot`); stop when it was $\ge$ the smallest earlier one `validationPatience` times in a row.
# * **Checkpoints** that resume exactly hold everything the next iteration reads: network (with its state), the
#   updater's state (Adam's two averages), the iteration counter — and whatever decides the mini-batches.
# * **L-BFGS** (`lbfgsupdate`, `lbfgsState`) takes a loss *function*, full batch, and stops on the gradient norm, the
#   step norm or a failed line search; it needs far fewer iterations than Adam on a small smooth problem, each of
#   them dearer (one or more loss evaluations, the two-loop recursion).

# %% [markdown]
# ## 11. Experiments (ungraded)
#
# Open questions to try in new cells — nothing here is graded.
#
# 1. Train the loop of Section 5 with `regularizeGradients` (λ = 1e-3, 1e-2) before `adamupdate`. Does the validation
#    loss get better, and does the patience rule stop later? Then replace Adam by `sgdmupdate`: does L2 help more?
# 2. Train with `learnRate = 0.5` and `sgdmupdate` (no schedule): does the loss explode? Put `clipGradients(..., 1.0,
#    "global-l2norm")` before the update. Which method rescues it, and which threshold is too small?
# 3. Give the time-based schedule your `decayToMatch` and compare its run with the piecewise run: which has the lower
#    validation loss after 40 epochs?
# 4. Write the patience rule of Section 5 with a smallest-so-far counter instead of the sliding window, and check on
#    random loss sequences that both stop at the same validation.
# 5. Shuffle the mini-batches with `np.random.permutation` (the global generator) instead of `miniBatches`: does your
#    checkpoint still resume exactly? What must it save in addition?
