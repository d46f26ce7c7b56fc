"""dlteach.debug: gradient check against independent finite differences, inspectors, diagnosis, widgets."""


import numpy as np
import pytest

from dlteach import (
    adamupdate,
    batchNormalizationLayer,
    convolution2dLayer,
    crossentropy,
    dims,
    dlarray,
    dlfeval,
    dlgradient,
    dlnetwork,
    dropoutLayer,
    extractdata,
    featureInputLayer,
    forward,
    fullyconnect,
    fullyConnectedLayer,
    imageInputLayer,
    load_digits,
    make_moons,
    maxPooling2dLayer,
    recordMetrics,
    relu,
    reluLayer,
    softmax,
    softmaxLayer,
    trainingProgressMonitor,
)
from dlteach.debug import (
    ActivationReport,
    DebugError,
    Diagnosis,
    GradientCheckReport,
    GradientCheckWarning,
    GradientNormTracker,
    diagnose,
    gradient_check,
    gradient_norms,
    inspect_activations,
)
from dlteach.formats import value_of

# ----------------------------------------------------------------------------------------- fixtures


def _cnn(seed=0):
    np.random.seed(seed)
    return dlnetwork([
        imageInputLayer([12, 12, 1], Normalization="none"),
        convolution2dLayer(3, 3, Name="conv"),
        batchNormalizationLayer(Name="bn"),
        reluLayer(Name="relu"),
        maxPooling2dLayer(2, Stride=2, Name="pool"),
        fullyConnectedLayer(10, Name="fc"),
        softmaxLayer(Name="sm"),
    ])


def _digits(n=8):
    X, _labels, T = load_digits("train")
    X = X[8:20, 8:20, :, :n]  # 12 x 12 crops keep the check fast
    return dlarray(X, "SSCB"), dlarray(T[:, :n], "CB")


def net_loss(net, X, T):
    Y, state = forward(net, X, return_state=True)
    loss = crossentropy(Y, T)
    return loss, dlgradient(loss, net.Learnables), state


def _params(seed=0, hidden=6):
    rng = np.random.default_rng(seed)
    return {
        "fc1": {"Weights": dlarray((rng.standard_normal((hidden, 2)) * 0.8).astype(np.float32)),
                "Bias": dlarray((rng.standard_normal((hidden, 1)) * 0.1).astype(np.float32))},
        "fc2": {"Weights": dlarray((rng.standard_normal((2, hidden)) * 0.5).astype(np.float32)),
                "Bias": dlarray(np.zeros((2, 1), np.float32))},
    }


def _model(p, X):
    H = relu(fullyconnect(X, p["fc1"]["Weights"], p["fc1"]["Bias"]))
    return softmax(fullyconnect(H, p["fc2"]["Weights"], p["fc2"]["Bias"]))


def mlp_loss(p, X, T):
    loss = crossentropy(_model(p, X), T)
    return loss, dlgradient(loss, p)


def _moons(n=32):
    X, _labels, T = make_moons(n, seed=1)
    return dlarray(X, "CB"), dlarray(T, "CB")


def _np_loss(p, X, T):
    """Independent float64 NumPy version of mlp_loss's loss."""
    W1, b1, W2, b2 = p
    H = np.maximum(W1 @ X + b1, 0)
    Z = W2 @ H + b2
    Z = Z - Z.max(axis=0, keepdims=True)
    P = np.exp(Z) / np.exp(Z).sum(axis=0, keepdims=True)
    return -np.sum(T * np.log(P)) / X.shape[1]


def _np_grads(p, X, T):
    """Hand-derived backpropagation for _np_loss."""
    W1, b1, W2, b2 = p
    A = W1 @ X + b1
    H = np.maximum(A, 0)
    Z = W2 @ H + b2
    Z = Z - Z.max(axis=0, keepdims=True)
    P = np.exp(Z) / np.exp(Z).sum(axis=0, keepdims=True)
    dZ = (P - T) / X.shape[1]
    dH = W2.T @ dZ * (A > 0)
    return [dH @ X.T, dH.sum(axis=1, keepdims=True), dZ @ H.T, dZ.sum(axis=1, keepdims=True)]


_ORDER = ["fc1.Weights", "fc1.Bias", "fc2.Weights", "fc2.Bias"]


def _np_params(params):
    return [extractdata(params[k.split(".")[0]][k.split(".")[1]]).astype(np.float64) for k in _ORDER]


# ----------------------------------------------------------------------------------------- gradient check


def test_gradient_check_passes_for_correct_network_loss():
    net = _cnn()
    X, T = _digits()
    report = gradient_check(net_loss, net, X, T, num_checks=6)
    assert isinstance(report, GradientCheckReport)
    assert report.passed, str(report)
    assert [r["name"] for r in report.rows] == [f"{a}/{b}" for a, b in zip(net.Learnables.Layer,
                                                                             net.Learnables.Parameter)]
    assert report["fc/Weights"]["Layer"] == "fc" and report["fc/Weights"]["Parameter"] == "Weights"
    assert report["conv/Bias"]["entries_checked"] == 3  # fewer entries than num_checks: all of them
    assert report["fc/Weights"]["entries_checked"] == 6
    assert "PASSED" in str(report) and "PASSED" in report._repr_html_()
    # conv bias before batch norm has a zero gradient: passes by the absolute-error rule
    assert report["conv/Bias"]["max_abs_error"] < 1e-9


def test_gradient_check_dict_style_matches_independent_finite_differences():
    params = _params()
    X, T = _moons()
    report = gradient_check(mlp_loss, params, X, T, num_checks=5, seed=3)
    assert report.passed, str(report)
    assert [r["name"] for r in report.rows] == _ORDER
    assert all(r["Layer"] is None for r in report.rows)
    p = _np_params(params)
    Xn, Tn = extractdata(X).astype(np.float64), extractdata(T).astype(np.float64)
    grads = _np_grads(p, Xn, Tn)
    eps = 1e-6
    for j, name in enumerate(_ORDER):
        row = report[name]
        assert row["entries_checked"] == min(5, p[j].size)
        for idx, a, n in zip(row["indices"], row["analytical"], row["numerical"]):
            plus = [q.copy() for q in p]
            minus = [q.copy() for q in p]
            plus[j].flat[idx] += eps
            minus[j].flat[idx] -= eps
            fd = (_np_loss(plus, Xn, Tn) - _np_loss(minus, Xn, Tn)) / (2 * eps)
            assert n == pytest.approx(fd, rel=1e-6, abs=1e-9)
            assert a == pytest.approx(grads[j].flat[idx], rel=1e-9, abs=1e-12)


def test_gradient_check_catches_a_cut_trace_and_names_the_learnables():
    def cut_loss(p, X, T):
        H = relu(fullyconnect(X, p["fc1"]["Weights"], p["fc1"]["Bias"]))
        H = dlarray(extractdata(H), dims(H))  # the classic bug: the trace to fc1 is cut here
        Y = softmax(fullyconnect(H, p["fc2"]["Weights"], p["fc2"]["Bias"]))
        loss = crossentropy(Y, T)
        return loss, dlgradient(loss, p)

    X, T = _moons()
    report = gradient_check(cut_loss, _params(), X, T)
    assert not report.passed
    assert report.failed == ["fc1.Weights", "fc1.Bias"]
    assert report["fc2.Weights"]["passed"] and report["fc2.Bias"]["passed"]
    assert "all zero" in report["fc1.Weights"]["note"]
    text = str(report)
    assert "FAILED" in text and "fc1.Weights" in text and "extractdata" in text
    assert "fc1.Weights" in report._repr_html_()


def test_gradient_check_catches_gradient_of_another_loss():
    def wrong_variable(p, X, T):
        data_loss = crossentropy(_model(p, X), T)
        loss = data_loss + 0.01 * np.sum(p["fc2"]["Weights"] ** 2)  # returned loss has weight decay...
        return loss, dlgradient(data_loss, p)  # ...but the gradients are of the data loss only

    X, T = _moons()
    report = gradient_check(wrong_variable, _params(), X, T)
    assert report.failed == ["fc2.Weights"]
    row = report["fc2.Weights"]
    assert row["note"] == "analytical and numerical gradients differ"
    W2 = _np_params(_params())[2]
    # the difference is exactly the weight-decay gradient 0.02 W2
    np.testing.assert_allclose(row["numerical"] - row["analytical"], 0.02 * W2.ravel()[row["indices"]],
                               rtol=1e-5, atol=1e-9)


def test_gradient_check_catches_a_hand_made_wrong_network_gradient():
    def scaled(net, X, T):
        loss, g, state = net_loss(net, X, T)
        g.Value[g.keys().index(("fc", "Bias"))] = g.value("fc", "Bias") * 1.01
        return loss, g, state

    X, T = _digits(4)
    report = gradient_check(scaled, _cnn(), X, T, num_checks=3)
    assert report.failed == ["fc/Bias"]
    assert report["fc/Bias"]["max_rel_error"] == pytest.approx(0.01 / 2.01, rel=1e-3)


def test_gradient_check_float32_model_checked_in_float64_and_not_modified():
    params = _params()
    before = {k: extractdata(params[k.split(".")[0]][k.split(".")[1]]) for k in _ORDER}
    X, T = _moons()
    seen = []

    def spy(p, X, T):
        seen.append((value_of(p["fc1"]["Weights"]).dtype, extractdata(X).dtype))
        return mlp_loss(p, X, T)

    report = gradient_check(spy, params, X, T, num_checks=2)
    assert report.passed
    assert {(str(np.dtype(a)), str(b)) for a, b in seen} == {("float64", "float64")}
    for k in _ORDER:
        v = params[k.split(".")[0]][k.split(".")[1]]
        assert extractdata(v).dtype == np.float32
        np.testing.assert_array_equal(extractdata(v), before[k])
    assert extractdata(X).dtype == np.float32
    # a float32 check could not reach this precision: the FD error would be ~1e-2
    assert max(r["max_abs_error"] for r in report.rows) < 1e-8

    net = _cnn()
    lv = [extractdata(v) for v in net.Learnables.Value]
    calls = net._family.forward_calls
    Xd, Td = _digits(4)
    gradient_check(net_loss, net, Xd, Td, num_checks=1)
    assert all(extractdata(v).dtype == np.float32 for v in net.Learnables.Value)
    for a, b in zip(lv, net.Learnables.Value):
        np.testing.assert_array_equal(a, extractdata(b))
    assert net._family.forward_calls == calls


def test_gradient_check_warns_for_randomness_and_float32_inside_loss():
    net = dlnetwork([featureInputLayer(2), fullyConnectedLayer(4), dropoutLayer(0.5), fullyConnectedLayer(2),
                     softmaxLayer()])
    X, T = _moons(16)
    with pytest.warns(GradientCheckWarning, match="dropout"):
        gradient_check(net_loss, net, X, T, num_checks=1)

    def float32_inside(p, X, T):
        loss = crossentropy(_model(p, X), T) * np.float32(1.0)
        return loss, dlgradient(loss, p)

    with pytest.warns(GradientCheckWarning, match="float32"):
        report = gradient_check(float32_inside, _params(), X, T, num_checks=1)
    assert any("float32" in n for n in report.notes)


def test_gradient_check_bad_lossfcn_output_is_explained():
    X, T = _moons(8)
    with pytest.raises(DebugError, match="return loss, gradients"):
        gradient_check(lambda p, X, T: crossentropy(_model(p, X), T), _params(), X, T)
    with pytest.raises(DebugError, match="model loss function"):
        gradient_check(_params(), _params(), X, T)


# ----------------------------------------------------------------------------------------- activations


def test_inspect_activations_stats_match_forward_outputs():
    net = _cnn()
    X, _T = _digits(6)
    report = inspect_activations(net, X)
    assert isinstance(report, ActivationReport)
    names = [lay.Name for lay in net.Layers]
    assert list(report.stats) == names
    outs = forward(net, X, Outputs=names)
    for name, Y in zip(names, outs):
        y = extractdata(Y).astype(np.float64)
        s = report.stats[name]
        assert s["size"] == y.shape
        assert s["mean"] == pytest.approx(y.mean(), rel=1e-9, abs=1e-12)
        assert s["std"] == pytest.approx(y.std(), rel=1e-9, abs=1e-12)
        assert (s["min"], s["max"]) == (y.min(), y.max())
        counts, edges = np.histogram(y, bins=30)
        np.testing.assert_array_equal(s["hist_counts"], counts)
        np.testing.assert_allclose(s["hist_edges"], edges)
    for name in ("relu", "pool"):  # ReLU and the max pooling after it
        y = extractdata(outs[names.index(name)])
        assert report.stats[name]["zero_fraction"] == pytest.approx(np.mean(y == 0))
        assert report.dead_fraction(name) == pytest.approx(np.mean(np.all(y == 0, axis=3)))
    for name in ("conv", "bn", "fc", "sm"):
        assert report.stats[name]["dead_fraction"] is None
    only = inspect_activations(net, X, layers=["relu"])
    assert list(only.stats) == ["relu"]
    with pytest.raises(KeyError, match="available"):
        report.dead_fraction("nope")


def test_dead_relu_fraction_with_very_negative_bias():
    net = dlnetwork([featureInputLayer(2), fullyConnectedLayer(8, Name="fc1"), reluLayer(Name="relu1"),
                     fullyConnectedLayer(2, Name="fc2"), softmaxLayer()])
    t = net.Learnables
    b = extractdata(t.value("fc1", "Bias")).copy()
    b[:3] = -1e3  # units 0..2 can never fire on the moons data (|x| < 3, weights ~ 1)
    b[3:] = 5.0  # the others always fire
    t.Value[t.keys().index(("fc1", "Bias"))] = dlarray(b)
    net.Learnables = t
    X, _T = _moons(64)
    report = inspect_activations(net, X)
    assert report.dead_fraction("relu1") == pytest.approx(3 / 8)
    assert report.stats["relu1"]["dead_fraction"] == pytest.approx(3 / 8)
    assert "dead 37.5%" in str(report)


def test_inspect_activations_model_function_dict():
    X, _T = _moons(20)
    p = _params()
    A = fullyconnect(X, p["fc1"]["Weights"], p["fc1"]["Bias"])
    H = relu(A)
    report = inspect_activations({"fc1": A, "relu1": H})
    h = extractdata(H)
    assert report.stats["fc1"]["dead_fraction"] is None
    assert report.dead_fraction("relu1") == pytest.approx(np.mean(np.all(h == 0, axis=1)))
    assert report.stats["relu1"]["mean"] == pytest.approx(h.astype(np.float64).mean())
    with pytest.raises(DebugError, match="dict"):
        inspect_activations(42)


# ----------------------------------------------------------------------------------------- gradient norms


def test_gradient_norms_match_numpy():
    net = _cnn()
    X, T = _digits(4)
    _loss, g, _state = dlfeval(net_loss, net, X, T)
    norms = gradient_norms(g)
    assert list(norms) == [f"{a}/{b}" for a, b in zip(g.Layer, g.Parameter)]
    for (lay, par, v) in g:
        assert norms[f"{lay}/{par}"] == pytest.approx(np.linalg.norm(extractdata(v).astype(np.float64).ravel()))
    gd = {"a": {"W": np.arange(6.0).reshape(2, 3)}, "b": [np.array([3.0, 4.0])]}
    assert gradient_norms(gd) == {"a.W": pytest.approx(np.linalg.norm(np.arange(6.0))), "b.0": 5.0}


def test_gradient_norm_tracker_history_and_plot():
    tr = GradientNormTracker()
    tr.record(1, {"w": np.array([3.0, 4.0])})
    tr.record(2, {"w": np.array([0.0, 1.0]), "v": np.array([2.0])})
    h = tr.history
    np.testing.assert_array_equal(h["w"], [[1, 5], [2, 1]])
    np.testing.assert_array_equal(h["v"][:, 0], [1, 2])
    assert np.isnan(h["v"][0, 1]) and h["v"][1, 1] == 2
    fig = tr.plot()
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == ["w", "v"]
    assert ax.get_legend() is not None


# ----------------------------------------------------------------------------------------- diagnose


def _train(lr, iters=40, seed=0):
    """Small MLP on make_moons with adamupdate; returns losses, last gradients, tracker, last Y."""
    p = _params(seed, hidden=8)
    X, T = _moons(128)
    tracker = GradientNormTracker()
    losses, avg, avg_sq = [], None, None

    def step(p, X, T):
        Y = _model(p, X)
        loss = crossentropy(Y, T)
        return loss, dlgradient(loss, p), Y

    for it in range(1, iters + 1):
        loss, g, Y = dlfeval(step, p, X, T)
        losses.append(float(extractdata(loss)))
        tracker.record(it, g)
        p, avg, avg_sq = adamupdate(p, g, avg, avg_sq, it, learnRate=lr)
    return losses, g, tracker, Y


@pytest.fixture(scope="module")
def healthy():
    return _train(0.05)


def test_diagnose_healthy_training_has_no_findings(healthy):
    losses, g, tracker, Y = healthy
    assert losses[-1] < 0.8 * losses[0]
    diag = diagnose(losses=losses, gradients=g, Y=Y, grad_norms=tracker)
    assert isinstance(diag, Diagnosis)
    assert diag.ok, str(diag)
    assert diag.findings == []
    assert "no problem" in str(diag) and "no problem" in diag._repr_html_()
    mon = trainingProgressMonitor(Metrics=["Loss"], frontend="none")
    for i, v in enumerate(losses, 1):
        recordMetrics(mon, i, Loss=v)
    assert diagnose(losses=mon).ok


def test_diagnose_nan_loss():
    diag = diagnose(losses=[2.3, 1.9, np.nan, np.nan])
    assert diag.codes == ["nan_loss"]
    assert "learning rate" in diag.findings[0][1]
    mon = trainingProgressMonitor(Metrics=["Loss"], frontend="none")
    recordMetrics(mon, 1, Loss=1.0)
    recordMetrics(mon, 2, Loss=np.inf)
    assert "nan_loss" in diagnose(losses=mon)


def test_diagnose_loss_not_falling():
    losses, *_ = _train(0.0, iters=12)  # learning rate 0: nothing changes
    diag = diagnose(losses=losses)
    assert diag.codes == ["loss_not_falling"]
    assert not diag.ok and "loss_not_falling" in str(diag)
    assert diagnose(losses=[1.0, 0.995, 0.992, 0.991]).codes == ["loss_not_falling"]  # falls < 1 %
    assert diagnose(losses=[1.0, 0.9, 0.8, 0.7]).ok


def test_diagnose_loss_rising_with_a_learning_rate_far_too_large():
    losses, *_ = _train(50.0, iters=40)  # steps overshoot: the loss jumps above its start
    assert max(losses) > 1.5 * losses[0] and np.all(np.isfinite(losses))
    diag = diagnose(losses=losses)
    assert "loss_rising" in diag
    assert "learning rate" in dict(diag.findings)["loss_rising"]
    # the rule is about the smoothed curve: one noisy mini-batch does not trigger it, a sustained rise does
    assert "loss_rising" not in diagnose(losses=[1.0, 0.9, 1.6, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35])
    assert "loss_rising" in diagnose(losses=[1.0, 4.0, 5.0, 3.0, 2.5, 2.0, 1.9, 1.8])


def test_diagnose_exploding_gradients():
    diag = diagnose(gradients={"fc1": {"Weights": np.full((10, 10), 200.0)}, "fc2": {"Weights": np.ones(3)}})
    assert diag.codes == ["exploding_gradients"] and "fc1.Weights" in diag.findings[0][1]
    tr = GradientNormTracker()
    for it in range(1, 21):
        tr.record(it, {"w": np.array([1.5 ** it])})  # 1.5 .. 3300: > 1e3 at the end
    assert diagnose(grad_norms=tr).codes == ["exploding_gradients"]
    tr = GradientNormTracker()
    for it in range(1, 21):
        tr.record(it, {"w": np.array([0.01 * 1.4 ** it])})  # stays < 1e3 but grows ~800x
    d = diagnose(grad_norms=tr)
    assert d.codes == ["exploding_gradients"] and "grew" in d.findings[0][1]


def test_diagnose_vanishing_gradients():
    def cut(p, X, T):
        H = relu(fullyconnect(X, p["fc1"]["Weights"], p["fc1"]["Bias"]))
        H = dlarray(extractdata(H), dims(H))
        loss = crossentropy(softmax(fullyconnect(H, p["fc2"]["Weights"], p["fc2"]["Bias"])), T)
        return loss, dlgradient(loss, p)

    X, T = _moons(16)
    _loss, g = dlfeval(cut, _params(), X, T)
    diag = diagnose(gradients=g)
    assert diag.codes == ["vanishing_gradients"]
    msg = diag.findings[0][1]
    assert "fc1.Weights" in msg and "fc1.Bias" in msg and "fc2" not in msg
    tr = GradientNormTracker()
    for it in range(1, 9):
        tr.record(it, {"a": np.ones(2), "b": np.full(2, 1e-3 if it < 4 else 0.0)})
    d = diagnose(grad_norms=tr)
    assert d.codes == ["vanishing_gradients"] and "b" in d.findings[0][1]


def test_diagnose_probabilities(healthy):
    *_, Y = healthy
    Z = np.log(extractdata(Y)) + 1.0  # logits-like: negative, columns do not sum to 1
    diag = diagnose(Y=Z)
    assert diag.codes == ["probabilities_do_not_sum_to_one"]
    assert "softmax" in diag.findings[0][1]
    assert diagnose(Y=dlarray(extractdata(Y).T, "BC")).ok  # formatted: channel dim found via the format
    neg = np.array([[1.2, 0.5], [-0.2, 0.5]])
    assert diagnose(Y=neg).codes == ["probabilities_do_not_sum_to_one"]


def test_diagnose_several_flags_and_argument_errors():
    d = diagnose(losses=[1, 1, 1, np.nan], gradients={"w": np.zeros(3)}, Y=np.array([[2.0], [3.0]]))
    assert d.codes == ["nan_loss", "vanishing_gradients", "probabilities_do_not_sum_to_one"]
    assert len(d.findings) == 3 and "3 problem" in str(d) and "<li>" in d._repr_html_()
    with pytest.raises(DebugError, match="GradientNormTracker"):
        diagnose(grad_norms={"w": 1.0})


# ----------------------------------------------------------------------------------------- widgets


def test_widgets_construct_headless():
    import ipywidgets as W
    from matplotlib.figure import Figure

    net = _cnn()
    X, _T = _digits(4)
    report = inspect_activations(net, X)
    ui = report.widget()
    assert isinstance(ui, W.VBox)
    dd, text, img = ui.children
    assert isinstance(dd, W.Dropdown) and list(dd.options) == list(report.stats)
    first = img.value
    assert first[:4] == b"\x89PNG"
    dd.value = "relu"
    assert img.value != first and "dead ReLUs" in text.value
    fig = report.plot()
    assert isinstance(fig, Figure) and len(fig.axes) == len(report.stats)
    assert [ax.get_title().split(" ")[0] for ax in fig.axes] == list(report.stats)
    assert report.show() is not None  # no IPython kernel: the static figure

    tr = GradientNormTracker(redraw_interval=0.0)
    tr.record(1, {"w": np.ones(2)})
    live = tr.widget()
    assert isinstance(live, W.Image) and live.value[:4] == b"\x89PNG"
    before = live.value
    tr._draw_cost = 0.0
    tr.record(2, {"w": np.full(2, 3.0)})
    assert live.value != before
    assert isinstance(tr.show(), Figure)
    for w in (ui, live):
        w.close()
