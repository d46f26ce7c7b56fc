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
# # Example: Initialize Learnable Parameters for Model Function
#
# *Gallery example (ungraded). It follows MATLAB's documentation topic **"Initialize Learnable Parameters for
# Model Function"**: for each initializer, the page's MATLAB function, the same function written in Python as a
# learner would, a check that it gives exactly what `dlteach`'s built-in version gives, and a numerical check of
# its formula (histograms and variances). The two experiments marked "beyond the page" show why the variance
# matters.*
#
# When you train a network made of layers (a `dlnetwork`), the software initializes the learnable parameters
# according to each layer's initialization properties. When you define a model as a **function**, you must
# initialize the learnable parameters yourself. How you initialize them (for example the weights and biases) can
# have a big impact on how quickly a model converges.
#
# *Tip (from the page):* to choose the initialization of a layer, use the layer's property instead, for example
# `convolution2dLayer(3,16,WeightsInitializer="he")` — the same in dlteach.

# %%
import matplotlib.pyplot as plt
import numpy as np

import dlteach
from dlteach import Table, adamupdate, dlarray, dlfeval, dlgradient, extractdata, fullyconnect, lstm, relu

np.random.seed(0)  # MATLAB: rng("default")

# %% [markdown]
# ## Default Layer Initializations
#
# | layer | learnable parameter | default initialization |
# |---|---|---|
# | `convolution2dLayer`, `convolution3dLayer`, `groupedConvolution2dLayer`, `transposedConv2dLayer`, `transposedConv3dLayer`, `fullyConnectedLayer` | Weights | Glorot |
# | | Bias | zeros |
# | `batchNormalizationLayer` | Offset | zeros |
# | | Scale | ones |
# | `lstmLayer` | InputWeights | Glorot |
# | | RecurrentWeights | orthogonal |
# | | Bias | unit forget gate |
# | `gruLayer` | InputWeights | Glorot |
# | | RecurrentWeights | orthogonal |
# | | Bias | zeros |
# | `wordEmbeddingLayer` | Weights | Gaussian, mean 0, standard deviation 0.01 |
#
# dlteach's layers follow the same defaults (of these layers, dlteach has the 2-D convolutions, the fully
# connected, batch normalization, LSTM and GRU layers):

# %%
net = dlteach.dlnetwork([dlteach.sequenceInputLayer(3), dlteach.lstmLayer(4), dlteach.fullyConnectedLayer(2)])
for layer, parameter, value in net.Learnables:
    print(f"{layer:5s} {parameter:17s} {'x'.join(map(str, value.shape)):6s}")
print("lstm bias (unit forget gate):", extractdata(net.Learnables.value("lstm", "Bias")).ravel())

# %% [markdown]
# ## Learnable Parameter Sizes
#
# A model function must create parameters of the size each operation expects:
#
# | operation | parameter | size |
# |---|---|---|
# | `batchnorm` | offset, scale | `[numChannels 1]` |
# | `dlconv` | weights | `[filterSize numChannels numFilters]` |
# | | bias | `[numFilters 1]` (or a scalar) |
# | `dlconv` (grouped) | weights | `[filterSize numChannelsPerGroup numFiltersPerGroup numGroups]` |
# | `dltranspconv` | weights | `[filterSize numFilters numChannels]` |
# | | bias | `[numFilters 1]` |
# | `fullyconnect` | weights | `[outputSize inputSize]` |
# | | bias | `[outputSize 1]` |
# | `gru` | input weights | `[3*numHiddenUnits inputSize]` |
# | | recurrent weights | `[3*numHiddenUnits numHiddenUnits]` |
# | | bias | `[3*numHiddenUnits 1]` |
# | `lstm` | input weights | `[4*numHiddenUnits inputSize]` |
# | | recurrent weights | `[4*numHiddenUnits numHiddenUnits]` |
# | | bias | `[4*numHiddenUnits 1]` |
#
# (dlteach's `dlconv` has no grouped form.) In Python a size is a list, `[5, 5, 3, 128]`; all the
# initializers below return a `dlarray` of that size with underlying type single (float32).

# %% [markdown]
# ## Glorot Initialization
#
# The Glorot (also known as Xavier) initializer samples weights from the uniform distribution with bounds
# $\pm\sqrt{6/(N_o + N_i)}$, where $N_o$ and $N_i$ depend on the operation:
#
# | operation | $N_o$ | $N_i$ |
# |---|---|---|
# | `dlconv` | `prod(filterSize)*numFilters` | `prod(filterSize)*numChannels` |
# | `dltranspconv` | `prod(filterSize)*numFilters` | `prod(filterSize)*numChannels` |
# | `fullyconnect` | `outputSize` | `inputSize` |
# | `gru` | `3*numHiddenUnits` | `inputSize` (input weights), `numHiddenUnits` (recurrent weights) |
# | `lstm` | `4*numHiddenUnits` | `inputSize` (input weights), `numHiddenUnits` (recurrent weights) |
#
# A uniform distribution on $[-b, b]$ has variance $b^2/3$, so Glorot weights have variance
# $2/(N_i + N_o)$: the average of "keep the variance of the activations" ($1/N_i$) and "keep the variance of
# the gradients" ($1/N_o$).
#
# ```matlab
# function weights = initializeGlorot(sz,numOut,numIn)
#
# Z = 2*rand(sz,'single') - 1;
# bound = sqrt(6 / (numIn + numOut));
#
# weights = bound * Z;
# weights = dlarray(weights);
#
# end
# ```
#
# The same function in Python (`rand(sz,'single')` is `np.random.random_sample(sz).astype(np.float32)`):

# %%
def initializeGlorot(sz, numOut, numIn):
    Z = 2 * np.random.random_sample(sz).astype(np.float32) - 1
    bound = np.sqrt(6 / (numIn + numOut))

    weights = np.float32(bound) * Z
    weights = dlarray(weights)
    return weights


# %% [markdown]
# Initialize the weights of a convolution with 128 filters of size 5×5 and 3 input channels:
#
# ```matlab
# filterSize = [5 5];
# numChannels = 3;
# numFilters = 128;
#
# sz = [filterSize numChannels numFilters];
# numOut = prod(filterSize) * numFilters;
# numIn = prod(filterSize) * numChannels;
#
# parameters.conv.Weights = initializeGlorot(sz,numOut,numIn);
# ```
#
# (Some versions of this page and of *Train Network Using Model Function* write `numIn = prod(filterSize) *
# numFilters`; by the table above the fan-in of a convolution is `prod(filterSize) * numChannels`.)
#
# With the same seed, the learner's function and dlteach's `initializeGlorot` give the same values:

# %%
parameters = {"conv": {}}

filterSize = [5, 5]
numChannels = 3
numFilters = 128

sz = [*filterSize, numChannels, numFilters]
numOut = np.prod(filterSize) * numFilters
numIn = np.prod(filterSize) * numChannels

np.random.seed(1)
parameters["conv"]["Weights"] = initializeGlorot(sz, numOut, numIn)
np.random.seed(1)
same = np.array_equal(extractdata(parameters["conv"]["Weights"]), extractdata(dlteach.initializeGlorot(sz, numOut, numIn)))
print(parameters["conv"]["Weights"].shape, extractdata(parameters["conv"]["Weights"]).dtype, "| same as dlteach:", same)

# %% [markdown]
# Check the formula numerically: 9,600 weights, their largest magnitude against the bound, and their
# variance against $2/(N_i+N_o)$ (the sample variance of n values has a standard error of about
# $\sqrt{2/n}\cdot$ 0.9 of the variance for a uniform distribution, 1.3 % here).

# %%
def checkVariance(name, values, variance):
    v = extractdata(values).astype(np.float64).ravel()
    print(f"{name:34s} n = {v.size:7d}  mean {v.mean():+.5f}  variance {v.var():.3e}  formula {variance:.3e}"
          f"  ratio {v.var() / variance:.3f}")


w = extractdata(parameters["conv"]["Weights"])
bound = np.sqrt(6 / (numIn + numOut))
print(f"largest |w| = {np.abs(w).max():.5f}, bound sqrt(6/(numIn+numOut)) = {bound:.5f}")
checkVariance("Glorot, conv 5x5x3x128", w, 2 / (numIn + numOut))

# %%
# NBVAL_IGNORE_OUTPUT
plt.figure(figsize=(5, 2.5))
plt.hist(w.ravel(), bins=50, density=True, alpha=0.7, label="initializeGlorot")
plt.plot([-bound, -bound, bound, bound], [0, 1 / (2 * bound), 1 / (2 * bound), 0], "k--", label="U(-b, b)")
plt.legend(fontsize=8)
plt.title("Glorot weights of the convolution")
plt.show()

# %% [markdown]
# ## He Initialization
#
# The He initializer samples weights from a normal distribution with mean 0 and variance $2/N_i$, with $N_i$ as
# in the Glorot table (`dlconv`: `prod(filterSize)*numChannels`; `fullyconnect`: `inputSize`; ...). The factor
# 2 compensates for a ReLU, which zeroes half of its inputs.
#
# ```matlab
# function weights = initializeHe(sz,numIn)
#
# weights = randn(sz,'single') * sqrt(2/numIn);
# weights = dlarray(weights);
#
# end
# ```

# %%
def initializeHe(sz, numIn):
    weights = np.random.standard_normal(sz).astype(np.float32) * np.float32(np.sqrt(2 / numIn))
    weights = dlarray(weights)
    return weights


# %% [markdown]
# Initialize the weights of a convolution with 128 filters of size 5×5 and 3 input channels:
#
# ```matlab
# filterSize = [5 5];
# numChannels = 3;
# numFilters = 128;
#
# sz = [filterSize numChannels numFilters];
# numIn = prod(filterSize) * numChannels;
#
# parameters.conv.Weights = initializeHe(sz,numIn);
# ```

# %%
sz = [*filterSize, numChannels, numFilters]
numIn = np.prod(filterSize) * numChannels

np.random.seed(2)
parameters["conv"]["Weights"] = initializeHe(sz, numIn)
np.random.seed(2)
print("same as dlteach:", np.array_equal(extractdata(parameters["conv"]["Weights"]),
                                         extractdata(dlteach.initializeHe(sz, numIn))))
checkVariance("He, conv 5x5x3x128", parameters["conv"]["Weights"], 2 / numIn)

# %% [markdown]
# ## Gaussian Initialization
#
# The Gaussian initializer samples weights from a normal distribution with mean μ and standard deviation σ.
#
# ```matlab
# function weights = initializeGaussian(sz,mu,sigma)
#
# weights = randn(sz,'single')*sigma + mu;
# weights = dlarray(weights);
#
# end
# ```

# %%
def initializeGaussian(sz, mu, sigma):
    weights = np.random.standard_normal(sz).astype(np.float32) * np.float32(sigma) + np.float32(mu)
    weights = dlarray(weights)
    return weights


# %% [markdown]
# Initialize the weights of an embedding with dimension 300 and a vocabulary of 5000 words, with mean 0 and
# standard deviation 0.01 (`wordEmbeddingLayer`'s default):
#
# ```matlab
# embeddingDimension = 300;
# vocabularySize = 5000;
#
# mu = 0;
# sigma = 0.01;
#
# sz = [embeddingDimension vocabularySize];
#
# parameters.emb.Weights = initializeGaussian(sz,mu,sigma);
# ```

# %%
embeddingDimension = 300
vocabularySize = 5000

mu = 0
sigma = 0.01

sz = [embeddingDimension, vocabularySize]

np.random.seed(3)
parameters["emb"] = {"Weights": initializeGaussian(sz, mu, sigma)}
np.random.seed(3)
print("same as dlteach:", np.array_equal(extractdata(parameters["emb"]["Weights"]),
                                         extractdata(dlteach.initializeGaussian(sz, mu, sigma))))
checkVariance("Gaussian, embedding 300x5000", parameters["emb"]["Weights"], sigma**2)

# %% [markdown]
# ## Uniform Initialization
#
# The uniform initializer samples weights from a uniform distribution on $[-b, b]$ (variance $b^2/3$).
#
# ```matlab
# function parameter = initializeUniform(sz,bound)
#
# Z = 2*rand(sz,'single') - 1;
# parameter = bound * Z;
# parameter = dlarray(parameter);
#
# end
# ```

# %%
def initializeUniform(sz, bound):
    Z = 2 * np.random.random_sample(sz).astype(np.float32) - 1
    parameter = np.float32(bound) * Z
    parameter = dlarray(parameter)
    return parameter


# %% [markdown]
# Initialize the weights of an attention mechanism of size 100×100 with bound 0.1:
#
# ```matlab
# sz = [100 100];
# bound = 0.1;
#
# parameters.attention.Weights = initializeUniform(sz,bound);
# ```

# %%
sz = [100, 100]
bound = 0.1

np.random.seed(4)
parameters["attention"] = {"Weights": initializeUniform(sz, bound)}
np.random.seed(4)
print("same as dlteach:", np.array_equal(extractdata(parameters["attention"]["Weights"]),
                                         extractdata(dlteach.initializeUniform(sz, bound))))
checkVariance("uniform, attention 100x100", parameters["attention"]["Weights"], bound**2 / 3)

# %% [markdown]
# ## Orthogonal Initialization
#
# The orthogonal initializer returns the orthogonal matrix Q of the QR decomposition Z = QR of a matrix Z
# sampled from a unit normal distribution, of the size of the parameter. Multiplying each column of Q by the sign
# of the matching diagonal entry of R makes the result unique (and uniformly distributed over the orthogonal
# matrices).
#
# ```matlab
# function parameter = initializeOrthogonal(sz)
#
# Z = randn(sz,'single');
# [Q,R] = qr(Z,0);
#
# D = diag(R);
# Q = Q * diag(D ./ abs(D));
#
# parameter = dlarray(Q);
#
# end
# ```
#
# `qr(Z,0)` is the economy-size decomposition: NumPy's `np.linalg.qr(Z)` (its default, "reduced").
# `Q * diag(D ./ abs(D))` multiplies column j of Q by the sign of D(j): in NumPy, broadcasting `Q * np.sign(D)`.

# %%
def initializeOrthogonal(sz):
    Z = np.random.standard_normal(sz).astype(np.float32)
    Q, R = np.linalg.qr(Z)

    D = np.diag(R)
    Q = Q * (D / np.abs(D))

    parameter = dlarray(Q)
    return parameter


# %% [markdown]
# Initialize the recurrent weights of an LSTM with 100 hidden units:
#
# ```matlab
# numHiddenUnits = 100;
#
# sz = [4*numHiddenUnits numHiddenUnits];
#
# parameters.lstm.RecurrentWeights = initializeOrthogonal(sz);
# ```
#
# The result is 400×100 with orthonormal columns: $Q^\top Q = I$, and all its singular values are 1. (The
# learner's version above factorizes in float32; dlteach's factorizes in float64 and rounds the result to float32,
# so the two need only agree to float32 rounding.)

# %%
numHiddenUnits = 100

sz = [4 * numHiddenUnits, numHiddenUnits]

np.random.seed(5)
parameters["lstm"] = {"RecurrentWeights": initializeOrthogonal(sz)}
np.random.seed(5)
Qd = extractdata(dlteach.initializeOrthogonal(sz))
Q = extractdata(parameters["lstm"]["RecurrentWeights"])
print(Q.shape, "| agrees with dlteach's to 1e-6:", np.allclose(Q, Qd, atol=1e-6))
print(f"|Q'Q - I| <= {np.abs(Q.T @ Q - np.eye(numHiddenUnits)).max():.1e}",
      "| singular values from", np.round(np.linalg.svd(Q, compute_uv=False)[[-1, 0]], 5))

# %% [markdown]
# For a *wide* size (more columns than rows) the page's function returns a rows×rows matrix, not the requested
# size: the economy QR of a wide Z has a square Q. dlteach's `initializeOrthogonal` orthogonalizes the transpose
# instead (orthonormal rows, as MATLAB's layers and PyTorch do):

# %%
np.random.seed(6)
print("page's function, sz = [3, 5]:", initializeOrthogonal([3, 5]).shape,
      "| dlteach:", dlteach.initializeOrthogonal([3, 5]).shape)

# %% [markdown]
# ## Unit Forget Gate Initialization
#
# The unit forget gate initializer sets the bias of an LSTM so that the forget-gate entries are ones and the
# others zeros. MATLAB stacks the gates as [input; forget; cell candidate; output], so the forget gate is rows
# `numHiddenUnits+1` to `2*numHiddenUnits` (in Python, 0-based: `numHiddenUnits` to `2*numHiddenUnits - 1`).
#
# ```matlab
# function bias = initializeUnitForgetGate(numHiddenUnits)
#
# bias = zeros(4*numHiddenUnits,1,'single');
#
# idx = numHiddenUnits+1:2*numHiddenUnits;
# bias(idx) = 1;
#
# bias = dlarray(bias);
#
# end
# ```

# %%
def initializeUnitForgetGate(numHiddenUnits):
    bias = np.zeros((4 * numHiddenUnits, 1), np.float32)

    idx = np.arange(numHiddenUnits, 2 * numHiddenUnits)   # MATLAB: numHiddenUnits+1:2*numHiddenUnits
    bias[idx] = 1

    bias = dlarray(bias)
    return bias


# %% [markdown]
# Initialize the bias of an LSTM with 100 hidden units:
#
# ```matlab
# numHiddenUnits = 100;
#
# parameters.lstm.Bias = initializeUnitForgetGate(numHiddenUnits);
# ```

# %%
parameters["lstm"]["Bias"] = initializeUnitForgetGate(numHiddenUnits)
b = extractdata(parameters["lstm"]["Bias"]).ravel()
print(parameters["lstm"]["Bias"].shape, "| ones at rows", np.flatnonzero(b)[[0, -1]],
      "| same as dlteach:", np.array_equal(b, extractdata(dlteach.initializeUnitForgetGate(numHiddenUnits)).ravel()))

# %% [markdown]
# *Beyond the page: what the forget-gate bias does.* With zero weights and zero input, the cell state is
# multiplied by the forget gate f = sigmoid(bias) at every step: sigmoid(0) = 0.5 halves it each step,
# sigmoid(1) ≈ 0.73 keeps it much longer — the memory of the LSTM at the start of training. Run `lstm` for 10 time
# steps from a cell state of 1:

# %%
H = 2
X = dlarray(np.zeros((1, 1, 10), np.float32), "CBT")
W, R = dlteach.initializeZeros([4 * H, 1]), dlteach.initializeZeros([4 * H, H])
for name, bias in (("zeros", dlteach.initializeZeros([4 * H, 1])), ("unit forget gate", initializeUnitForgetGate(H))):
    c = np.ones((H, 1), np.float32)
    cells = []
    for t in range(10):   # one step at a time, to read the cell state after every step
        _, h, c = lstm(X[:, :, t:t + 1], np.zeros((H, 1), np.float32), c, W, R, bias, return_state=True)
        c = extractdata(c)
        cells.append(c[0, 0])
    print(f"bias {name:17s} cell state after 1, 5, 10 steps: {cells[0]:.3f}, {cells[4]:.4f}, {cells[9]:.5f}")

# %% [markdown]
# ## Ones Initialization
#
# ```matlab
# function parameter = initializeOnes(sz)
#
# parameter = ones(sz,'single');
# parameter = dlarray(parameter);
#
# end
# ```
#
# Initialize the scale of a batch normalization with 128 input channels with ones:
#
# ```matlab
# numChannels = 128;
#
# sz = [numChannels 1];
#
# parameters.bn.Scale = initializeOnes(sz);
# ```
#
# ## Zeros Initialization
#
# ```matlab
# function parameter = initializeZeros(sz)
#
# parameter = zeros(sz,'single');
# parameter = dlarray(parameter);
#
# end
# ```
#
# Initialize the offset of a batch normalization with 128 input channels with zeros:
#
# ```matlab
# numChannels = 128;
#
# sz = [numChannels 1];
#
# parameters.bn.Offset = initializeZeros(sz);
# ```

# %%
def initializeOnes(sz):
    parameter = np.ones(sz, np.float32)
    parameter = dlarray(parameter)
    return parameter


def initializeZeros(sz):
    parameter = np.zeros(sz, np.float32)
    parameter = dlarray(parameter)
    return parameter


numChannels = 128

sz = [numChannels, 1]

parameters["bn"] = {"Scale": initializeOnes(sz), "Offset": initializeZeros(sz)}
print({k: (v.shape, float(extractdata(v).mean())) for k, v in parameters["bn"].items()})

# %% [markdown]
# One difference between the languages: MATLAB's `zeros(128)` is a 128×128 matrix, NumPy's `np.zeros(128)` a
# vector of 128. dlteach's `initializeZeros` refuses a single number for that reason and says why:

# %%
try:
    dlteach.initializeZeros(128)
except dlteach.errors.ArgumentError as err:
    print(err)

# %% [markdown]
# ## Beyond the page: why the variance matters
#
# Push 512 random inputs through 20 fully connected layers of 256 units with ReLU, initialized three ways, and
# look at the standard deviation of the activations after each layer. He's variance $2/N_i$ keeps it steady
# through ReLUs; Glorot's $2/(N_i+N_o) = 1/N_i$ here halves the variance at every layer; a narrow Gaussian
# (σ = 0.01) kills the signal within a few layers — and with it the gradients.

# %%
numLayers, width = 20, 256
np.random.seed(7)
X0 = dlarray(np.random.standard_normal((width, 512)).astype(np.float32), "CB")
stds = {}
for name, init in (("He", lambda: dlteach.initializeHe([width, width], width)),
                   ("Glorot", lambda: dlteach.initializeGlorot([width, width], width, width)),
                   ("Gaussian, sigma 0.01", lambda: dlteach.initializeGaussian([width, width], 0, 0.01))):
    Y, stds[name] = X0, []
    for _ in range(numLayers):
        Y = relu(fullyconnect(Y, init(), dlteach.initializeZeros([width, 1])))
        stds[name].append(float(np.std(extractdata(Y))))
for name, s in stds.items():
    print(f"{name:22s} std after layer 1: {s[0]:.3g}, 10: {s[9]:.3g}, 20: {s[19]:.3g}")

# %%
# NBVAL_IGNORE_OUTPUT
plt.figure(figsize=(5, 3))
for name, s in stds.items():
    plt.semilogy(range(1, numLayers + 1), s, "o-", label=name, markersize=3)
plt.xlabel("layer")
plt.ylabel("std of the activations")
plt.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Storing Learnable Parameters
#
# Store the learnable parameters of a model function in one object — a structure, a table or a cell array — so
# that `dlgradient` and the update functions (`adamupdate`, ...) handle them all at once.
#
# ### Store Learnable Parameters in Structure
#
# An LSTM followed by a fully connected operation (adapted: the page's exact sizes may differ):
#
# ```matlab
# parameters = struct;
#
# numHiddenUnits = 100;
# inputSize = 1;
# outputSize = 1;
#
# sz = [4*numHiddenUnits inputSize];
# numOut = 4*numHiddenUnits;
# numIn = inputSize;
# parameters.lstm.InputWeights = initializeGlorot(sz,numOut,numIn);
#
# sz = [4*numHiddenUnits numHiddenUnits];
# parameters.lstm.RecurrentWeights = initializeOrthogonal(sz);
#
# parameters.lstm.Bias = initializeUnitForgetGate(numHiddenUnits);
#
# sz = [outputSize numHiddenUnits];
# numOut = outputSize;
# numIn = numHiddenUnits;
# parameters.fc.Weights = initializeGlorot(sz,numOut,numIn);
#
# sz = [outputSize 1];
# parameters.fc.Bias = initializeZeros(sz);
#
# parameters
# parameters.lstm
# parameters.fc
# ```

# %%
parameters = {}

numHiddenUnits = 100
inputSize = 1
outputSize = 1

parameters["lstm"] = {}
sz = [4 * numHiddenUnits, inputSize]
numOut = 4 * numHiddenUnits
numIn = inputSize
parameters["lstm"]["InputWeights"] = initializeGlorot(sz, numOut, numIn)

sz = [4 * numHiddenUnits, numHiddenUnits]
parameters["lstm"]["RecurrentWeights"] = initializeOrthogonal(sz)

parameters["lstm"]["Bias"] = initializeUnitForgetGate(numHiddenUnits)

parameters["fc"] = {}
sz = [outputSize, numHiddenUnits]
numOut = outputSize
numIn = numHiddenUnits
parameters["fc"]["Weights"] = initializeGlorot(sz, numOut, numIn)

sz = [outputSize, 1]
parameters["fc"]["Bias"] = initializeZeros(sz)

for op, p in parameters.items():
    print(op, {k: "x".join(map(str, v.shape)) for k, v in p.items()})

# %% [markdown]
# ### Store Learnable Parameters in Table
#
# A table with the variables `Layer`, `Parameter` and `Value` (one row per parameter), the layout of a
# `dlnetwork`'s `Learnables` (adapted):
#
# ```matlab
# parameters = table( ...
#     ["lstm";"lstm";"lstm";"fc";"fc"], ...
#     ["InputWeights";"RecurrentWeights";"Bias";"Weights";"Bias"], ...
#     {initializeGlorot([4*numHiddenUnits inputSize],4*numHiddenUnits,inputSize); ...
#      initializeOrthogonal([4*numHiddenUnits numHiddenUnits]); ...
#      initializeUnitForgetGate(numHiddenUnits); ...
#      initializeGlorot([outputSize numHiddenUnits],outputSize,numHiddenUnits); ...
#      initializeZeros([outputSize 1])}, ...
#     VariableNames=["Layer" "Parameter" "Value"])
# ```
#
# In dlteach the table is `Table(Layer=..., Parameter=..., Value=...)`:

# %%
parametersTable = Table(
    Layer=["lstm", "lstm", "lstm", "fc", "fc"],
    Parameter=["InputWeights", "RecurrentWeights", "Bias", "Weights", "Bias"],
    Value=[initializeGlorot([4 * numHiddenUnits, inputSize], 4 * numHiddenUnits, inputSize),
           initializeOrthogonal([4 * numHiddenUnits, numHiddenUnits]),
           initializeUnitForgetGate(numHiddenUnits),
           initializeGlorot([outputSize, numHiddenUnits], outputSize, numHiddenUnits),
           initializeZeros([outputSize, 1])])
parametersTable

# %% [markdown]
# Either container works with `dlgradient` and the updaters. A model function that reads the table by
# `parameters.value(layer, parameter)`, one Adam step on a random sequence. (MATLAB's `Y(:,:,end)` keeps all three
# dimensions: "CBT" with T of size 1. In Python the integer index of `Y[:, :, -1]` drops the T dimension, and
# dlteach drops its label with it: the result is a "CB" dlarray (features x observations) for `fullyconnect`.
# `Y[:, :, -1:]` would keep T, as MATLAB does.)

# %%
def model(parameters, X):
    Y = lstm(X, np.zeros((numHiddenUnits, 1), np.float32), np.zeros((numHiddenUnits, 1), np.float32),
             parameters.value("lstm", "InputWeights"), parameters.value("lstm", "RecurrentWeights"),
             parameters.value("lstm", "Bias"))
    Y = Y[:, :, -1]       # the last time step, MATLAB's Y(:,:,end): "CBT" -> "CB"
    return fullyconnect(Y, parameters.value("fc", "Weights"), parameters.value("fc", "Bias"))


def modelLoss(parameters, X, T):
    loss = dlteach.mse(model(parameters, X), T)
    return loss, dlgradient(loss, parameters)


np.random.seed(8)
X = dlarray(np.random.standard_normal((inputSize, 8, 20)).astype(np.float32), "CBT")
T = np.random.standard_normal((outputSize, 8)).astype(np.float32)
loss, gradients = dlfeval(modelLoss, parametersTable, X, T)
parametersTable, averageGrad, averageSqGrad = adamupdate(parametersTable, gradients, None, None, 1)
print(f"loss {float(loss):.4f}; the gradients are a {type(gradients).__name__} with rows",
      [f"{a}/{b}" for a, b in gradients.keys()])

# %% [markdown]
# ## What to take away
#
# * Each initializer is a few lines: a random draw of the right size, scaled so that the variance follows a
#   formula ($2/(N_i+N_o)$ Glorot, $2/N_i$ He, $\sigma^2$ Gaussian, $b^2/3$ uniform), returned as a single-precision
#   `dlarray`. dlteach ships them under MATLAB's names (`from dlteach import initializeGlorot, ...`).
# * $N_i$ and $N_o$ depend on the operation: for a convolution they include `prod(filterSize)`.
# * Recurrent weights: orthogonal; LSTM bias: ones on the forget gate, so that the cell state is kept at the start.
