"""Tests of dlteach.layers: options, defaults, names, learnable shapes, initializers."""

import numpy as np
import pytest

from dlteach import dlarray
from dlteach.errors import NetworkError
from dlteach.layers import (
    averagePooling2dLayer,
    batchNormalizationLayer,
    convolution2dLayer,
    dropoutLayer,
    featureInputLayer,
    flattenLayer,
    fullyConnectedLayer,
    imageInputLayer,
    leakyReluLayer,
    maxPooling2dLayer,
    reluLayer,
    sigmoidLayer,
    softmaxLayer,
    tanhLayer,
)
from dlteach.network import dlnetwork, predict


def shapes(net):
    return {(r.Layer, r.Parameter): r.Value.shape for r in net.Learnables}


def test_defaults_match_matlab():
    fc = fullyConnectedLayer(10)
    assert (fc.OutputSize, fc.WeightsInitializer, fc.BiasInitializer) == (10, "glorot", "zeros")
    assert (fc.WeightLearnRateFactor, fc.BiasLearnRateFactor, fc.WeightL2Factor, fc.BiasL2Factor) == (1, 1, 1, 0)
    conv = convolution2dLayer(5, 20)
    assert (conv.FilterSize, conv.NumFilters, conv.Stride, conv.Padding, conv.DilationFactor) == \
        ((5, 5), 20, (1, 1), (0, 0, 0, 0), (1, 1))
    assert convolution2dLayer([3, 5], 4, Padding="same", Stride=2).Padding == "same"
    assert convolution2dLayer(3, 4, Padding=[1, 2]).Padding == (1, 1, 2, 2)
    bn = batchNormalizationLayer()
    assert (bn.Epsilon, bn.MeanDecay, bn.VarianceDecay, bn.OffsetInitializer, bn.ScaleInitializer) == \
        (1e-5, 0.1, 0.1, "zeros", "ones")
    assert leakyReluLayer().Scale == 0.01 and leakyReluLayer(0.2).Scale == 0.2
    assert dropoutLayer().Probability == 0.5
    mp = maxPooling2dLayer(2)
    assert (mp.PoolSize, mp.Stride, mp.Padding) == ((2, 2), (1, 1), (0, 0, 0, 0))
    assert averagePooling2dLayer(3, Stride=2).Stride == (2, 2)
    assert imageInputLayer([28, 28]).InputSize == (28, 28, 1)
    assert imageInputLayer([28, 28, 1]).Normalization == "zerocenter"
    assert featureInputLayer(4).Normalization == "none"


def test_bad_options_raise():
    with pytest.raises(ValueError, match="probability"):
        dropoutLayer(1.0)
    with pytest.raises(ValueError, match="Padding"):
        convolution2dLayer(3, 4, Padding="valid")
    with pytest.raises(ValueError, match="positive"):
        fullyConnectedLayer(0)
    with pytest.raises(ValueError, match="MeanDecay"):
        batchNormalizationLayer(MeanDecay=2)


def test_repr_shows_constructor_and_non_default_options():
    assert repr(convolution2dLayer(5, 20, Stride=2, Name="c1")) == "convolution2dLayer([5, 5], 20, Stride=[2, 2], Name='c1')"
    assert repr(fullyConnectedLayer(10)) == "fullyConnectedLayer(10)"


def test_automatic_names_follow_matlab_numbering():
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4), reluLayer(), fullyConnectedLayer(4), reluLayer(),
                     fullyConnectedLayer(2), softmaxLayer()])
    assert [lay.Name for lay in net.Layers] == ["input", "fc_1", "relu_1", "fc_2", "relu_2", "fc_3", "softmax"]
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4, Name="fc_1"), fullyConnectedLayer(4),
                     fullyConnectedLayer(2)])
    assert [lay.Name for lay in net.Layers] == ["input", "fc_1", "fc_2", "fc_3"]
    net = dlnetwork([featureInputLayer(3, Name="in"), fullyConnectedLayer(2, Name="fc"), fullyConnectedLayer(2)])
    assert [lay.Name for lay in net.Layers] == ["in", "fc", "fc_1"]
    with pytest.raises(NetworkError, match="Two layers are named 'a'"):
        dlnetwork([featureInputLayer(3), fullyConnectedLayer(2, Name="a"), reluLayer(Name="a")])


def test_learnable_shapes_fc_conv_bn():
    net = dlnetwork([imageInputLayer([12, 10, 3], Normalization="none"), convolution2dLayer([3, 2], 5),
                     batchNormalizationLayer(), reluLayer(), fullyConnectedLayer(7), batchNormalizationLayer(),
                     sigmoidLayer()])
    s = shapes(net)
    assert s[("conv", "Weights")] == (3, 2, 3, 5) and s[("conv", "Bias")] == (1, 1, 5)
    assert s[("batchnorm_1", "Offset")] == (1, 1, 5) and s[("batchnorm_1", "Scale")] == (1, 1, 5)
    assert s[("fc", "Weights")] == (7, 10 * 9 * 5) and s[("fc", "Bias")] == (7, 1)
    assert s[("batchnorm_2", "Offset")] == (7, 1)
    st = net.State
    assert st.keys() == [("batchnorm_1", "TrainedMean"), ("batchnorm_1", "TrainedVariance"),
                         ("batchnorm_2", "TrainedMean"), ("batchnorm_2", "TrainedVariance")]
    np.testing.assert_array_equal(np.asarray(st.Value[0]), np.zeros((1, 1, 5)))
    np.testing.assert_array_equal(np.asarray(st.Value[3]), np.ones((7, 1)))
    np.testing.assert_array_equal(np.asarray(net.Learnables.value("batchnorm_1", "Scale")), np.ones((1, 1, 5)))
    assert all(v.dtype == np.float32 for v in net.Learnables.Value + st.Value)
    assert all(v.fmt == "" for v in net.Learnables.Value)
    layers = net.Layers
    assert layers[4].InputSize == 450 and layers[1].NumChannels == 3 and layers[2].NumChannels == 5
    assert layers[4].Weights is net.Learnables.Value[4]


def test_layers_without_parameters_have_no_learnables():
    net = dlnetwork([imageInputLayer([6, 6, 2], Normalization="none"), maxPooling2dLayer(2, Stride=2),
                     averagePooling2dLayer(3, Padding="same"), leakyReluLayer(), tanhLayer(), dropoutLayer(0.2),
                     flattenLayer(), softmaxLayer()])
    assert len(net.Learnables) == 0 and len(net.State) == 0
    Y = predict(net, dlarray(np.random.rand(6, 6, 2, 3).astype(np.float32), "SSCB"))
    assert Y.fmt == "CB" and Y.shape == (3 * 3 * 2, 3)


def glorot_fc(n_in, n_out, **kw):
    net = dlnetwork([featureInputLayer(n_in), fullyConnectedLayer(n_out, **kw)])
    return np.asarray(net.Learnables.Value[0])


def test_glorot_fc_bound_and_uniformity():
    np.random.seed(1)
    w = glorot_fc(300, 200)
    bound = np.sqrt(6 / (300 + 200))
    assert w.dtype == np.float32
    assert np.abs(w).max() <= bound * (1 + 1e-6)
    assert np.abs(w).max() > 0.99 * bound
    assert abs(w.mean()) < 0.01 * bound
    np.testing.assert_allclose(w.var(), bound ** 2 / 3, rtol=0.02)  # variance of U(-b, b)
    counts, _ = np.histogram(w, bins=10, range=(-bound, bound))
    assert np.all(np.abs(counts / w.size - 0.1) < 0.01)


def test_glorot_conv_uses_layer_fans_not_example_quirk():
    np.random.seed(2)
    net = dlnetwork([imageInputLayer([8, 8, 6], Normalization="none"), convolution2dLayer(3, 40)])
    w = np.asarray(net.Learnables.Value[0])
    bound = np.sqrt(6 / (3 * 3 * 6 + 3 * 3 * 40))  # numIn = h*w*C, numOut = h*w*F
    assert np.abs(w).max() <= bound * (1 + 1e-6) and np.abs(w).max() > 0.98 * bound
    quirk = np.sqrt(6 / (3 * 3 * 40 + 3 * 3 * 40))
    assert np.abs(w).max() > quirk * 1.05  # distinguishable from the model-function example's formula


def test_other_initializers():
    np.random.seed(3)
    he = glorot_fc(400, 300, WeightsInitializer="he")
    np.testing.assert_allclose(he.std(), np.sqrt(2 / 400), rtol=0.02)
    nn = glorot_fc(400, 300, WeightsInitializer="narrow-normal", BiasInitializer="narrow-normal")
    np.testing.assert_allclose(nn.std(), 0.01, rtol=0.02)
    assert np.all(glorot_fc(3, 2, WeightsInitializer="zeros") == 0)
    assert np.all(glorot_fc(3, 2, WeightsInitializer="ones") == 1)
    q = glorot_fc(10, 4, WeightsInitializer="orthogonal")
    np.testing.assert_allclose(q @ q.T, np.eye(4), atol=1e-5)
    seen = []

    def init(sz):
        seen.append(sz)
        return np.arange(np.prod(sz)).reshape(sz)

    w = glorot_fc(3, 2, WeightsInitializer=init)
    assert seen == [(2, 3)] and w.dtype == np.float32 and w[1, 2] == 5
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(2, BiasInitializer="ones")])
    np.testing.assert_array_equal(np.asarray(net.Learnables.Value[1]), np.ones((2, 1)))


def test_initializer_errors_are_clear():
    with pytest.raises(NetworkError, match="returned an array of size 3x3; it must return an array of size 2x3"):
        glorot_fc(3, 2, WeightsInitializer=lambda sz: np.zeros((3, 3)))
    with pytest.raises(NetworkError, match="unknown weights initializer 'xavier'"):
        glorot_fc(3, 2, WeightsInitializer="xavier")


def test_np_random_seed_makes_networks_reproducible():
    def build():
        return dlnetwork([imageInputLayer([5, 5, 1], Normalization="none"), convolution2dLayer(3, 2),
                          fullyConnectedLayer(3)])

    np.random.seed(7)
    a = build()
    np.random.seed(7)
    b = build()
    c = build()
    for x, y, _z in zip(a.Learnables.Value, b.Learnables.Value, c.Learnables.Value):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert not np.array_equal(np.asarray(a.Learnables.Value[0]), np.asarray(c.Learnables.Value[0]))


def test_preset_values_are_used_and_checked():
    W = np.arange(6, dtype=np.float64).reshape(2, 3)
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(2, Weights=W, Bias=[[1], [2]])])
    np.testing.assert_array_equal(np.asarray(net.Learnables.Value[0]), W)
    assert net.Learnables.Value[0].dtype == np.float32
    with pytest.raises(NetworkError, match="Weights has size 2x4.*must be 2x3"):
        dlnetwork([featureInputLayer(3), fullyConnectedLayer(2, Weights=np.zeros((2, 4)))])


def test_input_normalization():
    with pytest.raises(NetworkError, match="Normalization='none'"):
        dlnetwork([imageInputLayer([4, 4, 1]), fullyConnectedLayer(2)])
    X = np.random.rand(4, 4, 2, 3).astype(np.float32)
    mean = np.array([0.5, 0.25], np.float32)
    std = np.array([2.0, 4.0], np.float32)
    net = dlnetwork([imageInputLayer([4, 4, 2], Normalization="zscore", Mean=mean, StandardDeviation=std),
                     reluLayer(Name="r")])
    Y = predict(net, dlarray(X, "SSCB"), Outputs="imageinput")
    np.testing.assert_allclose(np.asarray(Y), (X - mean[None, None, :, None]) / std[None, None, :, None], rtol=1e-6)
    net = dlnetwork([featureInputLayer(2, Normalization="zerocenter", Mean=[1.0, 2.0]), reluLayer()])
    Y = predict(net, dlarray(np.array([[1.0, 3.0], [5.0, 1.0]], np.float32), "CB"))
    np.testing.assert_allclose(np.asarray(Y), [[0, 2], [3, 0]])


def test_elementwise_layers_compute_their_formulas():
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    for layer, ref in [(reluLayer(), np.maximum(x, 0)), (leakyReluLayer(0.2), np.where(x > 0, x, 0.2 * x)),
                       (sigmoidLayer(), 1 / (1 + np.exp(-x))), (tanhLayer(), np.tanh(x)),
                       (softmaxLayer(), np.exp(x) / np.exp(x).sum(0))]:
        net = dlnetwork([featureInputLayer(3), layer])
        np.testing.assert_allclose(np.asarray(predict(net, dlarray(x, "CB"))), ref, rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------------------- the registry

def test_constructor_is_generated_from_the_one_declaration():
    import inspect

    import dlteach
    from dlteach.layers import constructors

    sig = inspect.signature(convolution2dLayer)
    assert list(sig.parameters)[:3] == ["filterSize", "numFilters", "Stride"]
    assert sig.parameters["Stride"].default == (1, 1) and sig.parameters["Name"].default == ""
    assert "MATLAB ``convolution2dLayer``" in convolution2dLayer.__doc__
    for name, fn in constructors().items():  # every registered layer is exported by dlteach, under its name
        assert getattr(dlteach, name) is fn and name in dlteach.__all__ and fn.__name__ == name
    assert repr(leakyReluLayer(0.2)) == "leakyReluLayer(0.2)" and repr(dropoutLayer()) == "dropoutLayer()"


def test_unknown_or_missing_options_name_the_fix():
    from dlteach.errors import ArgumentError

    with pytest.raises(ArgumentError, match="unknown option 'Wieghts'. Did you mean 'Weights'"):
        fullyConnectedLayer(10, Wieghts=np.ones((10, 3)))
    with pytest.raises(ArgumentError, match="outputSize is missing"):
        fullyConnectedLayer()
    with pytest.raises(ArgumentError, match="takes 1 positional"):
        fullyConnectedLayer(10, "glorot")
    with pytest.raises(NetworkError, match="unknown bias initializer 'zero'"):
        fullyConnectedLayer(10, BiasInitializer="zero")  # refused when the layer is made, not later


def test_an_activation_layer_is_one_declaration_and_round_trips(tmp_path):
    import dlteach.layers as L
    from dlteach import load, save

    square = L.activation_layer("squareTestLayer", lambda X: X * X, "Square", default_name="square",
                                doc="Square layer (test only): x^2.")
    try:
        assert globals()["squareTestLayer"] is square  # defined in (and exported by) the module that declares it
        net = dlnetwork([featureInputLayer(2), fullyConnectedLayer(3), square()])
        assert [lay.Name for lay in net.Layers][-1] == "square" and net.Layers[-1].Type == "Square"
        X = dlarray(np.array([[1.0, -2.0], [0.5, 3.0]], np.float32), "CB")
        W, b = (np.asarray(v) for v in net.Learnables.Value)
        np.testing.assert_allclose(np.asarray(predict(net, X)), (W @ np.asarray(X) + b) ** 2, rtol=1e-6)
        back = load(save(tmp_path / "sq.npz", net))
        np.testing.assert_array_equal(np.asarray(predict(back, X)), np.asarray(predict(net, X)))
    finally:  # leave the registry as dlteach exports it
        L._LAYERS.pop("squareTestLayer", None)


def test_layer_properties_replace_class_names():
    assert reluLayer().rectifies and not sigmoidLayer().rectifies and not leakyReluLayer().rectifies
    assert maxPooling2dLayer(2).passes_zeros and dropoutLayer().passes_zeros and flattenLayer().passes_zeros
    assert not averagePooling2dLayer(2).passes_zeros and not fullyConnectedLayer(2).passes_zeros
    assert featureInputLayer(3).is_input and imageInputLayer([4, 4]).is_input and not reluLayer().is_input
    assert fullyConnectedLayer(2).learnable_names == ("Weights", "Bias")
    assert batchNormalizationLayer().state_names == ("TrainedMean", "TrainedVariance")


def test_l2_factors_are_read_for_the_dlupdate_recipe_and_no_updater_applies_them():
    from dlteach import adamupdate, dlupdate
    from dlteach.network import getL2Factor

    np.random.seed(0)
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(2, WeightL2Factor=2.0)])
    assert (getL2Factor(net, "fc", "Weights"), getL2Factor(net, "fc", "Bias")) == (2.0, 0.0)
    with pytest.raises(NetworkError, match="has no learnable parameter 'Offset'"):
        getL2Factor(net, "fc", "Offset")
    grad = net.Learnables
    grad.Value = [np.ones((2, 3), np.float32), np.ones((2, 1), np.float32)]
    # the updaters ignore L2 factors, as MATLAB's do: a factor of 0 gives the same step as a factor of 2
    net0 = dlnetwork([featureInputLayer(3), fullyConnectedLayer(2, WeightL2Factor=0.0)])
    net0.Learnables = net.Learnables
    a, _, _ = adamupdate(net, grad, None, None, 1)
    b, _, _ = adamupdate(net0, grad, None, None, 1)
    np.testing.assert_array_equal(np.asarray(a.Learnables.Value[0]), np.asarray(b.Learnables.Value[0]))
    # the documented recipe (dlteach/layers.py docstring): g + l2 * factor * w, row by row
    l2 = 1e-2
    factor = [getL2Factor(net, r.Layer, r.Parameter) for r in net.Learnables]
    grad.Value = [g + l2 * f * w for g, w, f in zip(grad.Value, net.Learnables.Value, factor)]
    W = np.asarray(net.Learnables.Value[0])
    np.testing.assert_allclose(np.asarray(grad.Value[0]), 1 + l2 * 2.0 * W, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(grad.Value[1]), np.ones((2, 1)))
    assert np.asarray(grad.Value[0]).dtype == np.float32
    # MATLAB's form, for all learnables alike: dlupdate(@(g, w) g + l2*w, gradients, net.Learnables)
    reg = dlupdate(lambda g, w: g + l2 * w, grad, net.Learnables)
    np.testing.assert_allclose(np.asarray(reg.Value[0]), np.asarray(grad.Value[0]) + l2 * W, rtol=1e-6)
