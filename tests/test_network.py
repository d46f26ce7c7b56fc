"""Tests of dlteach.network: dlnetwork, forward / predict, State, Outputs, input checks, the
forgotten-state hint, analyzeNetwork, and gradients against PyTorch."""

import copy
import pickle
import warnings

import numpy as np
import pytest

from dlteach import dlarray, dlfeval, dlgradient, extractdata
from dlteach.errors import ArgumentError, NetworkError, StructureMismatchError
from dlteach.layers import (
    batchNormalizationLayer,
    convolution2dLayer,
    dropoutLayer,
    featureInputLayer,
    fullyConnectedLayer,
    imageInputLayer,
    maxPooling2dLayer,
    reluLayer,
    softmaxLayer,
)
from dlteach.network import (
    StateNotUpdatedWarning,
    analyzeNetwork,
    dlnetwork,
    forward,
    getL2Factor,
    getLearnRateFactor,
    initialize,
    learn_rate_factors,
    predict,
    setL2Factor,
    setLearnRateFactor,
    with_learnables,
)
from dlteach.table import Table
from dlteach.tree import tree_map


def seed_cnn(h=28, classes=10, filters=20):
    return dlnetwork([imageInputLayer([h, h, 1], Normalization="none"), convolution2dLayer(5, filters),
                      batchNormalizationLayer(), reluLayer(), maxPooling2dLayer(2, Stride=2),
                      fullyConnectedLayer(classes), softmaxLayer()])


def bn_mlp(n_in=3, hidden=4):
    return dlnetwork([featureInputLayer(n_in), fullyConnectedLayer(hidden), batchNormalizationLayer(), reluLayer(),
                      fullyConnectedLayer(2), softmaxLayer()])


def xent(Y, T):
    """-sum(T log Y) / N by hand (crossentropy of dlteach.losses is tested elsewhere)."""
    return -np.sum(T * np.log(Y)) / T.shape[1]


def sgd(net, grads, lr):
    return with_learnables(net, tree_map(lambda w, g: w - lr * g, net.Learnables, grads))


# -------------------------------------------------------------------------------------------------
# object

def test_seed_network_properties():
    np.random.seed(0)
    net = seed_cnn()
    assert net.Initialized
    assert net.InputNames == ["imageinput"] and net.OutputNames == ["softmax"]
    assert net.Learnables.keys() == [("conv", "Weights"), ("conv", "Bias"), ("batchnorm", "Offset"),
                                     ("batchnorm", "Scale"), ("fc", "Weights"), ("fc", "Bias")]
    assert net.Learnables.value("fc", "Weights").shape == (10, 12 * 12 * 20)
    assert "Learnables: [6x3 Table]" in repr(net)
    assert len(dlnetwork([featureInputLayer(2), fullyConnectedLayer(1)]).State) == 0


def test_learnables_property_is_a_fresh_table():
    net = bn_mlp()
    t = net.Learnables
    t.Value[0] = t.Value[0] * 0
    assert not np.all(np.asarray(net.Learnables.Value[0]) == 0)
    net.Learnables = t
    assert np.all(np.asarray(net.Learnables.Value[0]) == 0)


def test_first_layer_must_be_an_input_layer():
    with pytest.raises(NetworkError, match="first layer must be an input layer"):
        dlnetwork([fullyConnectedLayer(3), reluLayer()])
    with pytest.raises(NetworkError, match="list of layers"):
        dlnetwork("fc")


def test_uninitialized_network_and_initialize_fills_only_unset():
    W = np.ones((4, 3), np.float32)
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4, Weights=W), batchNormalizationLayer()],
                    Initialize=False)
    assert not net.Initialized
    assert net.Learnables.Value[1] is None and net.State.Value[0] is None
    np.testing.assert_array_equal(np.asarray(net.Learnables.Value[0]), W)
    with pytest.raises(NetworkError, match="initialize"):
        predict(net, np.zeros((3, 2)))
    np.random.seed(0)
    net2 = initialize(net)
    assert net2.Initialized and not net.Initialized
    np.testing.assert_array_equal(np.asarray(net2.Learnables.Value[0]), W)
    np.testing.assert_array_equal(np.asarray(net2.Learnables.Value[1]), np.zeros((4, 1)))
    np.testing.assert_array_equal(np.asarray(net2.State.Value[1]), np.ones((4, 1)))


def test_assigning_tables_is_validated():
    net = bn_mlp()
    other = seed_cnn(h=8, classes=2, filters=2)
    with pytest.raises(NetworkError, match="does not match this network.*row 0: Layer/Parameter fc_1/Weights vs conv"):
        net.Learnables = other.Learnables
    with pytest.raises(NetworkError, match="batchnorm/TrainedMean has size 1x1x2 but the network needs 4x1"):
        net.State = other.State
    with pytest.raises(NetworkError, match="return_state=True"):
        net.State = forward(net, np.random.rand(3, 5))
    bad = net.Learnables
    bad.Value[0] = dlarray(np.zeros((5, 3), np.float32))
    with pytest.raises(NetworkError, match="fc_1/Weights has size 5x3 but the network needs 4x3"):
        net.Learnables = bad
    ok = net.State
    ok.Value = [np.full((4, 1), 2.0, np.float32), np.full((4, 1), 3.0, np.float32)]
    net.State = ok
    assert type(net.State.Value[0]) is dlarray and float(net.State.Value[1][0, 0]) == 3.0


def test_copy_and_pickle():
    net = bn_mlp()
    X = np.random.rand(3, 4).astype(np.float32)
    for other in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        np.testing.assert_array_equal(np.asarray(predict(other, X)), np.asarray(predict(net, X)))


# -------------------------------------------------------------------------------------------------
# forward vs predict

def test_batchnorm_forward_uses_batch_stats_and_predict_uses_stored_stats():
    np.random.seed(1)
    net = dlnetwork([featureInputLayer(3), batchNormalizationLayer()])
    X = (np.random.randn(3, 50) * [[2.0], [0.5], [3.0]] + [[1.0], [-2.0], [4.0]]).astype(np.float32)
    Yf, state = forward(net, dlarray(X, "CB"), return_state=True)
    mu, var = X.mean(1, keepdims=True), X.var(1, keepdims=True)
    np.testing.assert_allclose(np.asarray(Yf), (X - mu) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-5)
    Yp = predict(net, dlarray(X, "CB"))
    np.testing.assert_allclose(np.asarray(Yp), X / np.sqrt(1 + 1e-5), rtol=1e-6)
    # running statistics: s <- 0.1 * batch + 0.9 * s, unbiased batch variance
    np.testing.assert_allclose(np.asarray(state.value("batchnorm", "TrainedMean")), 0.1 * mu, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(state.value("batchnorm", "TrainedVariance")),
                               0.1 * X.var(1, ddof=1, keepdims=True) + 0.9, rtol=1e-5)
    # forward did not change the network; after storing the state, predict uses it
    np.testing.assert_array_equal(np.asarray(net.State.Value[0]), np.zeros((3, 1)))
    net.State = state
    m, v = 0.1 * mu, 0.1 * X.var(1, ddof=1, keepdims=True) + 0.9
    np.testing.assert_allclose(np.asarray(predict(net, X)), (X - m) / np.sqrt(v + 1e-5), rtol=1e-4, atol=1e-5)
    # a second update starts from the stored state
    _, state2 = forward(net, X, return_state=True)
    np.testing.assert_allclose(np.asarray(state2.Value[0]), 0.1 * mu + 0.9 * m, rtol=1e-5)


def test_batchnorm_image_state_shape_and_decay_options():
    net = dlnetwork([imageInputLayer([4, 4, 2], Normalization="none"),
                     batchNormalizationLayer(MeanDecay=0.5, VarianceDecay=0.25, Epsilon=1e-3)])
    X = np.random.rand(4, 4, 2, 6).astype(np.float32)
    Y, st = forward(net, dlarray(X, "SSCB"), return_state=True)
    mu = X.mean(axis=(0, 1, 3))
    var_u = X.var(axis=(0, 1, 3), ddof=1)
    assert st.Value[0].shape == (1, 1, 2) and st.Value[0].dtype == np.float32
    np.testing.assert_allclose(np.asarray(st.Value[0]).ravel(), 0.5 * mu, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(st.Value[1]).ravel(), 0.25 * var_u + 0.75, rtol=1e-5)
    ref = (X - mu[None, None, :, None]) / np.sqrt(X.var(axis=(0, 1, 3))[None, None, :, None] + 1e-3)
    np.testing.assert_allclose(np.asarray(Y), ref, rtol=1e-4, atol=1e-5)


def test_dropout_forward_masks_and_scales_predict_is_identity():
    net = dlnetwork([featureInputLayer(50), dropoutLayer(0.3)])
    X = np.random.rand(50, 200).astype(np.float32) + 0.5
    np.testing.assert_array_equal(np.asarray(predict(net, X)), X)
    np.random.seed(5)
    Y = np.asarray(forward(net, X))
    kept = Y != 0
    np.testing.assert_allclose(Y[kept], X[kept] / 0.7, rtol=1e-6)
    assert abs((~kept).mean() - 0.3) < 0.02
    np.random.seed(5)
    np.testing.assert_array_equal(np.asarray(forward(net, X)), Y)


def test_outputs_option():
    np.random.seed(0)
    net = bn_mlp()
    X = dlarray(np.random.rand(3, 5).astype(np.float32), "CB")
    r = predict(net, X, Outputs="relu")
    fc1 = predict(net, X, Outputs="fc_1/out")
    W, b = np.asarray(net.Learnables.Value[0]), np.asarray(net.Learnables.Value[1])
    np.testing.assert_allclose(np.asarray(fc1), W @ np.asarray(X) + b, rtol=1e-5)
    a, c = predict(net, X, Outputs=["relu", "fc_1"])
    np.testing.assert_array_equal(np.asarray(a), np.asarray(r))
    np.testing.assert_array_equal(np.asarray(c), np.asarray(fc1))
    a, c, state = forward(net, X, Outputs=["softmax", "relu"], return_state=True)
    assert isinstance(state, Table) and a.shape == (2, 5) and c.shape == (4, 5)
    with pytest.raises(NetworkError, match="no layer named 'fc'.*fc_1"):
        predict(net, X, Outputs="fc")


# -------------------------------------------------------------------------------------------------
# inputs

def test_unformatted_and_ndarray_inputs_take_the_input_format():
    np.random.seed(0)
    net = seed_cnn(h=8, classes=3, filters=2)
    X = np.random.rand(8, 8, 1, 4).astype(np.float32)
    ref = np.asarray(predict(net, dlarray(X, "SSCB")))
    np.testing.assert_array_equal(np.asarray(predict(net, dlarray(X))), ref)
    np.testing.assert_array_equal(np.asarray(predict(net, X)), ref)
    np.testing.assert_array_equal(np.asarray(predict(net, X[:, :, 0, :])), ref)  # h x w x N grey images
    np.testing.assert_array_equal(np.asarray(predict(net, dlarray(X.transpose(3, 0, 1, 2), "BSSC"))), ref)


def test_wrong_input_size_names_layer_and_both_sizes():
    net = seed_cnn(h=8, classes=3, filters=2)
    with pytest.raises(NetworkError, match=r"layer 'imageinput'.*expects 8x8x1 per observation.*10x10x1x2"):
        predict(net, dlarray(np.zeros((10, 10, 1, 2), np.float32), "SSCB"))
    with pytest.raises(NetworkError, match=r"N x H x W x C.*'BSSC'"):
        predict(net, np.zeros((5, 8, 8, 1), np.float32))
    with pytest.raises(NetworkError, match=r"expects SSCB data.*'CB'"):
        predict(net, dlarray(np.zeros((64, 2), np.float32), "CB"))
    mlp = bn_mlp(n_in=3)
    with pytest.raises(NetworkError, match=r"expects 3 per observation.*observations x features.*'BC'"):
        predict(mlp, np.zeros((10, 3), np.float32))


# -------------------------------------------------------------------------------------------------
# forgotten-state hint

def _train(net, X, T, steps, store_state):
    def modelLoss(net, X, T):
        Y, state = forward(net, X, return_state=True)
        loss = xent(Y, T)
        return loss, dlgradient(loss, net.Learnables), state

    for _ in range(steps):
        loss, grads, state = dlfeval(modelLoss, net, X, T)
        if store_state:
            net.State = state
        net = sgd(net, grads, 0.1)
    return net


def _predict_warnings(net, X):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        predict(net, X)
    return [w for w in rec if issubclass(w.category, StateNotUpdatedWarning)]


def test_forgotten_state_warning_and_no_false_positives():
    np.random.seed(0)
    X = dlarray(np.random.randn(3, 16).astype(np.float32), "CB")
    T = np.eye(2, dtype=np.float32)[:, np.random.randint(0, 2, 16)]
    forgot = _train(bn_mlp(), X, T, 3, store_state=False)
    w = _predict_warnings(forgot, X)
    assert len(w) == 1 and "net.State = state" in str(w[0].message) and "3 time(s)" in str(w[0].message)
    assert _predict_warnings(_train(bn_mlp(), X, T, 3, store_state=True), X) == []
    # forward on a fresh network without training: nothing was trained, so no hint
    fresh = bn_mlp()
    forward(fresh, X)
    assert _predict_warnings(fresh, X) == []
    # trained network without batch norm has no State: no hint
    plain = dlnetwork([featureInputLayer(3), fullyConnectedLayer(2), softmaxLayer()])
    assert _predict_warnings(_train(plain, X, T, 2, store_state=False), X) == []
    # storing the state late fixes it
    forgot.State = forward(forgot, X, return_state=True)[1]
    assert _predict_warnings(forgot, X) == []


def test_tools_do_not_count_as_training_for_the_forgotten_state_warning():
    # the learner trains with store_state=True (no warning), then only inspects: the tools' forward calls
    # (inspect_activations, gradient_check) must not turn into "forward ran but State was never stored"
    from dlteach.debug import inspect_activations

    np.random.seed(1)
    X = dlarray(np.random.randn(3, 16).astype(np.float32), "CB")
    untouched = bn_mlp()
    for _ in range(3):
        inspect_activations(untouched, X)
    untouched.Learnables = tree_map(lambda w: w * 1.5, untouched.Learnables)  # "trained" by hand, state unchanged
    assert _predict_warnings(untouched, X) == []
    # the same with the learner's own forward calls does warn (the check can fail)
    counted = bn_mlp()
    for _ in range(3):
        forward(counted, X)
    counted.Learnables = tree_map(lambda w: w * 1.5, counted.Learnables)
    assert len(_predict_warnings(counted, X)) == 1


# -------------------------------------------------------------------------------------------------
# gradients against PyTorch

torch = pytest.importorskip("torch")


def _torch_xent(y, t):
    return -(t * torch.log(y)).sum() / t.shape[0]


def test_mlp_gradients_match_pytorch():
    np.random.seed(3)
    net = dlnetwork([featureInputLayer(5), fullyConnectedLayer(7), reluLayer(), fullyConnectedLayer(3),
                     softmaxLayer()])
    X = np.random.randn(5, 11).astype(np.float32)
    T = np.eye(3, dtype=np.float32)[:, np.random.randint(0, 3, 11)]

    def modelLoss(net, X, T):
        Y = forward(net, X)
        loss = xent(Y, T)
        return loss, dlgradient(loss, net.Learnables)

    loss, g = dlfeval(modelLoss, net, dlarray(X, "CB"), T)
    L = [torch.tensor(np.asarray(v), requires_grad=True) for v in net.Learnables.Value]
    h = torch.relu(L[0] @ torch.tensor(X) + L[1])
    y = torch.softmax(L[2] @ h + L[3], dim=0)
    tl = _torch_xent(y.T, torch.tensor(T.T))
    tl.backward()
    np.testing.assert_allclose(float(loss), tl.item(), rtol=1e-5)
    for mine, ref in zip(g.Value, L):
        assert mine.dtype == np.float32
        np.testing.assert_allclose(np.asarray(mine), ref.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_cnn_gradients_and_state_match_pytorch():
    np.random.seed(4)
    net = dlnetwork([imageInputLayer([10, 10, 2], Normalization="none"), convolution2dLayer(3, 4, Padding=[1, 0]),
                     batchNormalizationLayer(), reluLayer(), maxPooling2dLayer(2, Stride=2),
                     fullyConnectedLayer(3), softmaxLayer()])
    # non-trivial batch-norm parameters
    t = net.Learnables
    t.Value[2] = dlarray(np.random.randn(1, 1, 4).astype(np.float32))
    t.Value[3] = dlarray((1 + 0.3 * np.random.randn(1, 1, 4)).astype(np.float32))
    t.Value[1] = dlarray(np.random.randn(1, 1, 4).astype(np.float32) * 0.1)
    net.Learnables = t
    N = 6
    X = np.random.randn(10, 10, 2, N).astype(np.float32)
    T = np.eye(3, dtype=np.float32)[:, np.random.randint(0, 3, N)]

    def modelLoss(net, X, T):
        Y, state = forward(net, X, return_state=True)
        loss = xent(Y, T)
        return loss, dlgradient(loss, net.Learnables), state

    loss, g, state = dlfeval(modelLoss, net, dlarray(X, "SSCB"), T)

    V = [np.asarray(v) for v in net.Learnables.Value]
    Wc = torch.tensor(V[0].transpose(3, 2, 0, 1), requires_grad=True)  # h w C F -> F C h w
    bc = torch.tensor(V[1].ravel(), requires_grad=True)
    off = torch.tensor(V[2].ravel(), requires_grad=True)
    scl = torch.tensor(V[3].ravel(), requires_grad=True)
    Wf = torch.tensor(V[4], requires_grad=True)
    bf = torch.tensor(V[5].ravel(), requires_grad=True)
    bn = torch.nn.BatchNorm2d(4, eps=1e-5, momentum=0.1)
    xt = torch.tensor(X.transpose(3, 2, 0, 1))  # H W C N -> N C H W
    z = torch.nn.functional.conv2d(torch.nn.functional.pad(xt, (0, 0, 1, 1)), Wc, bc)
    z = torch.nn.functional.batch_norm(z, bn.running_mean, bn.running_var, scl, off, training=True, momentum=0.1,
                                       eps=1e-5)
    z = torch.nn.functional.max_pool2d(torch.relu(z), 2, 2)
    flat = z.permute(0, 2, 3, 1).reshape(N, -1)  # dlteach flattens h x w x c in row-major order
    y = torch.softmax(flat @ Wf.T + bf, dim=1)
    tl = _torch_xent(y, torch.tensor(T.T))
    tl.backward()
    np.testing.assert_allclose(float(loss), tl.item(), rtol=1e-5)
    refs = [Wc.grad.numpy().transpose(2, 3, 1, 0), bc.grad.numpy().reshape(1, 1, 4), off.grad.numpy().reshape(1, 1, 4),
            scl.grad.numpy().reshape(1, 1, 4), Wf.grad.numpy(), bf.grad.numpy().reshape(3, 1)]
    for (layer, param), mine, ref in zip(g.keys(), g.Value, refs):
        assert mine.dtype == np.float32 and mine.shape == ref.shape, (layer, param)
        np.testing.assert_allclose(np.asarray(mine), ref, rtol=2e-4, atol=2e-6, err_msg=f"{layer}/{param}")
    np.testing.assert_allclose(np.asarray(state.Value[0]).ravel(), bn.running_mean.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(state.Value[1]).ravel(), bn.running_var.numpy(), rtol=1e-5)


def test_crossentropy_from_losses_agrees_with_hand_formula():
    losses = pytest.importorskip("dlteach.losses")
    np.random.seed(0)
    net = seed_cnn(h=8, classes=3, filters=2)
    X = dlarray(np.random.rand(8, 8, 1, 5).astype(np.float32), "SSCB")
    T = np.eye(3, dtype=np.float32)[:, [0, 1, 2, 1, 0]]
    Y = forward(net, X)
    np.testing.assert_allclose(float(losses.crossentropy(Y, T)), float(xent(Y, T)), rtol=1e-6)


# -------------------------------------------------------------------------------------------------
# updaters with the network syntax

def test_learn_rate_factor_zero_freezes_with_network_syntax_only():
    updaters = pytest.importorskip("dlteach.updaters")
    np.random.seed(0)
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4, WeightLearnRateFactor=0, BiasLearnRateFactor=0),
                     reluLayer(), fullyConnectedLayer(2), softmaxLayer()])
    assert learn_rate_factors(net) == [0.0, 0.0, 1.0, 1.0]
    X = dlarray(np.random.randn(3, 8).astype(np.float32), "CB")
    T = np.eye(2, dtype=np.float32)[:, np.random.randint(0, 2, 8)]

    def modelLoss(net, X, T):
        loss = xent(forward(net, X), T)
        return loss, dlgradient(loss, net.Learnables)

    _, g = dlfeval(modelLoss, net, X, T)
    assert np.abs(np.asarray(g.Value[0])).max() > 0
    new_net, _, _ = updaters.adamupdate(net, g, None, None, 1)
    assert isinstance(new_net, dlnetwork)
    old, new = net.Learnables.Value, new_net.Learnables.Value
    np.testing.assert_array_equal(np.asarray(new[0]), np.asarray(old[0]))
    np.testing.assert_array_equal(np.asarray(new[1]), np.asarray(old[1]))
    assert not np.array_equal(np.asarray(new[2]), np.asarray(old[2]))
    new_table, _, _ = updaters.adamupdate(net.Learnables, g, None, None, 1)
    assert isinstance(new_table, Table)
    assert not np.array_equal(np.asarray(new_table.Value[0]), np.asarray(old[0]))


def test_learn_rate_factors_follow_the_layers_of_each_derived_network():
    """The factors (and the execution plan) are cached per network family; a network whose layers changed
    (setLearnRateFactor) must not see its ancestor's cached values, nor the ancestor the new ones."""
    np.random.seed(1)
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(2, Name="fc")])
    X = dlarray(np.random.randn(3, 4).astype(np.float32), "CB")
    assert learn_rate_factors(net) == [1.0, 1.0]  # fills the family's cache
    grads = dlfeval(lambda n: dlgradient(np.sum(forward(n, X) ** 2), n.Learnables), net)
    from dlteach.updaters import adamupdate

    trained, _, _ = adamupdate(net, grads, None, None, 1)  # shares the family's cache
    frozen = setLearnRateFactor(trained, "fc", "Weights", 0)
    assert learn_rate_factors(frozen) == [0.0, 1.0]
    assert learn_rate_factors(trained) == [1.0, 1.0] and learn_rate_factors(net) == [1.0, 1.0]
    later, _, _ = adamupdate(frozen, grads, None, None, 1)
    W = lambda n: np.asarray(n.Learnables.Value[0])  # noqa: E731
    np.testing.assert_array_equal(W(later), W(frozen))  # factor 0: the weights stay
    assert not np.array_equal(W(trained), W(net))
    # the plan follows too: the derived networks still compute their own outputs
    np.testing.assert_allclose(extractdata(forward(later, X)),
                               np.asarray(W(later)) @ extractdata(X) + np.asarray(later.Learnables.Value[1]),
                               rtol=1e-5)


def test_get_and_set_learn_rate_and_l2_factors_matlab_signatures():
    np.random.seed(0)
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4, Name="fc", BiasL2Factor=0.5),
                     batchNormalizationLayer(Name="bn"), reluLayer(), fullyConnectedLayer(2)])
    # MATLAB's defaults: learn-rate factors 1; L2 factor 1 for weights, 0 for biases (here set to 0.5), 1 for bn
    assert getLearnRateFactor(net, "fc", "Weights") == 1.0 and getL2Factor(net, "fc", "Weights") == 1.0
    assert getL2Factor(net, "fc", "Bias") == 0.5 and getL2Factor(net, "fc_1", "Bias") == 0.0
    assert getL2Factor(net, "bn", "Offset") == 1.0 and getLearnRateFactor(net, "bn/Scale") == 1.0
    values = [np.asarray(v).copy() for v in net.Learnables.Value]
    new = setLearnRateFactor(net, "fc", "Weights", 2)
    new = setLearnRateFactor(new, "bn/Offset", 0)
    new = setL2Factor(new, "fc", "Bias", 3.0)
    # a new network: the original is unchanged, the values are kept, the factors are read back
    assert getLearnRateFactor(net, "fc", "Weights") == 1.0 and getL2Factor(net, "fc", "Bias") == 0.5
    assert getLearnRateFactor(new, "fc", "Weights") == 2.0 and getLearnRateFactor(new, "bn", "Offset") == 0.0
    assert getL2Factor(new, "fc", "Bias") == 3.0 and getL2Factor(new, "fc", "Weights") == 1.0
    assert learn_rate_factors(new) == [2.0, 1.0, 0.0, 1.0, 1.0, 1.0]
    assert learn_rate_factors(net) == [1.0] * 6
    for a, b in zip(values, new.Learnables.Value):
        np.testing.assert_array_equal(a, np.asarray(b))
    assert new.Layers[1].WeightLearnRateFactor == 2.0 and net.Layers[1].WeightLearnRateFactor == 1.0
    # the layer forms: layer = setLearnRateFactor(layer, parameterName, factor)
    fc = fullyConnectedLayer(2)
    fc2 = setL2Factor(setLearnRateFactor(fc, "Bias", 4), "Weights", 0.25)
    assert (getLearnRateFactor(fc2, "Bias"), getL2Factor(fc2, "Weights")) == (4.0, 0.25)
    assert (getLearnRateFactor(fc, "Bias"), getL2Factor(fc, "Weights")) == (1.0, 1.0)
    # the updaters honour a factor set this way: 0 freezes bn/Offset
    X = dlarray(np.random.randn(3, 8).astype(np.float32), "CB")

    def modelLoss(net, X):
        loss = np.sum(forward(net, X) ** 2)
        return loss, dlgradient(loss, net.Learnables)

    _, g = dlfeval(modelLoss, new, X)
    from dlteach.updaters import sgdmupdate
    stepped, _ = sgdmupdate(new, g, None, 0.1, 0)
    before, after = new.Learnables.Value, stepped.Learnables.Value
    np.testing.assert_array_equal(np.asarray(after[2]), np.asarray(before[2]))  # bn/Offset frozen
    np.testing.assert_allclose(np.asarray(after[0]), np.asarray(before[0]) - 0.2 * np.asarray(g.Value[0]), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(after[1]), np.asarray(before[1]) - 0.1 * np.asarray(g.Value[1]), rtol=1e-6)


def test_factor_functions_name_the_mistake():
    np.random.seed(0)
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4, Name="fc")])
    with pytest.raises(NetworkError, match=r"no layer named 'fc1'.*\['input', 'fc'\]"):
        getLearnRateFactor(net, "fc1", "Weights")
    with pytest.raises(NetworkError, match=r"layer 'fc' has no learnable parameter 'Weight'.*\['Weights', 'Bias'\]"):
        setL2Factor(net, "fc", "Weight", 1)
    with pytest.raises(ArgumentError, match=r"setLearnRateFactor: factor must be a non-negative number; got the int -1"):
        setLearnRateFactor(net, "fc", "Weights", -1)
    with pytest.raises(ArgumentError, match=r"parameterPath must be a string 'layerName/parameterName'"):
        getL2Factor(net, "fc")
    with pytest.raises(NetworkError, match=r"getLearnRateFactor takes \(net, layerName, parameterName\)"):
        getLearnRateFactor(net)
    with pytest.raises(ArgumentError, match=r"the first argument must be a dlnetwork or a layer"):
        getLearnRateFactor(net.Learnables, "fc", "Weights")
    with pytest.raises(NetworkError, match=r"with_learnables.*dlnetwork"):
        with_learnables(net.Learnables, net.Learnables)
    wrong = net.Learnables
    wrong.Value = [np.zeros((2, 3), np.float32), wrong.Value[1]]
    with pytest.raises(NetworkError, match=r"fc/Weights has size 2x3 but the network needs 4x3"):
        with_learnables(net, wrong)


# -------------------------------------------------------------------------------------------------
# training

def _bars(n, rng):
    """8x8 images: class 0 has a bright horizontal bar, class 1 a vertical one, plus noise."""
    X = rng.normal(0, 0.3, size=(8, 8, 1, n)).astype(np.float32)
    labels = rng.integers(0, 2, n)
    pos = rng.integers(1, 7, n)
    for i in range(n):
        if labels[i] == 0:
            X[pos[i], :, 0, i] += 1.0
        else:
            X[:, pos[i], 0, i] += 1.0
    return X, labels, np.eye(2, dtype=np.float32)[:, labels]


def test_training_the_seed_network_reduces_the_loss():
    rng = np.random.default_rng(0)
    np.random.seed(0)
    X, labels, T = _bars(256, rng)
    net = dlnetwork([imageInputLayer([8, 8, 1], Normalization="none"), convolution2dLayer(3, 6),
                     batchNormalizationLayer(), reluLayer(), maxPooling2dLayer(2, Stride=2),
                     fullyConnectedLayer(2), softmaxLayer()])

    def modelLoss(net, X, T):
        Y, state = forward(net, X, return_state=True)
        loss = xent(Y, T)
        return loss, dlgradient(loss, net.Learnables), state

    losses = []
    for _epoch in range(6):
        for i in range(0, 256, 32):
            Xb = dlarray(X[..., i:i + 32], "SSCB")
            loss, grads, state = dlfeval(modelLoss, net, Xb, T[:, i:i + 32])
            net.State = state
            net = sgd(net, grads, 0.2)
            losses.append(float(loss))
    assert np.mean(losses[:4]) > 0.5 and np.mean(losses[-8:]) < 0.5 * np.mean(losses[:4])
    Xt, lt, _ = _bars(200, rng)
    acc = np.mean(np.argmax(np.asarray(predict(net, Xt)), axis=0) == lt)
    assert acc > 0.9
    assert all(v.dtype == np.float32 for v in net.Learnables.Value + net.State.Value)


# -------------------------------------------------------------------------------------------------
# analyzeNetwork

def test_analyze_network_counts_and_sizes():
    net = seed_cnn()
    a = analyzeNetwork(net)
    assert [r["Name"] for r in a.rows] == [lay.Name for lay in net.Layers]
    assert a.TotalLearnables == sum(v.size for v in net.Learnables.Value) == 5 * 5 * 20 + 20 + 40 + 10 * 2880 + 10
    by = {r["Name"]: r for r in a.rows}
    assert by["conv"]["Activations"] == "24(S) x 24(S) x 20(C) x 1(B)"
    assert by["maxpool"]["Activations"] == "12(S) x 12(S) x 20(C) x 1(B)"
    assert by["fc"]["NumLearnables"] == 28810 and by["fc"]["Activations"] == "10(C) x 1(B)"
    assert "Total learnables: 29,370" in repr(a)
    assert "<table" in a._repr_html_() and "2-D Convolution" in a._repr_html_()
    a2 = analyzeNetwork(net, dlarray(np.zeros((28, 28, 1, 64), np.float32), "SSCB"))
    assert a2.rows[1]["Activations"].endswith("64(B)")
    # uninitialized networks can be analyzed and are not initialized by it
    un = dlnetwork([featureInputLayer(4), fullyConnectedLayer(3)], Initialize=False)
    assert analyzeNetwork(un).TotalLearnables == 15 and not un.Initialized


def test_tree_mismatch_between_networks_is_named():
    a = bn_mlp(hidden=4)
    b = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4), reluLayer(), fullyConnectedLayer(2), softmaxLayer()])
    with pytest.raises(StructureMismatchError,
                       match=r"differ at layer 2: batchnorm \(batchNormalizationLayer\) vs relu \(reluLayer\)"):
        tree_map(lambda x, y: x, a, b)
    g = tree_map(lambda x: 2 * x, a)  # a new network, every learnable and state value mapped
    assert isinstance(g, dlnetwork) and g is not a
    assert g.Learnables.keys() == a.Learnables.keys() and g.State.keys() == a.State.keys()
    for new, old in zip(g.Learnables.Value + g.State.Value, a.Learnables.Value + a.State.Value):
        np.testing.assert_array_equal(extractdata(new), 2 * extractdata(old))


def test_each_network_runs_its_own_layers_with_the_shared_plan():
    """forward calls a layer's forward_function directly (plan cached per network family): a derived network
    whose layers differ (replaceLayer, a subclass with its own _forward) must run its own layers, and the
    original network still runs its own, checked against NumPy."""
    from dlteach.layers import FullyConnectedLayer, tanhLayer
    from dlteach.network import replaceLayer

    class DoubledFC(FullyConnectedLayer):  # a layer type with its own _forward: no direct call
        def _forward(self, X, p, training):
            Y, _ = super()._forward(X, p, training)
            return Y * 2, None

    np.random.seed(3)
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4, Name="fc1"), reluLayer(Name="act"),
                     fullyConnectedLayer(2, Name="fc2")])
    x = np.random.randn(3, 5).astype(np.float32)
    X = dlarray(x, "CB")
    W1, b1, W2, b2 = (np.asarray(v) for v in net.Learnables.Value)
    relu_ref = W2 @ np.maximum(W1 @ x + b1, 0) + b2
    np.testing.assert_allclose(extractdata(forward(net, X)), relu_ref, rtol=1e-5, atol=1e-6)
    tanh_net = initialize(replaceLayer(net, "act", tanhLayer(Name="act")))  # keeps fc1 / fc2's values
    np.testing.assert_allclose(extractdata(forward(tanh_net, X)), W2 @ np.tanh(W1 @ x + b1) + b2, rtol=1e-5,
                               atol=1e-6)
    doubled = fullyConnectedLayer(2, Name="fc2", Weights=W2, Bias=b2)
    doubled.__class__ = DoubledFC
    dnet = initialize(replaceLayer(net, "fc2", doubled))
    np.testing.assert_allclose(extractdata(predict(dnet, X)), 2 * relu_ref, rtol=1e-5, atol=1e-6)
    # the first network is unchanged, traced or not
    np.testing.assert_allclose(extractdata(predict(net, X)), relu_ref, rtol=1e-5, atol=1e-6)
    # a chain runs without keeping activations (Outputs= takes the general path: same values), State 0 rows
    np.testing.assert_array_equal(extractdata(forward(net, X, Outputs="fc2")), extractdata(forward(net, X)))
    Y, state = forward(net, X, return_state=True)
    np.testing.assert_array_equal(extractdata(Y), extractdata(forward(net, X)))
    assert isinstance(state, Table) and state.height == 0
    loss, g = dlfeval(lambda n: (lambda s: (s, dlgradient(s, n.Learnables)))(forward(n, X).sum()), net)
    np.testing.assert_allclose(float(extractdata(loss)), relu_ref.sum(), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(g.Value[3]), np.full((2, 1), 5.0), rtol=1e-6)  # d sum / d b2 = N


def test_input_checks_hold_for_traced_and_numpy_inputs():
    """The input layer's fast path (a dlarray in its format and size) leaves every other input to the checks."""
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(2)])
    x = np.ones((3, 4), np.float32)
    ref = extractdata(predict(net, dlarray(x, "CB")))
    np.testing.assert_array_equal(extractdata(predict(net, x)), ref)  # NumPy: read as "CB"
    with pytest.raises(NetworkError, match=r"expects 3 per observation.*4x4"):
        predict(net, dlarray(np.ones((4, 4), np.float32), "CB"))
    with pytest.raises(NetworkError, match=r"expects CB data.*'SSCB'"):
        predict(net, dlarray(np.ones((1, 3, 1, 4), np.float32), "SSCB"))
    with pytest.raises(NetworkError, match=r"expects 3 per observation"):
        dlfeval(lambda X: forward(net, X), dlarray(np.ones((2, 4), np.float32), "CB"))
    Y = dlfeval(lambda X: forward(net, X), dlarray(x, "CB"))
    np.testing.assert_array_equal(extractdata(Y), ref)
