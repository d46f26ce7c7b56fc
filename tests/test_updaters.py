"""Tests of dlteach.updaters (MATLAB adamupdate / rmspropupdate / sgdmupdate / dlupdate).

References are independent: hand-written float64 formulas (a loop over elements with Python floats,
not the module's vectorised code), MATLAB's documented example, and torch.optim as an oracle.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dlteach.autodiff import dlfeval, dlgradient
from dlteach.dlarray import dims, dlarray, extractdata
from dlteach.errors import DLTeachError, StructureMismatchError, UpdaterArgumentError
from dlteach.layers import featureInputLayer, fullyConnectedLayer
from dlteach.network import dlnetwork, learn_rate_factors, setLearnRateFactor
from dlteach.table import Table
from dlteach.tree import tree_leaves, tree_map
from dlteach.updaters import adamupdate, dlupdate, rmspropupdate, sgdmupdate

# ----------------------------------------------------------------------------------- references
# Element-by-element Python-float implementations of the formulas of the reference sheet (§3), written
# independently of the module (no NumPy ufuncs, no shared helpers).

def ref_adam(p, g, m, v, t, lr=0.001, b1=0.9, b2=0.999, eps=1e-8):
    p, g = np.asarray(p, np.float64), np.asarray(g, np.float64)
    m = np.zeros_like(p) if m is None else np.asarray(m, np.float64)
    v = np.zeros_like(p) if v is None else np.asarray(v, np.float64)
    P, M, V = np.empty_like(p), np.empty_like(p), np.empty_like(p)
    for i in np.ndindex(p.shape):
        mi = b1 * float(m[i]) + (1 - b1) * float(g[i])
        vi = b2 * float(v[i]) + (1 - b2) * float(g[i]) ** 2
        alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        P[i] = float(p[i]) - alpha * mi / (math.sqrt(vi) + eps)
        M[i], V[i] = mi, vi
    return P, M, V


def ref_rmsprop(p, g, v, lr=0.001, rho=0.9, eps=1e-8):
    p, g = np.asarray(p, np.float64), np.asarray(g, np.float64)
    v = np.zeros_like(p) if v is None else np.asarray(v, np.float64)
    P, V = np.empty_like(p), np.empty_like(p)
    for i in np.ndindex(p.shape):
        vi = rho * float(v[i]) + (1 - rho) * float(g[i]) ** 2
        P[i] = float(p[i]) - lr * float(g[i]) / (math.sqrt(vi) + eps)
        V[i] = vi
    return P, V


def ref_sgdm(p, g, vel, lr=0.01, mu=0.9):
    p, g = np.asarray(p, np.float64), np.asarray(g, np.float64)
    vel = np.zeros_like(p) if vel is None else np.asarray(vel, np.float64)
    P, W = np.empty_like(p), np.empty_like(p)
    for i in np.ndindex(p.shape):
        wi = mu * float(vel[i]) - lr * float(g[i])
        P[i] = float(p[i]) + wi
        W[i] = wi
    return P, W


def _arr(x):
    return extractdata(x) if isinstance(x, dlarray) else np.asarray(x)


def _snapshot(tree):
    return [np.array(_arr(x), copy=True) for x in tree_leaves(tree)]


def _assert_unchanged(tree, snap):
    for x, s in zip(tree_leaves(tree), snap):
        np.testing.assert_array_equal(_arr(x), s)


def _params64(seed=0):
    rng = np.random.default_rng(seed)
    return {"fc1": {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal((4,))},
            "out": [rng.standard_normal((2, 4)), rng.standard_normal((2, 1))]}


def _grads_like(params, rng, dtype=None):
    return tree_map(lambda p: rng.standard_normal(np.shape(_arr(p))).astype(dtype or _arr(p).dtype), params)


# ----------------------------------------------------------------------------------- MATLAB doc vector

def test_adam_matlab_doc_example_vector():
    # adamupdate doc example: params = rand(3,3,4), grad = ones, iteration 1, lr 0.05, beta1 0.75, beta2 0.95.
    rng = np.random.default_rng(1)
    p = dlarray(rng.random((3, 3, 4)))
    g = dlarray(np.ones((3, 3, 4)))
    p2, m, v = adamupdate(p, g, None, None, 1, 0.05, 0.75, 0.95)
    assert isinstance(p2, dlarray) and isinstance(m, dlarray) and isinstance(v, dlarray)
    np.testing.assert_allclose(extractdata(m), 0.25, rtol=1e-15)
    np.testing.assert_allclose(extractdata(v), 0.05, rtol=1e-14)
    decrease = extractdata(p) - extractdata(p2)
    np.testing.assert_allclose(decrease, 0.04999999776, rtol=0, atol=1e-11)
    # the textbook (PyTorch) form would give 0.0499999995: MATLAB's epsilon placement is visible here
    assert abs(decrease.mean() - 0.0499999995) > 1e-10


def test_adam_tiny_gradient_shows_epsilon_hat_form():
    # reference sheet: first step, defaults, g = 1e-6 -> MATLAB step 7.60e-4 (textbook form 9.90e-4)
    p2, _, _ = adamupdate(np.zeros(1), np.full(1, 1e-6), None, None, 1)
    assert -p2[0] == pytest.approx(7.5975e-4, rel=1e-3)


# ----------------------------------------------------------------------------------- hand formulas

def test_adam_matches_hand_formula_over_several_steps():
    rng = np.random.default_rng(2)
    params = _params64()
    m = v = None
    ref_p = tree_leaves(params)
    ref_m = [None] * 4
    ref_v = [None] * 4
    for t in range(1, 6):
        grad = _grads_like(params, rng)
        params, m, v = adamupdate(params, grad, m, v, t, 0.01, 0.8, 0.99, 1e-6)
        for k, g in enumerate(tree_leaves(grad)):
            ref_p[k], ref_m[k], ref_v[k] = ref_adam(ref_p[k], g, ref_m[k], ref_v[k], t, 0.01, 0.8, 0.99, 1e-6)
    for got, want in zip(tree_leaves(params), ref_p):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    for got, want in zip(tree_leaves(m), ref_m):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    for got, want in zip(tree_leaves(v), ref_v):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


def test_adam_defaults_and_keywords():
    rng = np.random.default_rng(3)
    p, g = rng.standard_normal(5), rng.standard_normal(5)
    want = ref_adam(p, g, None, None, 1)
    got = adamupdate(p, g, None, None, 1)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    kw = adamupdate(p, g, None, None, iteration=3, learnRate=0.1, gradDecay=0.5, sqGradDecay=0.7, epsilon=1e-3)
    pos = adamupdate(p, g, None, None, 3, 0.1, 0.5, 0.7, 1e-3)
    want = ref_adam(p, g, None, None, 3, 0.1, 0.5, 0.7, 1e-3)
    for a, b, c in zip(kw, pos, want):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-13)


def test_rmsprop_matches_hand_formula_over_several_steps():
    rng = np.random.default_rng(4)
    params = _params64(1)
    v = None
    ref_p, ref_v = tree_leaves(params), [None] * 4
    for _ in range(5):
        grad = _grads_like(params, rng)
        params, v = rmspropupdate(params, grad, v, 0.02, 0.95, 1e-5)
        for k, g in enumerate(tree_leaves(grad)):
            ref_p[k], ref_v[k] = ref_rmsprop(ref_p[k], g, ref_v[k], 0.02, 0.95, 1e-5)
    for got, want in zip(tree_leaves(params) + tree_leaves(v), ref_p + ref_v):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    # defaults lr 0.001, rho 0.9, eps 1e-8: first step of a unit gradient is lr / sqrt(0.1)
    p2, _ = rmspropupdate(np.zeros(3), np.ones(3), None)
    np.testing.assert_allclose(-p2, 0.001 / (math.sqrt(0.1) + 1e-8), rtol=1e-14)


def test_sgdm_matches_hand_formula_over_several_steps():
    rng = np.random.default_rng(5)
    params = _params64(2)
    vel = None
    ref_p, ref_w = tree_leaves(params), [None] * 4
    for _ in range(5):
        grad = _grads_like(params, rng)
        params, vel = sgdmupdate(params, grad, vel, 0.05, 0.95)
        for k, g in enumerate(tree_leaves(grad)):
            ref_p[k], ref_w[k] = ref_sgdm(ref_p[k], g, ref_w[k], 0.05, 0.95)
    for got, want in zip(tree_leaves(params) + tree_leaves(vel), ref_p + ref_w):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    # defaults lr 0.01, momentum 0.9
    p2, w = sgdmupdate(np.zeros(2), np.ones(2), np.ones(2))
    np.testing.assert_allclose(w, 0.9 - 0.01, rtol=1e-15)
    np.testing.assert_allclose(p2, 0.9 - 0.01, rtol=1e-15)


# ----------------------------------------------------------------------------------- PyTorch oracle

@pytest.mark.torch
def test_adam_equals_torch_up_to_the_epsilon_scaling():
    # MATLAB's epsilon-hat form: torch's Adam with eps = e is MATLAB's with epsilon = e*sqrt(1-beta2^t), and
    # MATLAB's with epsilon = e is torch's with eps = e/sqrt(1-beta2^t). (The reference sheet words the
    # scaling the other way round; the numbers below decide it.)
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-3  # a large eps makes the difference of forms visible
    p0 = rng.standard_normal((3, 4))
    t_a = torch.tensor(p0.copy(), requires_grad=True)  # torch with eps = e, per-step eps for MATLAB
    opt_a = torch.optim.Adam([t_a], lr=lr, betas=(b1, b2), eps=eps)
    t_b = torch.tensor(p0.copy(), requires_grad=True)  # torch with eps = e / sqrt(1-b2^t), MATLAB with e
    opt_b = torch.optim.Adam([t_b], lr=lr, betas=(b1, b2), eps=eps)
    pa, ma, va = p0, None, None
    pb, mb, vb = p0, None, None
    for t in range(1, 8):
        g = rng.standard_normal((3, 4)) * 1e-3
        pa, ma, va = adamupdate(pa, g, ma, va, t, lr, b1, b2, eps * math.sqrt(1 - b2 ** t))
        pb, mb, vb = adamupdate(pb, g, mb, vb, t, lr, b1, b2, eps)
        opt_b.param_groups[0]["eps"] = eps / math.sqrt(1 - b2 ** t)
        for tensor, o in ((t_a, opt_a), (t_b, opt_b)):
            tensor.grad = torch.tensor(g)
            o.step()
        np.testing.assert_allclose(pa, t_a.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(pb, t_b.detach().numpy(), rtol=1e-12, atol=1e-14)
        state = opt_b.state[t_b]
        np.testing.assert_allclose(mb, state["exp_avg"].numpy(), rtol=1e-13)  # uncorrected moments
        np.testing.assert_allclose(vb, state["exp_avg_sq"].numpy(), rtol=1e-13)
    # with the same epsilon the two are different algorithms
    assert np.max(np.abs(pb - t_a.detach().numpy())) > 1e-3


@pytest.mark.torch
def test_rmsprop_equals_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    lr, rho, eps = 0.01, 0.95, 1e-6
    p0 = rng.standard_normal(6)
    tp = torch.tensor(p0.copy(), requires_grad=True)
    opt = torch.optim.RMSprop([tp], lr=lr, alpha=rho, eps=eps)
    p, v = p0, None
    for _ in range(6):
        g = rng.standard_normal(6)
        p, v = rmspropupdate(p, g, v, lr, rho, eps)
        tp.grad = torch.tensor(g)
        opt.step()
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(v, opt.state[tp]["square_avg"].numpy(), rtol=1e-13)


@pytest.mark.torch
def test_sgdm_equals_torch_with_velocity_minus_lr_times_buffer():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    lr, mu = 0.05, 0.9
    p0 = rng.standard_normal((2, 3))
    tp = torch.tensor(p0.copy(), requires_grad=True)
    opt = torch.optim.SGD([tp], lr=lr, momentum=mu)
    p, vel = p0, None
    for _ in range(6):
        g = rng.standard_normal((2, 3))
        p, vel = sgdmupdate(p, g, vel, lr, mu)
        tp.grad = torch.tensor(g)
        opt.step()
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(vel, -lr * opt.state[tp]["momentum_buffer"].numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------------- dtypes, kinds, no mutation

@pytest.mark.parametrize("which", ["adam", "rmsprop", "sgdm"])
def test_float32_stays_float32_with_float64_gradients_and_state(which):
    rng = np.random.default_rng(9)
    p = {"W": dlarray(rng.standard_normal((3, 5)).astype(np.float32), "CB"),
         "b": rng.standard_normal(3).astype(np.float32)}
    g = {"W": dlarray(rng.standard_normal((3, 5)), "CB"), "b": rng.standard_normal(3)}  # float64 gradients
    run = {"adam": lambda p, g, s: adamupdate(p, g, *(s or (None, None)), 2),
           "rmsprop": lambda p, g, s: rmspropupdate(p, g, *(s or (None,))),
           "sgdm": lambda p, g, s: sgdmupdate(p, g, *(s or (None,)))}[which]
    out = run(p, g, None)
    state64 = tuple(tree_map(lambda x: _arr(x).astype(np.float64), s) for s in out[1:])
    out2 = run(out[0], g, state64)  # a float64 state must not upcast either
    for res in (out, out2):
        for container in res:
            assert isinstance(container["W"], dlarray) and container["W"].fmt == "CB"
            assert isinstance(container["b"], np.ndarray)
            for leaf in tree_leaves(container):
                assert _arr(leaf).dtype == np.float32


def test_float64_parameters_stay_float64_and_scalars_keep_their_kind():
    p = {"a": np.float32(1.5), "b": 2.0, "c": np.ones(2)}
    g = {"a": 1.0, "b": 1.0, "c": np.ones(2, np.float32)}
    p2, vel = sgdmupdate(p, g, None, 0.5, 0.0)
    assert type(p2["a"]) is np.float32 and p2["a"] == np.float32(1.0)
    assert type(p2["b"]) is float and p2["b"] == 1.5
    assert p2["c"].dtype == np.float64
    np.testing.assert_array_equal(p2["c"], 0.5)
    assert type(vel["a"]) is np.float32 and type(vel["b"]) is float


@pytest.mark.parametrize("which", ["adam", "rmsprop", "sgdm"])
def test_inputs_are_not_modified(which):
    rng = np.random.default_rng(10)
    p = {"W": dlarray(rng.standard_normal((3, 2)).astype(np.float32)), "b": [rng.standard_normal(2).astype(np.float32)]}
    g = _grads_like(p, rng)
    s = _grads_like(p, rng)
    s2 = tree_map(lambda x: np.abs(_arr(x)), p)
    args = {"adam": (s, s2, 3), "rmsprop": (s2,), "sgdm": (s,)}[which]
    fun = {"adam": adamupdate, "rmsprop": rmspropupdate, "sgdm": sgdmupdate}[which]
    snaps = [_snapshot(x) for x in (p, g, *args[:2])]
    out = fun(p, g, *args)
    for x, snap in zip((p, g, *args[:2]), snaps):
        _assert_unchanged(x, snap)
    # outputs are fresh arrays, not views of the inputs
    for a in tree_leaves(out[0]) + tree_leaves(out[1]):
        for b in tree_leaves((p, g, *args[:2])):
            assert not np.shares_memory(_arr(a), _arr(b))


def _nested(leaf):
    keys = st.text("abcdefgh", min_size=1, max_size=3)
    return st.recursive(leaf, lambda children: st.one_of(st.lists(children, min_size=1, max_size=3),
                                                         st.dictionaries(keys, children, min_size=1, max_size=3)),
                        max_leaves=6)


_float32_arrays = hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
                             elements=st.floats(-10, 10, width=32))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=_nested(_float32_arrays), seed=st.integers(0, 2 ** 16), which=st.sampled_from(["adam", "rmsprop", "sgdm"]))
def test_property_structure_shapes_dtypes_values_and_no_mutation(params, seed, which):
    rng = np.random.default_rng(seed)
    grad = tree_map(lambda p: rng.standard_normal(p.shape).astype(np.float32), params)
    snaps = (_snapshot(params), _snapshot(grad))
    if which == "adam":
        out = adamupdate(params, grad, None, None, 1)
        out = adamupdate(out[0], grad, out[1], out[2], 2)
    elif which == "rmsprop":
        out = rmspropupdate(params, grad, None)
        out = rmspropupdate(out[0], grad, out[1])
    else:
        out = sgdmupdate(params, grad, None)
        out = sgdmupdate(out[0], grad, out[1])
    _assert_unchanged(params, snaps[0])
    _assert_unchanged(grad, snaps[1])
    for container in out:
        # same structure (tree_map raises otherwise), same shapes and float32
        tree_map(lambda a, b: (a.shape == b.shape and b.dtype == np.float32) or pytest.fail("shape/dtype"),
                 params, container)
    # values: two steps of the float64 reference on the same float32 inputs
    for k, (p, g) in enumerate(zip(tree_leaves(params), tree_leaves(grad))):
        if which == "adam":
            r = ref_adam(p, g, None, None, 1)
            want = ref_adam(r[0].astype(np.float32), g, r[1], r[2], 2)[0]
        elif which == "rmsprop":
            r = ref_rmsprop(p, g, None)
            want = ref_rmsprop(r[0].astype(np.float32), g, r[1])[0]
        else:
            r = ref_sgdm(p, g, None)
            want = ref_sgdm(r[0].astype(np.float32), g, r[1])[0]
        np.testing.assert_allclose(tree_leaves(out[0])[k], want, rtol=1e-6, atol=3e-6)


def test_learning_rate_zero_skips_parameter_and_keeps_state():
    p = {"w": np.ones(3, np.float32)}
    g = {"w": np.ones(3, np.float32)}
    m = {"w": np.full(3, 0.5, np.float32)}
    v = {"w": np.full(3, 0.25, np.float32)}
    p2, m2, v2 = adamupdate(p, g, m, v, 4, 0.0)
    assert p2["w"] is p["w"] and m2["w"] is m["w"] and v2["w"] is v["w"]
    p3, vel = sgdmupdate(p, g, None, 0.0)
    assert p3["w"] is p["w"]
    np.testing.assert_array_equal(vel["w"], 0.0)
    assert vel["w"].dtype == np.float32


# ----------------------------------------------------------------------------------- Table and dlnetwork

def _table(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return Table(["fc1", "fc1", "fc2"], ["Weights", "Bias", "Weights"],
                 [dlarray(rng.standard_normal((4, 3)).astype(dtype)), dlarray(rng.standard_normal((4, 1)).astype(dtype)),
                  dlarray(rng.standard_normal((2, 4)).astype(dtype))])


def _table_like(t, rng):
    return Table(list(t.Layer), list(t.Parameter), [dlarray(rng.standard_normal(v.shape).astype(np.float32)) for v in t.Value])


def _network(factors, seed=0):
    """A real dlnetwork fc1 (4x3, 4x1) -> fc2 (2x4, 2x1) whose learn-rate factors are set row by row."""
    np.random.seed(seed)
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(4, Name="fc1"), fullyConnectedLayer(2, Name="fc2")])
    for (layer, param), f in zip(net.Learnables.keys(), factors):
        net = setLearnRateFactor(net, layer, param, f)
    assert learn_rate_factors(net) == list(factors)
    return net


def test_table_syntax_returns_table_and_ignores_learn_rate_factors():
    rng = np.random.default_rng(11)
    net = _network([1.0, 2.0, 0.0, 1.0])
    t = net.Learnables
    g = _table_like(t, rng)
    t2, m, v = adamupdate(net.Learnables, g, None, None, 1, 0.01)
    assert isinstance(t2, Table) and isinstance(m, Table) and isinstance(v, Table)
    for out in (t2, m, v):
        assert list(out.Layer) == ["fc1", "fc1", "fc2", "fc2"]
        assert list(out.Parameter) == ["Weights", "Bias", "Weights", "Bias"]
    for p, gg, new in zip(t.Value, g.Value, t2.Value):  # global lr on every row, even the factor-0 one
        np.testing.assert_allclose(extractdata(new), ref_adam(extractdata(p), extractdata(gg), None, None, 1, 0.01)[0],
                                   rtol=1e-6, atol=1e-7)
        assert extractdata(new).dtype == np.float32


def test_network_syntax_applies_learn_rate_factors_and_returns_new_network():
    rng = np.random.default_rng(12)
    net = _network([1.0, 2.0, 0.0, 1.0])
    t = net.Learnables
    before = _snapshot(net.Learnables)
    g1, g2 = _table_like(t, rng), _table_like(t, rng)
    net2, vel = sgdmupdate(net, g1, None, 0.1, 0.9)
    net3, vel2 = sgdmupdate(net2, g2, vel, 0.1, 0.9)
    assert isinstance(net3, dlnetwork) and isinstance(vel2, Table)
    assert learn_rate_factors(net3) == [1.0, 2.0, 0.0, 1.0]  # the factors stay with the new network
    _assert_unchanged(net.Learnables, before)  # the original network is untouched
    for k, factor in enumerate([1.0, 2.0, 0.0, 1.0]):
        p0 = extractdata(t.Value[k])
        if factor == 0.0:  # skipped entirely: parameter unchanged, state zeros (was None) and then untouched
            assert net3.Learnables.Value[k] is net.Learnables.Value[k]
            np.testing.assert_array_equal(extractdata(vel2.Value[k]), 0.0)
            continue
        lr = 0.1 * factor
        r = ref_sgdm(p0, extractdata(g1.Value[k]), None, lr, 0.9)
        r = ref_sgdm(r[0], extractdata(g2.Value[k]), r[1], lr, 0.9)
        np.testing.assert_allclose(extractdata(net3.Learnables.Value[k]), r[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(extractdata(vel2.Value[k]), r[1], rtol=1e-5, atol=1e-6)


def test_network_syntax_adam_factor_zero_keeps_given_state_objects():
    rng = np.random.default_rng(13)
    net = _network([0.0, 1.0, 1.0, 1.0])
    t = net.Learnables
    g = _table_like(t, rng)
    net2, m, v = adamupdate(net, g, None, None, 1)
    net3, m2, v2 = adamupdate(net2, g, m, v, 2)
    assert m2.Value[0] is m.Value[0] and v2.Value[0] is v.Value[0]
    assert net3.Learnables.Value[0] is t.Value[0]
    assert not np.array_equal(extractdata(m2.Value[1]), extractdata(m.Value[1]))


def test_end_to_end_with_dlgradient_on_a_table():
    rng = np.random.default_rng(14)
    X = rng.standard_normal((3, 64)).astype(np.float32)
    Y = (np.array([[1.0, -2.0, 0.5]], np.float32) @ X + 0.3).astype(np.float32)
    params = Table(["fc", "fc"], ["Weights", "Bias"], [dlarray(np.zeros((1, 3), np.float32)), dlarray(np.zeros((1, 1), np.float32))])

    def model_loss(p, X, Y):
        W, b = p.Value
        err = W @ X + b - Y
        loss = np.mean(err * err)
        return loss, dlgradient(loss, p)

    m = v = None
    losses = []
    for it in range(1, 201):
        loss, grad = dlfeval(model_loss, params, dlarray(X), dlarray(Y))
        params, m, v = adamupdate(params, grad, m, v, it, 0.05)
        losses.append(float(loss))
    assert losses[-1] < 1e-3 * losses[0]
    np.testing.assert_allclose(extractdata(params.Value[0]), [[1.0, -2.0, 0.5]], atol=0.02)
    assert all(extractdata(x).dtype == np.float32 for x in params.Value)


# ----------------------------------------------------------------------------------- dlupdate

def test_dlupdate_plain_sgd_l1_and_clipping_examples():
    rng = np.random.default_rng(15)
    params = {"W": dlarray(rng.standard_normal((3, 2)).astype(np.float32)), "b": [rng.standard_normal(2)]}
    grads = _grads_like(params, rng)
    lr, l1, thr = 0.1, 0.01, 0.5
    new = dlupdate(lambda w, g: w - lr * g, params, grads)
    assert isinstance(new["W"], dlarray) and extractdata(new["W"]).dtype == np.float32
    for a, p, g in zip(tree_leaves(new), tree_leaves(params), tree_leaves(grads)):
        np.testing.assert_allclose(_arr(a), _arr(p) - lr * _arr(g), rtol=1e-6)
    reg = dlupdate(lambda g, p: g + l1 * np.sign(p), grads, params)
    for a, p, g in zip(tree_leaves(reg), tree_leaves(params), tree_leaves(grads)):
        np.testing.assert_allclose(_arr(a), _arr(g) + l1 * np.sign(_arr(p)), rtol=1e-6)

    def threshold_l2(g):
        n = float(np.sqrt(np.sum(g * g)))
        return g * (thr / n) if n > thr else g

    clipped = dlupdate(threshold_l2, grads)
    for a, g in zip(tree_leaves(clipped), tree_leaves(grads)):
        n = np.linalg.norm(_arr(g))
        assert np.linalg.norm(_arr(a)) == pytest.approx(min(n, thr), rel=1e-5)


def test_dlupdate_custom_sgdm_with_two_outputs_equals_sgdmupdate():
    rng = np.random.default_rng(16)
    lr, mu = 0.05, 0.9

    def sgdm_function(param, grad, vel):
        vel = mu * vel - lr * grad
        return param + vel, vel

    params = {"W": dlarray(rng.standard_normal((2, 3)).astype(np.float32), "CB"), "b": rng.standard_normal((2, 1)).astype(np.float32)}
    vel = dlupdate(lambda p: np.zeros_like(_arr(p)), params)  # zeros with the structure of params
    p_a, vel_b, p_b = params, None, params
    for _ in range(4):
        grads = _grads_like(params, rng)
        p_a, vel = dlupdate(sgdm_function, p_a, grads, vel)
        p_b, vel_b = sgdmupdate(p_b, grads, vel_b, lr, mu)
    assert isinstance(p_a["W"], dlarray) and p_a["W"].fmt == "CB"
    for a, b in zip(tree_leaves(p_a) + tree_leaves(vel), tree_leaves(p_b) + tree_leaves(vel_b)):
        np.testing.assert_allclose(_arr(a), _arr(b), rtol=1e-5, atol=1e-6)


def test_dlupdate_three_outputs_on_table_and_network():
    t = _table()
    out = dlupdate(lambda p: (p + 1, p * 2, -p), t)
    assert isinstance(out, tuple) and len(out) == 3 and all(isinstance(o, Table) for o in out)
    for k in range(3):
        np.testing.assert_allclose(extractdata(out[1].Value[k]), 2 * extractdata(t.Value[k]))
    net = _network([1.0, 0.0, 1.0, 1.0])
    t = net.Learnables
    grads = _table_like(t, np.random.default_rng(17))
    net2, stepped = dlupdate(lambda p, g: (p - 0.1 * g, 0.1 * g), net, grads)  # factors are not used by dlupdate
    assert isinstance(net2, dlnetwork) and isinstance(stepped, Table)
    for k in range(4):
        np.testing.assert_allclose(extractdata(net2.Learnables.Value[k]),
                                   extractdata(t.Value[k]) - 0.1 * extractdata(grads.Value[k]), rtol=1e-6)
    single = dlupdate(lambda a, b: a - b, net, net)  # an extra network contributes its Learnables
    assert all(np.all(extractdata(x) == 0) for x in single.Learnables.Value)


def test_dlupdate_single_array_and_empty_container():
    x = np.arange(3.0)
    np.testing.assert_array_equal(dlupdate(lambda a: a * 2, x), [0.0, 2.0, 4.0])
    a, b = dlupdate(lambda a: (a, -a), x)
    np.testing.assert_array_equal(b, -x)
    assert dlupdate(lambda a: a, {}) == {}


# ----------------------------------------------------------------------------------- errors (one per message)

@pytest.mark.parametrize("iteration", [0, -1, 1.5, True, None, "1", np.array([1, 2])])
def test_error_bad_iteration(iteration):
    with pytest.raises(UpdaterArgumentError, match="BEFORE calling adamupdate, so the first call gets 1"):
        adamupdate(np.zeros(2), np.ones(2), None, None, iteration)


def test_integral_float_and_numpy_iteration_are_accepted():
    a = adamupdate(np.zeros(2), np.ones(2), None, None, 2.0)[0]
    b = adamupdate(np.zeros(2), np.ones(2), None, None, np.int64(2))[0]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("lr", [-0.1, float("nan"), float("inf")])
@pytest.mark.parametrize("fun", ["adam", "rmsprop", "sgdm"])
def test_error_bad_learning_rate(lr, fun):
    call = {"adam": lambda: adamupdate(np.zeros(2), np.ones(2), None, None, 1, lr),
            "rmsprop": lambda: rmspropupdate(np.zeros(2), np.ones(2), None, lr),
            "sgdm": lambda: sgdmupdate(np.zeros(2), np.ones(2), None, lr)}[fun]
    with pytest.raises(UpdaterArgumentError, match="learnRate must be a finite non-negative number"):
        call()


def test_error_non_scalar_hyper_parameter():
    with pytest.raises(UpdaterArgumentError, match="learnRate must be one real number"):
        sgdmupdate(np.zeros(2), np.ones(2), None, np.array([0.1, 0.2]))


@pytest.mark.parametrize("kw", [{"gradDecay": 1.0}, {"gradDecay": -0.1}, {"sqGradDecay": 1.0}, {"sqGradDecay": float("nan")}])
def test_error_adam_decay_outside_unit_interval(kw):
    name = next(iter(kw))
    with pytest.raises(UpdaterArgumentError, match=rf"{name} \(beta[12]\) must be in \[0, 1\)"):
        adamupdate(np.zeros(2), np.ones(2), None, None, 1, **kw)


def test_error_rmsprop_decay_outside_unit_interval():
    with pytest.raises(UpdaterArgumentError, match=r"sqGradDecay \(rho\) must be in \[0, 1\)"):
        rmspropupdate(np.zeros(2), np.ones(2), None, 0.01, 1.0)


@pytest.mark.parametrize("eps", [0.0, -1e-8, float("inf")])
def test_error_bad_epsilon(eps):
    with pytest.raises(UpdaterArgumentError, match="epsilon must be a finite positive number"):
        adamupdate(np.zeros(2), np.ones(2), None, None, 1, epsilon=eps)
    with pytest.raises(UpdaterArgumentError, match="epsilon must be a finite positive number"):
        rmspropupdate(np.zeros(2), np.ones(2), None, epsilon=eps)


@pytest.mark.parametrize("mu", [-0.1, 1.5])
def test_error_momentum_outside_closed_unit_interval(mu):
    with pytest.raises(UpdaterArgumentError, match=r"momentum must be in \[0, 1\]"):
        sgdmupdate(np.zeros(2), np.ones(2), None, 0.01, mu)
    sgdmupdate(np.zeros(2), np.ones(2), None, 0.01, 1.0)  # 1 itself is allowed


def test_error_adam_only_one_state_none():
    with pytest.raises(UpdaterArgumentError, match="averageSqGrad is None but averageGrad is not"):
        adamupdate(np.zeros(2), np.ones(2), np.zeros(2), None, 2)
    with pytest.raises(UpdaterArgumentError, match="averageGrad is None but averageSqGrad is not"):
        adamupdate(np.zeros(2), np.ones(2), None, np.zeros(2), 2)


def test_error_grad_structure_names_first_mismatching_key():
    p = {"fc1": {"W": np.zeros(2), "b": np.zeros(1)}}
    g = {"fc1": {"W": np.zeros(2), "bias": np.zeros(1)}}
    with pytest.raises(StructureMismatchError, match=r"grad does not match the parameters.*\['fc1'\].*missing key 'b'"):
        sgdmupdate(p, g, None)


def test_error_grad_structure_names_first_mismatching_index():
    p = [np.zeros(2), [np.zeros(1), np.zeros(1)]]
    g = [np.zeros(2), [np.zeros(1)]]
    with pytest.raises(StructureMismatchError, match=r"grad does not match.*at \[1\]: lengths differ \(2 vs 1\)"):
        rmspropupdate(p, g, None)


def test_error_table_rows_differ():
    t = _table()
    g = Table(["fc1", "fc1", "fc3"], ["Weights", "Bias", "Weights"], list(t.Value))
    with pytest.raises(StructureMismatchError, match="differ at row 2: Layer/Parameter fc2/Weights vs fc3/Weights"):
        adamupdate(t, g, None, None, 1)


def test_error_state_structure_names_state_argument():
    p = {"W": np.zeros(2), "b": np.zeros(1)}
    with pytest.raises(StructureMismatchError, match=r"averageSqGrad does not match.*missing key 'b'.*Pass None on the first call"):
        adamupdate(p, p, p, {"W": np.zeros(2)}, 2)


def test_error_grad_shape_names_key_and_both_shapes():
    p = {"fc": {"W": np.zeros((4, 3))}}
    g = {"fc": {"W": np.zeros((3, 4))}}
    with pytest.raises(UpdaterArgumentError,
                       match=r"grad\['fc'\]\['W'\] has shape \(3, 4\) but params\['fc'\]\['W'\] has shape \(4, 3\)"):
        adamupdate(p, g, None, None, 1)


def test_error_grad_shape_in_network_names_row():
    net = _network([1.0, 1.0, 1.0, 1.0])
    t = net.Learnables
    g = Table(list(t.Layer), list(t.Parameter), [t.Value[0], dlarray(np.zeros((1, 4), np.float32)), *t.Value[2:]])
    with pytest.raises(UpdaterArgumentError, match=r"grad\.Value\{fc1/Bias\} has shape \(1, 4\) but "
                                                   r"net\.Learnables\.Value\{fc1/Bias\} has shape \(4, 1\)"):
        sgdmupdate(net, g, None)


def test_error_state_initialised_with_scalar_zero():
    p = {"W": np.zeros(2, np.float32)}
    with pytest.raises(UpdaterArgumentError, match=r"vel is the number 0 but the parameters are a dict.*with None.*zeros\(size\(net\)\)"):
        sgdmupdate(p, p, 0)
    net = _network([1.0, 1.0, 1.0, 1.0])
    with pytest.raises(UpdaterArgumentError, match=r"averageGrad is the number 0.0 but the parameters are a Table.*Initialise the state with None"):
        adamupdate(net, net.Learnables, np.float32(0.0) * np.ones(()), np.zeros(()), 1)


def test_error_state_zeros_of_wrong_shape():
    with pytest.raises(UpdaterArgumentError, match=r"averageSqGrad has shape \(\) but params has shape \(3,\).*None"):
        rmspropupdate(np.zeros(3), np.ones(3), np.float64(0.0))


def test_error_integer_parameters():
    with pytest.raises(UpdaterArgumentError, match=r"params\['n'\] is an array of dtype int64.*astype\(np.float32\)"):
        sgdmupdate({"n": np.arange(3)}, {"n": np.ones(3)}, None)


def test_error_missing_gradient_leaf():
    with pytest.raises(UpdaterArgumentError, match=r"grad\[1\] is None; every parameter needs a gradient"):
        sgdmupdate([np.zeros(1), np.zeros(1)], [np.ones(1), None], None)


def test_error_negative_learn_rate_factor():
    # setLearnRateFactor and the layer options refuse a negative factor; a property set by hand is caught here
    fc1 = fullyConnectedLayer(4, Name="fc1")
    fc1.BiasLearnRateFactor = -1.0
    net = dlnetwork([featureInputLayer(3), fc1])
    with pytest.raises(UpdaterArgumentError, match=r"learn-rate factor of net.Learnables.Value\{fc1/Bias\} is -1.0"):
        sgdmupdate(net, net.Learnables, None)


def test_error_solver_called_inside_dlfeval():
    def bad(p):
        loss = np.sum(p * p)
        g = dlgradient(loss, p)
        return sgdmupdate(p, g, None)

    with pytest.raises(UpdaterArgumentError, match="Call sgdmupdate in the training loop, after dlfeval"):
        dlfeval(bad, dlarray(np.ones(3)))


def test_dlupdate_inside_dlfeval_is_traceable():
    def loss_with_l2(p):
        reg = dlupdate(lambda w: np.sum(w * w), p)
        loss = np.sum(p["w"]) + 0.5 * reg["w"]
        return dlgradient(loss, p)

    g = dlfeval(loss_with_l2, {"w": dlarray(np.array([1.0, 2.0]))})
    np.testing.assert_allclose(extractdata(g["w"]), [2.0, 3.0])


def test_error_dlupdate_not_callable():
    with pytest.raises(UpdaterArgumentError, match=r"first argument\) must be the function to apply"):
        dlupdate({"w": np.zeros(1)}, lambda w: w)


def test_error_dlupdate_extra_structure_and_constant():
    p = {"w": np.zeros(2), "b": np.zeros(1)}
    with pytest.raises(StructureMismatchError, match=r"extra argument 1 \(argument 3 of dlupdate\).*missing key 'b'"):
        dlupdate(lambda a, b: a + b, p, {"w": np.zeros(2)})
    with pytest.raises(StructureMismatchError, match=r"extra argument 2 .*capture it in the function"):
        dlupdate(lambda a, b, lr: a - lr * b, p, p, 0.1)


def test_error_dlupdate_inconsistent_number_of_outputs():
    p = {"w": np.zeros(2), "b": np.zeros(1)}
    with pytest.raises(UpdaterArgumentError, match=r"returned 2 output\(s\) for the first parameter but 1 for params\['b'\]"):
        dlupdate(lambda a: (a, a) if a.shape == (2,) else a, p)


def test_all_errors_are_dlteach_errors():
    assert issubclass(UpdaterArgumentError, DLTeachError) and issubclass(StructureMismatchError, DLTeachError)


def test_dict_key_order_and_irregular_containers():
    from collections import OrderedDict, namedtuple

    # gradients with the same keys in another order are matched by key, not by position
    p = {"a": np.zeros(1), "b": np.zeros(1)}
    g = {"b": np.full(1, 2.0), "a": np.full(1, -1.0)}
    p2, vel = sgdmupdate(p, g, None, 0.5, 0.0)
    assert list(p2) == ["a", "b"] and p2["a"][0] == 0.5 and p2["b"][0] == -1.0
    # namedtuples and dict subclasses come back as the same types
    Pair = namedtuple("Pair", "W b")
    q = Pair(np.ones(2, np.float32), OrderedDict(w=np.ones(1, np.float32)))
    q2, m, v = adamupdate(q, q, None, None, 1)
    for out in (q2, m, v):
        assert type(out) is Pair and type(out.b) is OrderedDict
    np.testing.assert_allclose(q2.W, ref_adam(q.W, q.W, None, None, 1)[0], rtol=1e-6)


def test_real_dlnetwork_learn_rate_factors_and_state_tables():
    network = pytest.importorskip("dlteach.network")
    layers = pytest.importorskip("dlteach.layers")
    np.random.seed(0)
    net = network.dlnetwork([layers.featureInputLayer(3),
                             layers.fullyConnectedLayer(2, WeightLearnRateFactor=2.0, BiasLearnRateFactor=0.0)])
    assert learn_rate_factors(net) == [2.0, 0.0]
    rng = np.random.default_rng(18)
    before = [extractdata(v) for v in net.Learnables.Value]
    g = _table_like(net.Learnables, rng)
    net2, m, v = adamupdate(net, g, None, None, 1, 0.01)
    assert isinstance(net2, network.dlnetwork) and isinstance(m, Table) and isinstance(v, Table)
    assert list(m.Layer) == list(net.Learnables.Layer) and list(m.Parameter) == list(net.Learnables.Parameter)
    after = [extractdata(x) for x in net2.Learnables.Value]
    want_w = ref_adam(before[0], extractdata(g.Value[0]), None, None, 1, 0.02)[0]  # lr x WeightLearnRateFactor
    np.testing.assert_allclose(after[0], want_w, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(after[1], before[1])  # factor 0: skipped
    np.testing.assert_array_equal(extractdata(m.Value[1]), 0.0)
    assert all(x.dtype == np.float32 for x in after)
    for k, b in enumerate(before):  # the original network is unchanged
        np.testing.assert_array_equal(extractdata(net.Learnables.Value[k]), b)


# ----------------------------------------------------------------------------------- the common-case loop
# (updaters._fast_update: every leaf an array of one dtype and shape, states given) and where it hands over to
# the leaf-by-leaf path (a 0-d parameter, a cast, a factor of 0) - results against the hand formulas either way

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("which", ["adam", "rmsprop", "sgdm"])
def test_states_given_with_a_0d_parameter_and_a_cast_between_common_leaves(dtype, which):
    rng = np.random.default_rng(21)
    params = {"a": dlarray(rng.standard_normal((3, 2)).astype(dtype), "CB"),
              "s": dlarray(np.array(0.7, dtype)),  # 0-d: leaf by leaf from here on
              "b": rng.standard_normal((4,)).astype(dtype),  # an ndarray leaf stays an ndarray
              "c": dlarray(rng.standard_normal((2, 2)).astype(dtype))}
    g1, g2 = _grads_like(params, rng), _grads_like(params, rng, np.float64)  # g2: float64, cast for float32
    lr = 0.05
    if which == "adam":
        p1, m1, v1 = adamupdate(params, g1, None, None, 1, lr)
        p2, m2, v2 = adamupdate(p1, g2, m1, v1, 2, lr)
        outs = (p2, m2, v2)
    elif which == "rmsprop":
        p1, v1 = rmspropupdate(params, g1, None, lr)
        outs = p2, _ = rmspropupdate(p1, g2, v1, lr)
    else:
        p1, v1 = sgdmupdate(params, g1, None, lr)
        outs = p2, _ = sgdmupdate(p1, g2, v1, lr)
    tol = dict(rtol=2e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    for k in params:
        p0, a, b = _arr(params[k]), _arr(g1[k]), _arr(g2[k]).astype(dtype)
        if which == "adam":
            r = ref_adam(p0, a, None, None, 1, lr)
            r = ref_adam(r[0], b, r[1], r[2], 2, lr)
        elif which == "rmsprop":
            r = ref_rmsprop(p0, a, None, lr)
            r = ref_rmsprop(r[0], b, r[1], lr)
        else:
            r = ref_sgdm(p0, a, None, lr)
            r = ref_sgdm(r[0], b, r[1], lr)
        for out, ref in zip(outs, r):
            leaf = out[k]
            assert type(leaf) is type(params[k])  # dlarray stays dlarray (with its format), ndarray stays ndarray
            if isinstance(leaf, dlarray):
                assert dims(leaf) == dims(params[k])
            assert _arr(leaf).dtype == dtype and _arr(leaf).shape == np.shape(_arr(params[k]))
            np.testing.assert_allclose(_arr(leaf), ref, **tol)


def test_states_given_nonfinite_gradients_warn_once_naming_each_and_update_the_others():
    from dlteach.errors import NonFiniteGradientWarning
    rng = np.random.default_rng(22)
    params = {"w": dlarray(rng.standard_normal((3, 2)).astype(np.float32)),
              "b": dlarray(rng.standard_normal((3, 1)).astype(np.float32)),
              "u": dlarray(rng.standard_normal((2, 2)).astype(np.float32))}
    g = _grads_like(params, rng)
    _, m, v = adamupdate(params, g, None, None, 1)
    bad = _grads_like(params, rng)
    bad["w"] = dlarray(np.where(np.arange(6).reshape(3, 2) == 4, np.nan, extractdata(bad["w"])).astype(np.float32))
    bad["u"] = dlarray(np.array([[np.inf, 1], [2, 3]], np.float32))
    with np.errstate(invalid="ignore"), pytest.warns(NonFiniteGradientWarning) as rec:  # inf/inf in the step
        p2, _, _ = adamupdate(params, bad, m, v, 2)
    ours = [w for w in rec if w.category is NonFiniteGradientWarning]
    assert len(ours) == 1
    msg = str(ours[0].message)
    assert "grad['w']" in msg and "grad['u']" in msg and "grad['b']" not in msg
    assert np.isnan(extractdata(p2["w"])).any() and np.isfinite(extractdata(p2["b"])).all()
    r = ref_adam(extractdata(params["b"]), extractdata(bad["b"]), _arr(m["b"]), _arr(v["b"]), 2)
    np.testing.assert_allclose(extractdata(p2["b"]), r[0], rtol=2e-5, atol=1e-7)


def test_network_states_given_factor_two_and_zero():
    rng = np.random.default_rng(23)
    net = _network([2.0, 1.0, 0.0, 1.0])
    t = net.Learnables
    g1, g2 = _table_like(t, rng), _table_like(t, rng)
    net2, m, v = adamupdate(net, g1, None, None, 1, 0.01)
    net3, m2, v2 = adamupdate(net2, g2, m, v, 2, 0.01)
    assert m2.Value[2] is m.Value[2] and net3.Learnables.Value[2] is t.Value[2]  # factor 0: skipped
    net_all = _network([2.0, 1.0, 3.0, 1.0])  # no zero factor: every row in the common-case loop
    n2, ma, va = adamupdate(net_all, g1, None, None, 1, 0.01)
    n3, _, _ = adamupdate(n2, g2, ma, va, 2, 0.01)
    for k, f in enumerate([2.0, 1.0, 3.0, 1.0]):
        r = ref_adam(extractdata(net_all.Learnables.Value[k]), extractdata(g1.Value[k]), None, None, 1, 0.01 * f)
        r = ref_adam(r[0], extractdata(g2.Value[k]), r[1], r[2], 2, 0.01 * f)
        np.testing.assert_allclose(extractdata(n3.Learnables.Value[k]), r[0], rtol=2e-5, atol=1e-7)
    for k in (0, 1, 3):  # the same rows of the network with a zero factor
        np.testing.assert_array_equal(extractdata(net3.Learnables.Value[k]), extractdata(n3.Learnables.Value[k]))


def test_state_of_another_structure_after_a_common_step_still_raises():
    rng = np.random.default_rng(24)
    params = {"w": dlarray(rng.standard_normal((3, 2)).astype(np.float32))}
    p, m, v = adamupdate(params, _grads_like(params, rng), None, None, 1)
    p, m, v = adamupdate(p, _grads_like(p, rng), m, v, 2)  # the structure is remembered
    with pytest.raises(StructureMismatchError, match="averageGrad does not match"):
        adamupdate(p, _grads_like(p, rng), {"x": m["w"]}, v, 3)
    with pytest.raises(UpdaterArgumentError, match=r"averageSqGrad\['w'\] has shape"):
        adamupdate(p, _grads_like(p, rng), m, {"w": dlarray(np.zeros((2, 3), np.float32))}, 3)


def test_network_learn_rate_factor_changed_between_calls_is_used():
    rng = np.random.default_rng(25)
    net = _network([2.0, 1.0, 1.0, 1.0])
    g1, g2, g3 = (_table_like(net.Learnables, rng) for _ in range(3))
    n2, m, v = adamupdate(net, g1, None, None, 1, 0.01)
    n3, m, v = adamupdate(n2, g2, m, v, 2, 0.01)
    n3 = setLearnRateFactor(n3, "fc1", "Weights", 0.5)  # the same learnRate, another factor
    n4, _, _ = adamupdate(n3, g3, m, v, 3, 0.01)
    r = ref_adam(extractdata(net.Learnables.Value[0]), extractdata(g1.Value[0]), None, None, 1, 0.02)
    r = ref_adam(r[0], extractdata(g2.Value[0]), r[1], r[2], 2, 0.02)
    r = ref_adam(r[0], extractdata(g3.Value[0]), r[1], r[2], 3, 0.005)
    np.testing.assert_allclose(extractdata(n4.Learnables.Value[0]), r[0], rtol=2e-5, atol=1e-7)
    n5, _, _ = adamupdate(n3, g3, m, v, 3, 0.02)  # another learnRate, the same factors
    r5 = ref_adam(extractdata(n3.Learnables.Value[1]), extractdata(g3.Value[1]), _arr(m.Value[1]), _arr(v.Value[1]), 3,
                  0.02)
    np.testing.assert_allclose(extractdata(n5.Learnables.Value[1]), r5[0], rtol=2e-5, atol=1e-7)


# ----------------------------------------------------------------------------------- the common-case loop's scalars
# (updaters._CONST_STEPS: the hyper-parameters as 0-d arrays of the parameter's dtype instead of Python floats)
# bit for bit what NumPy computes with the Python floats, in the same order of operations

def _np_adam(p, g, m, v, t, lr, b1, b2, eps):
    m_new = g * (1.0 - b1) if m is None else m * b1 + g * (1.0 - b1)
    v_new = (g * g) * (1.0 - b2) if v is None else v * b2 + (g * g) * (1.0 - b2)
    alpha = lr * math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
    return p - (m_new / (np.sqrt(v_new) + eps)) * alpha, m_new, v_new


def _np_rmsprop(p, g, v, lr, rho, eps):
    v_new = (g * g) * (1.0 - rho) if v is None else v * rho + (g * g) * (1.0 - rho)
    return p - (g / (np.sqrt(v_new) + eps)) * lr, v_new


def _np_sgdm(p, g, vel, lr, mu):
    vel_new = g * -lr if vel is None else g * -lr + vel * mu
    return p + vel_new, vel_new


def _same_bits(a, b):
    a, b = _arr(a), _arr(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("which", ["adam", "rmsprop", "sgdm"])
def test_common_case_is_bit_identical_to_numpy_with_python_floats(dtype, which):
    rng = np.random.default_rng(31)
    for trial in range(4):
        lr, b1, b2 = 10 ** rng.uniform(-5, 0), rng.uniform(0, 0.999), rng.uniform(0, 0.9999)
        eps, mu = 10 ** rng.uniform(-10, -2), rng.uniform(0, 1)
        params = {"a": dlarray(rng.standard_normal((3, 4)).astype(dtype), "CB"), "b": rng.standard_normal(5).astype(dtype)}
        ref = {k: _arr(x) for k, x in params.items()}
        kinds = {k: type(x) for k, x in params.items()}
        states = [None, None] if which == "adam" else [None]
        ref_states = {k: [None] * len(states) for k in params}
        for t in (1, 2, 3):
            g = _grads_like(params, rng)
            if which == "adam":
                params, *states = adamupdate(params, g, *states, t, lr, b1, b2, eps)
            elif which == "rmsprop":
                params, *states = rmspropupdate(params, g, *states, lr, b2, eps)
            else:
                params, *states = sgdmupdate(params, g, *states, lr, mu)
            for k in params:
                args = (ref[k], _arr(g[k]), *ref_states[k])
                if which == "adam":
                    out = _np_adam(*args, t, lr, b1, b2, eps)
                elif which == "rmsprop":
                    out = _np_rmsprop(*args, lr, b2, eps)
                else:
                    out = _np_sgdm(*args, lr, mu)
                ref[k], ref_states[k] = out[0], list(out[1:])
                assert type(params[k]) is kinds[k] and _same_bits(params[k], ref[k]), (trial, t, k)
                assert all(_same_bits(s[k], r) for s, r in zip(states, ref_states[k])), (trial, t, k)


def test_common_case_a_learn_rate_beyond_float32_warns_as_numpy_does():
    # alpha does not fit in float32: the step with Python floats (NumPy's conversion of alpha overflows and says so
    # for every parameter, on every call), not a 0-d array made once
    import warnings

    from dlteach import updaters
    assert updaters._adam_consts(np.dtype(np.float32), 1e40, (0.9, 0.999, 1e-8, 2)) is None
    assert updaters._adam_consts(np.dtype(np.float64), 1e40, (0.9, 0.999, 1e-8, 2)) is not None
    p = {"w": dlarray(np.ones((2, 2), np.float32)), "b": dlarray(np.ones((2, 1), np.float32))}
    g = {"w": dlarray(np.full((2, 2), 0.5, np.float32)), "b": dlarray(np.full((2, 1), 0.5, np.float32))}
    _, m, v = adamupdate(p, g, None, None, 1)
    for _ in range(2):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            p2, m2, v2 = adamupdate(p, g, m, v, 2, 1e40)  # alpha = 2.4e39
        assert [str(w.message) for w in rec] == ["overflow encountered in cast"] * 2  # one per parameter
        assert all(np.all(extractdata(x) == -np.inf) and extractdata(x).dtype == np.float32 for x in p2.values())


def test_common_case_momentum_zero_and_minus_zero_keep_their_sign():
    # 0.0 == -0.0, but vel * -0.0 is -0: the constants of the last call are not reused for a zero
    p = {"w": dlarray(np.ones((2, 2), np.float32))}
    vel = {"w": dlarray(np.ones((2, 2), np.float32))}
    zero = {"w": dlarray(np.zeros((2, 2), np.float32))}
    for mu in (0.0, -0.0, 0.0):
        _, vel2 = sgdmupdate(p, zero, vel, 0.01, mu)
        want = np.signbit(np.float32(0.0) * np.float32(-0.01) + np.float32(1.0) * np.float32(mu))  # -0 + (+-0)
        assert np.all(np.signbit(extractdata(vel2["w"])) == want) and want == (str(mu) == "-0.0")


def test_common_case_loop_leaves_a_half_given_state_to_the_leaf_by_leaf_path():
    from dlteach import updaters
    w = dlarray(np.ones((2, 2), np.float32))
    done, new_p, new_s, nonfinite = updaters._fast_update(
        updaters._adam_step, [w], [w], [[w], None], 0.001, None, (0.9, 0.999, 1e-8, 1))
    assert (done, new_p, new_s, nonfinite) == (0, [], [[], []], [])
