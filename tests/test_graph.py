"""Graph dlnetworks: addLayers / connectLayers / removeLayers / disconnectLayers, multi-input layers, several
inputs and outputs, initialize, analyzeNetwork, plot, save/load; transposedConv2dLayer, functionLayer and
custom layers (the GAN page's projectAndReshapeLayer).

References: the same computation written by hand with dlteach's ops (an independent path through the
model-function API), PyTorch (gradients of a residual network, transposed convolution) and NumPy.
"""

import numpy as np
import pytest

from dlteach import (
    CustomLayer,
    Table,
    adamupdate,
    additionLayer,
    addLayers,
    analyzeNetwork,
    batchnorm,
    batchNormalizationLayer,
    concatenationLayer,
    connectLayers,
    convolution2dLayer,
    depthConcatenationLayer,
    dims,
    disconnectLayers,
    dlarray,
    dlconv,
    dlfeval,
    dlgradient,
    dlnetwork,
    dltranspconv,
    extractdata,
    featureInputLayer,
    finddim,
    forward,
    fullyconnect,
    fullyConnectedLayer,
    functionLayer,
    imageInputLayer,
    initialize,
    load,
    networkDataLayout,
    predict,
    relu,
    reluLayer,
    removeLayers,
    save,
    softmax,
    softmaxLayer,
    transposedConv2dLayer,
)
from dlteach.errors import NetworkError


def page_network():
    """The network of MATLAB's "Train Network with Multiple Outputs", built as on the page."""
    np.random.seed(0)
    layers = [
        imageInputLayer([28, 28, 1], Normalization="none"),
        convolution2dLayer(5, 16, Padding="same"), batchNormalizationLayer(), reluLayer(Name="relu_1"),
        convolution2dLayer(3, 32, Padding="same", Stride=2), batchNormalizationLayer(), reluLayer(),
        convolution2dLayer(3, 32, Padding="same"), batchNormalizationLayer(), reluLayer(),
        additionLayer(2, Name="add"), fullyConnectedLayer(10), softmaxLayer(Name="softmax"),
    ]
    net = dlnetwork(layers, Initialize=False)
    net = addLayers(net, [convolution2dLayer(1, 32, Stride=2, Name="conv_skip"),
                          batchNormalizationLayer(Name="batchnorm_skip"), reluLayer(Name="relu_skip")])
    net = connectLayers(net, "relu_1", "conv_skip")
    net = connectLayers(net, "relu_skip", "add/in2")
    net = addLayers(net, fullyConnectedLayer(1, Name="fc_2"))
    net = connectLayers(net, "add", "fc_2")
    return initialize(net)


def _v(t, layer, param):
    return t.value(layer, param)


def test_page_network_structure_and_two_outputs_match_the_hand_written_model():
    net = page_network()
    assert net.InputNames == ["imageinput"] and net.OutputNames == ["softmax", "fc_2"]
    assert net.Initialized
    assert ("relu_skip", "add/in2") in [tuple(c) for c in net.Connections]
    L = net.Learnables
    assert L.keys()[:2] == [("conv_1", "Weights"), ("conv_1", "Bias")]          # rows in layer order
    assert _v(L, "fc_2", "Weights").shape == (1, 14 * 14 * 32)
    X = dlarray(np.random.default_rng(1).random((28, 28, 1, 5), dtype=np.float32), "SSCB")
    Y1, Y2, state = forward(net, X, Outputs=["softmax", "fc_2"], return_state=True)
    assert isinstance(state, Table) and len(state) == 8

    S = net.State

    def bn(H, name):
        return batchnorm(H, _v(L, name, "Offset"), _v(L, name, "Scale"), _v(S, name, "TrainedMean"),
                         _v(S, name, "TrainedVariance"), training=True)

    def conv(H, name, **kw):
        return dlconv(H, _v(L, name, "Weights"), _v(L, name, "Bias"), **kw)

    h1, m1, _ = bn(conv(X, "conv_1", Padding="same"), "batchnorm_1")
    h1 = relu(h1)
    h2 = relu(bn(conv(h1, "conv_2", Padding="same", Stride=2), "batchnorm_2")[0])
    h3 = relu(bn(conv(h2, "conv_3", Padding="same"), "batchnorm_3")[0])
    hs = relu(bn(conv(h1, "conv_skip", Stride=2), "batchnorm_skip")[0])
    add = h3 + hs
    y1 = softmax(fullyconnect(add, _v(L, "fc", "Weights"), _v(L, "fc", "Bias")))
    y2 = fullyconnect(add, _v(L, "fc_2", "Weights"), _v(L, "fc_2", "Bias"))
    np.testing.assert_allclose(extractdata(Y1), extractdata(y1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(extractdata(Y2), extractdata(y2), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(extractdata(_v(state, "batchnorm_1", "TrainedMean")), extractdata(m1), rtol=1e-6)
    # default outputs: both, in OutputNames order; predict likewise
    Z1, Z2 = predict(net, X)
    assert Z1.shape == (10, 5) and Z2.shape == (1, 5) and extractdata(Z2).dtype == np.float32
    assert forward(net, X, Outputs="relu_skip").shape == (14, 14, 32, 5)


def test_residual_network_gradients_match_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch is the gradient oracle")
    np.random.seed(3)
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4, Name="fc1"), reluLayer(), additionLayer(2, Name="add"),
                     fullyConnectedLayer(2, Name="out")], Initialize=False)
    net = addLayers(net, fullyConnectedLayer(4, Name="skip"))
    net = connectLayers(net, "input", "skip")
    net = connectLayers(net, "skip", "add/in2")
    net = initialize(net)
    X = np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32)
    G = np.random.default_rng(1).standard_normal((2, 6)).astype(np.float32)

    def loss_fn(net, X):
        Y = forward(net, dlarray(X, "CB"))
        loss = (Y * G).sum()
        return loss, dlgradient(loss, net.Learnables)

    loss, grads = dlfeval(loss_fn, net, X)
    L = net.Learnables
    t = {f"{a}/{b}": torch.tensor(np.asarray(extractdata(v)), requires_grad=True) for (a, b), v in zip(L.keys(), L.Value)}
    xt = torch.tensor(X)
    lin = lambda name, h: t[f"{name}/Weights"] @ h + t[f"{name}/Bias"]
    y = lin("out", torch.relu(lin("fc1", xt)) + lin("skip", xt))
    lt = (y * torch.tensor(G)).sum()
    lt.backward()
    np.testing.assert_allclose(float(extractdata(loss)), lt.item(), rtol=1e-5)
    for (a, b), g in zip(grads.keys(), grads.Value):
        assert extractdata(g).dtype == np.float32
        np.testing.assert_allclose(extractdata(g), t[f"{a}/{b}"].grad.numpy(), rtol=1e-5, atol=1e-6)
    # an updater step on a graph network keeps the graph
    net2, _, _ = adamupdate(net, grads, None, None, 1)
    assert net2.Connections == net.Connections and net2.Initialized


def test_two_inputs_concatenation_and_depth_concatenation():
    np.random.seed(1)
    net = dlnetwork([featureInputLayer(3, Name="a"), concatenationLayer(1, 2, Name="cat"), fullyConnectedLayer(2)],
                    Initialize=False)
    net = addLayers(net, featureInputLayer(2, Name="b"))
    net = connectLayers(net, "b", "cat/in2")
    net = initialize(net)
    assert net.InputNames == ["a", "b"]
    xa, xb = np.ones((3, 4), np.float32), np.full((2, 4), 2, np.float32)
    H = forward(net, xa, xb, Outputs="cat")
    np.testing.assert_array_equal(extractdata(H), np.concatenate([xa, xb]))
    W = _v(net.Learnables, "fc", "Weights")
    np.testing.assert_allclose(extractdata(predict(net, xa, xb)), extractdata(W) @ np.concatenate([xa, xb]), rtol=1e-6)
    with pytest.raises(NetworkError, match=r"2 input\(s\) \(a, b\) but 1 array"):
        forward(net, xa)
    with pytest.raises(NetworkError, match="by name"):
        forward(net, xa, True)
    # depth concatenation of two image branches: channels add up
    img = dlnetwork([imageInputLayer([6, 6, 2], Normalization="none"), convolution2dLayer(3, 4, Padding="same"),
                     depthConcatenationLayer(2, Name="cat"), convolution2dLayer(1, 1)], Initialize=False)
    img = addLayers(img, convolution2dLayer(3, 5, Padding="same", Name="side"))
    img = connectLayers(img, "imageinput", "side")
    img = initialize(connectLayers(img, "side", "cat/in2"))
    X = dlarray(np.random.default_rng(0).random((6, 6, 2, 3), dtype=np.float32), "SSCB")
    a, b, c = forward(img, X, Outputs=["conv_1", "side", "cat"])
    assert c.shape == (6, 6, 9, 3) and dims(c) == "SSCB"
    np.testing.assert_array_equal(extractdata(c), np.concatenate([extractdata(a), extractdata(b)], axis=2))


def test_graph_errors_teach():
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4, Name="fc1"), additionLayer(2, Name="add"),
                     fullyConnectedLayer(1, Name="out")], Initialize=False)
    with pytest.raises(NetworkError, match="Two layers are named 'fc1'"):
        addLayers(net, fullyConnectedLayer(2, Name="fc1"))
    with pytest.raises(NetworkError, match="no layer named 'fc9'. Layers: input, fc1, add, out"):
        connectLayers(net, "fc9", "add/in2")
    with pytest.raises(NetworkError, match="has 2 inputs \\(in1, in2\\); name the one you mean, e.g. 'add/in1'"):
        connectLayers(net, "input", "add")
    with pytest.raises(NetworkError, match="no input named 'in3'; its inputs are in1, in2"):
        connectLayers(net, "input", "add/in3")
    with pytest.raises(NetworkError, match="already connected to 'fc1'"):
        connectLayers(net, "input", "add/in1")
    with pytest.raises(NetworkError, match="would make a cycle \\(add -> out -> add\\)|would make a cycle"):
        connectLayers(net, "out", "add/in2")
    with pytest.raises(NetworkError, match="input layer"):
        connectLayers(net, "fc1", "input")
    with pytest.raises(NetworkError, match="Unconnected input\\(s\\): add/in2.*connectLayers"):
        initialize(net)
    with pytest.raises(NetworkError, match="not initialized"):
        forward(net, np.zeros((3, 1), np.float32))
    with pytest.raises(NetworkError, match="same size and format: in1 is 4 \\(C\\), in2 is 3 \\(C\\)"):
        initialize(connectLayers(net, "input", "add/in2"))
    with pytest.raises(NetworkError, match="no input layer"):
        initialize(dlnetwork([fullyConnectedLayer(2), reluLayer()], Initialize=False))
    with pytest.raises(NetworkError, match="contains '/'"):
        reluLayer(Name="a/b")
    with pytest.raises(NetworkError, match="batch dimension"):
        initialize(dlnetwork([featureInputLayer(2), concatenationLayer(2, 1)]))


def test_remove_and_disconnect_keep_the_values_of_the_other_layers():
    net = page_network()
    smaller = removeLayers(net, ["fc_2"])
    assert not smaller.Initialized and smaller.OutputNames == ["softmax"]
    smaller = initialize(smaller)
    kept = _v(smaller.Learnables, "conv_1", "Weights")
    np.testing.assert_array_equal(extractdata(kept), extractdata(_v(net.Learnables, "conv_1", "Weights")))
    cut = disconnectLayers(net, "relu_skip", "add/in2")
    assert "relu_skip" in cut.OutputNames
    with pytest.raises(NetworkError, match="Unconnected input\\(s\\): add/in2"):
        initialize(cut)
    with pytest.raises(NetworkError, match="is not connected to"):
        disconnectLayers(net, "relu_1", "fc")
    with pytest.raises(NetworkError, match="no layer named"):
        removeLayers(net, "nope")


def test_empty_network_built_layer_by_layer_like_matlab_r2024():
    net = dlnetwork()
    assert net.Layers == () and not net.Initialized
    net = addLayers(net, [featureInputLayer(2), fullyConnectedLayer(3)])
    net = addLayers(net, reluLayer())
    net = connectLayers(net, "fc", "relu")
    net = initialize(net)
    Y = predict(net, np.ones((2, 1), np.float32))
    assert Y.shape == (3, 1) and float(extractdata(Y).min()) >= 0


def test_save_load_graph_network_round_trip(tmp_path):
    net = page_network()
    X = dlarray(np.random.default_rng(2).random((28, 28, 1, 3), dtype=np.float32), "SSCB")
    back = load(save(tmp_path / "net", net))
    assert back.Connections == net.Connections and back.OutputNames == net.OutputNames and back.Initialized
    for a, b in zip(predict(net, X), predict(back, X)):
        np.testing.assert_array_equal(extractdata(a), extractdata(b))
    f = dlnetwork([featureInputLayer(2), functionLayer(lambda X: X * 2)])
    with pytest.raises(TypeError, match="cannot be saved"):
        save(tmp_path / "f", f)


def test_analyze_network_and_plot_draw_the_graph():
    import matplotlib

    matplotlib.use("Agg")
    net = page_network()
    a = analyzeNetwork(net)
    assert a.TotalLearnables == sum(int(np.prod(v.shape)) for v in net.Learnables.Value)
    add = next(r for r in a.rows if r["Name"] == "add")
    assert add["Activations"].startswith("14(S) x 14(S) x 32(C)")
    from dlteach import plot

    ax = plot(net)
    texts = [t.get_text() for t in ax.texts]
    assert all(any(t.startswith(lay.Name + "\n") for t in texts) for lay in net.Layers)
    assert "in2" in texts                                # the port of the addition layer is labelled
    assert len([p for p in ax.texts if getattr(p, "arrow_patch", None) is not None]) == len(net.Connections)


# -- transposedConv2dLayer ------------------------------------------------------------------------

def test_transposed_conv_layer_matches_dltranspconv_and_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is the reference")
    np.random.seed(4)
    net = dlnetwork([imageInputLayer([4, 4, 3], Normalization="none"),
                     transposedConv2dLayer(4, 2, Stride=2, Cropping="same", Name="up")])
    W, b = _v(net.Learnables, "up", "Weights"), _v(net.Learnables, "up", "Bias")
    assert W.shape == (4, 4, 2, 3) and b.shape == (1, 1, 2) and extractdata(W).dtype == np.float32
    bound = np.sqrt(6 / (16 * 3 + 16 * 2))                  # glorot: numIn = h*w*C, numOut = h*w*F
    assert np.abs(extractdata(W)).max() <= bound
    X = np.random.default_rng(0).random((4, 4, 3, 2), dtype=np.float32)
    Y = predict(net, X)
    assert Y.shape == (8, 8, 2, 2)
    np.testing.assert_array_equal(extractdata(Y), extractdata(dltranspconv(dlarray(X, "SSCB"), W, b, Stride=2,
                                                                             Cropping="same")))
    ref = torch.nn.functional.conv_transpose2d(
        torch.tensor(X.transpose(3, 2, 0, 1)), torch.tensor(extractdata(W).transpose(3, 2, 0, 1)),
        torch.tensor(extractdata(b).ravel()), stride=2, padding=1).numpy().transpose(2, 3, 1, 0)
    np.testing.assert_allclose(extractdata(Y), ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(NetworkError, match="needs images"):
        dlnetwork([featureInputLayer(3), transposedConv2dLayer(2, 2)])


# -- functionLayer and custom layers --------------------------------------------------------------

def test_function_layer_formattable_and_not():
    seen = {}

    def double(X):
        seen["fmt"] = dims(X)
        return X * 2

    net = dlnetwork([featureInputLayer(3), functionLayer(double, Name="f")])
    Y = predict(net, np.ones((3, 2), np.float32))
    assert seen["fmt"] == "" and dims(Y) == "CB" and float(extractdata(Y)[0, 0]) == 2.0
    with pytest.raises(NetworkError, match="not Formattable.*Formattable=True"):
        dlnetwork([featureInputLayer(4), functionLayer(lambda X: X.reshape(2, 2, -1))])
    flat = functionLayer(lambda X: dlarray(X.reshape(2, 2, 1, -1), "SSCB"), Formattable=True, Name="toimg")
    net2 = dlnetwork([featureInputLayer(4), flat, convolution2dLayer(2, 1)])
    assert predict(net2, np.ones((4, 3), np.float32)).shape == (1, 1, 1, 3)
    with pytest.raises(NetworkError, match="unformatted dlarray.*dlarray\\(Z, 'SSCB'\\)"):
        dlnetwork([featureInputLayer(4), functionLayer(lambda X: X.reshape(2, 2, 1, -1), Formattable=True)])
    split = functionLayer(lambda X: (X[:2], X[2:]), NumOutputs=2, Name="split")
    net3 = dlnetwork([featureInputLayer(5), split])
    assert net3.OutputNames == ["split/out1", "split/out2"]
    a, b = predict(net3, np.arange(5, dtype=np.float32)[:, None])
    assert a.shape == (2, 1) and b.shape == (3, 1)
    assert predict(net3, np.arange(5, dtype=np.float32)[:, None], Outputs="split/out2").shape == (3, 1)


class projectAndReshapeLayer(CustomLayer):
    """The GAN page's custom layer, written as on the page (MATLAB: classdef ... < nnet.layer.Layer &
    nnet.layer.Formattable, properties (Learnable) Weights, Bias)."""

    Formattable = True
    Learnable = ("Weights", "Bias")

    def __init__(self, outputSize, Name=""):
        super().__init__(Name=Name)
        self.Description = "Project and reshape to size " + " ".join(map(str, outputSize))
        self.Type = "Project and Reshape"
        self.OutputSize = outputSize
        self.Weights = None
        self.Bias = None

    def initialize(self, layout):
        outputSize = self.OutputSize
        if self.Weights is None:
            idx = finddim(layout, "C")
            numChannels = layout.Size[idx[0]]
            sz = (int(np.prod(outputSize)), numChannels)
            bound = np.sqrt(6 / (np.prod(outputSize) + numChannels))   # initializeGlorot(sz, numOut, numIn)
            self.Weights = np.random.uniform(-bound, bound, sz)
        if self.Bias is None:
            self.Bias = np.zeros((int(np.prod(outputSize)), 1))
        return self

    def predict(self, X):
        X = fullyconnect(X, self.Weights, self.Bias)
        outputSize = self.OutputSize
        Z = X.reshape(outputSize[0], outputSize[1], outputSize[2], -1)
        return dlarray(Z, "SSCB")


def test_project_and_reshape_layer_as_on_the_gan_page():
    np.random.seed(5)
    layers = [featureInputLayer(6, Normalization="none"), projectAndReshapeLayer((2, 2, 3), Name="proj"),
              transposedConv2dLayer(3, 2, Stride=2, Cropping="same"), reluLayer()]
    net = dlnetwork(layers)
    assert net.Learnables.keys()[:2] == [("proj", "Weights"), ("proj", "Bias")]
    W, b = _v(net.Learnables, "proj", "Weights"), _v(net.Learnables, "proj", "Bias")
    assert W.shape == (12, 6) and extractdata(W).dtype == np.float32 and np.any(extractdata(W) != 0)
    Z = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    H = predict(net, Z, Outputs="proj")
    assert dims(H) == "SSCB" and H.shape == (2, 2, 3, 4)
    np.testing.assert_allclose(extractdata(H), (extractdata(W) @ Z + extractdata(b)).reshape(2, 2, 3, 4), rtol=1e-6)
    assert predict(net, Z).shape == (4, 4, 2, 4)
    row = next(r for r in analyzeNetwork(net).rows if r["Name"] == "proj")
    assert row["Type"] == "Project and Reshape" and row["Description"] == "Project and reshape to size 2 2 3"

    def loss_fn(net, Z):
        Y = forward(net, Z, Outputs="proj")
        loss = (Y * Y).sum()
        return dlgradient(loss, net.Learnables)

    g = dlfeval(loss_fn, net, dlarray(Z, "CB"))
    H_ = extractdata(W) @ Z + extractdata(b)                          # d/dW sum(H^2) = 2 H Z^T
    np.testing.assert_allclose(extractdata(_v(g, "proj", "Weights")), 2 * H_ @ Z.T, rtol=1e-5)
    np.testing.assert_allclose(extractdata(_v(g, "proj", "Bias")), 2 * H_.sum(1, keepdims=True), rtol=1e-5)


class runningMeanLayer(CustomLayer):
    """A custom layer with a learnable and a State property: forward returns the output then the new state."""

    Learnable = ("Scale",)
    State = ("Mean",)

    def __init__(self, Name=""):
        super().__init__(Name=Name)
        self.Scale = np.ones((1, 1))
        self.Mean = np.zeros((1, 1))

    def forward(self, X):
        m = X.mean()
        return X * self.Scale, 0.5 * self.Mean + 0.5 * extractdata(m)

    def predict(self, X):
        return (X - self.Mean) * self.Scale, self.Mean


def test_custom_layer_with_state_and_wrong_return_counts():
    net = dlnetwork([featureInputLayer(2), runningMeanLayer(Name="rm")])
    assert net.State.keys() == [("rm", "Mean")] and net.Learnables.keys() == [("rm", "Scale")]
    X = np.full((2, 3), 4.0, np.float32)
    Y, state = forward(net, X, return_state=True)
    assert extractdata(_v(state, "rm", "Mean")).item() == 2.0
    net.State = state
    np.testing.assert_allclose(extractdata(predict(net, X)), np.full((2, 3), 2.0))

    class bad(runningMeanLayer):
        def predict(self, X):
            return X

    with pytest.raises(NetworkError, match="returned 1 value\\(s\\).*one value per State property \\(Mean\\)"):
        dlnetwork([featureInputLayer(2), bad()])


def test_custom_layer_initialize_must_set_learnables_and_layout():
    class lazy(CustomLayer):
        Learnable = ("W",)

        def __init__(self):
            super().__init__()
            self.W = None

        def predict(self, X):
            return X

    with pytest.raises(NetworkError, match="W is still empty after initialize"):
        dlnetwork([featureInputLayer(2), lazy()])
    lay = networkDataLayout((28, 28, 1, float("nan")), "SSCB")
    assert finddim(lay, "C") == [2] and dims(lay) == "SSCB"


def test_save_load_new_layer_types(tmp_path):
    np.random.seed(6)
    net = dlnetwork([imageInputLayer([4, 4, 2], Normalization="none"), transposedConv2dLayer(3, 3, Stride=2,
                     Cropping="same", Name="up"), depthConcatenationLayer(2, Name="dcat"),
                     concatenationLayer(3, 1, Name="cat1")], Initialize=False)
    net = addLayers(net, transposedConv2dLayer([2, 4], 1, Stride=[2, 2], Cropping=[0, 0, 1, 1], Name="up2"))
    net = connectLayers(net, "imageinput", "up2")
    net = initialize(connectLayers(net, "up2", "dcat/in2"))
    back = load(save(tmp_path / "n", net))
    X = np.random.default_rng(0).random((4, 4, 2, 2), dtype=np.float32)
    Y = predict(net, X)
    assert Y.shape == (8, 8, 4, 2)
    np.testing.assert_array_equal(extractdata(predict(back, X)), extractdata(Y))
    assert repr(back.Layers[1]).startswith("transposedConv2dLayer([3, 3], 3, Stride=[2, 2], Cropping='same'")


def test_replace_layer_reconnects_and_forgets_only_the_replaced_values():
    from dlteach import leakyReluLayer, replaceLayer

    net = page_network()
    new = replaceLayer(net, "relu_1", [leakyReluLayer(0.1, Name="relu_1"), batchNormalizationLayer(Name="bn_x")])
    assert not new.Initialized
    conns = [tuple(c) for c in new.Connections]
    assert ("batchnorm_1", "relu_1") in conns and ("relu_1", "bn_x") in conns
    assert ("bn_x", "conv_2") in conns and ("bn_x", "conv_skip") in conns
    new = initialize(new)
    np.testing.assert_array_equal(extractdata(_v(new.Learnables, "conv_1", "Weights")),
                                  extractdata(_v(net.Learnables, "conv_1", "Weights")))
    X = dlarray(np.random.default_rng(3).standard_normal((28, 28, 1, 2)).astype(np.float32), "SSCB")
    h = forward(new, X, Outputs="relu_1")
    b = forward(new, X, Outputs="batchnorm_1")
    np.testing.assert_allclose(extractdata(h), np.where(extractdata(b) > 0, 1, 0.1) * extractdata(b), rtol=1e-6)
    # the replaced layer's values are not carried over to a new layer of the same name
    fc = replaceLayer(net, "fc_2", fullyConnectedLayer(3, Name="fc_2"))
    assert _v(initialize(fc).Learnables, "fc_2", "Weights").shape == (3, 6272)
    with pytest.raises(NetworkError, match="ReconnectBy='order'"):
        replaceLayer(net, "add", reluLayer(Name="r"))           # add has in1, in2; relu only 'in'
    assert replaceLayer(net, "add", additionLayer(2, Name="add2"), ReconnectBy="order").Connections[-1]


def test_second_derivatives_through_a_graph_network_match_finite_differences():
    """A gradient penalty d/dW ||dY/dX||^2 through two branches joined by an addition layer (float64 weights,
    so that central differences are an exact-enough oracle)."""
    from finite_differences import numeric_grad  # tests/finite_differences.py

    from dlteach import tanhLayer

    rng = np.random.default_rng(7)
    W1 = rng.standard_normal((3, 2))
    # presets are stored as float32 (learnables are single): use float32-representable values for the oracle
    W2 = rng.standard_normal((3, 2)).astype(np.float32).astype(np.float64)
    V = rng.standard_normal((1, 3)).astype(np.float32).astype(np.float64)
    X = rng.standard_normal((2, 4))

    def build(w1):
        net = dlnetwork([featureInputLayer(2), fullyConnectedLayer(3, Weights=w1, Bias=np.zeros((3, 1)), Name="a"),
                         tanhLayer(), additionLayer(2, Name="add"),
                         fullyConnectedLayer(1, Weights=V, Bias=np.zeros((1, 1)), Name="out")], Initialize=False)
        net = addLayers(net, fullyConnectedLayer(3, Weights=W2, Bias=np.zeros((3, 1)), Name="b"))
        net = connectLayers(connectLayers(net, "input", "b"), "b", "add/in2")
        net = initialize(net)
        t = net.Learnables                       # float64 values for the finite-difference oracle
        t.Value = [dlarray(np.asarray(extractdata(v), np.float64)) for v in t.Value]
        t[t.Layer == "a", :] = Table(["a", "a"], ["Weights", "Bias"], [dlarray(np.asarray(w1, np.float64)),
                                                                       dlarray(np.zeros((3, 1)))])
        net.Learnables = t
        return net

    def penalty_and_grad(net, X):
        Y = forward(net, X)
        gx = dlgradient(Y.sum(), X, EnableHigherDerivatives=True)
        p = (gx * gx).sum()
        return p, dlgradient(p, net.Learnables)

    p, g = dlfeval(penalty_and_grad, build(W1), dlarray(X, "CB"))

    def penalty_np(w1):                          # by hand: dY/dX = V (diag(1 - tanh^2) W1 + W2), per observation
        H = np.tanh(w1 @ X)
        J = (V.T * (1 - H ** 2)).T @ w1 + V @ W2          # 4 x 2: one row per observation
        return float(np.sum(J ** 2))

    np.testing.assert_allclose(float(extractdata(p)), penalty_np(W1), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(extractdata(_v(g, "a", "Weights"))), numeric_grad(penalty_np, W1),
                               rtol=1e-6, atol=1e-8)
