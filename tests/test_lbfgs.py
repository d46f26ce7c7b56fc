"""Tests of dlteach.lbfgs (MATLAB lbfgsupdate / lbfgsState, R2023a).

Independent references: the dense BFGS inverse-Hessian update written out as matrices (not the
two-loop recursion), the quadratic's closed-form minimizer, Rosenbrock's known minimum [1, 1], the Wolfe
conditions evaluated from the loss function itself, NumPy's least squares, and torch.optim.LBFGS
(line_search_fn="strong_wolfe") as the oracle on a small network.
"""

from __future__ import annotations

import numpy as np
import pytest

from dlteach import (
    dlarray,
    dlfeval,
    dlgradient,
    dlnetwork,
    extractdata,
    featureInputLayer,
    fullyconnect,
    fullyConnectedLayer,
    lbfgsState,
    lbfgsupdate,
    tanh,
    tanhLayer,
)
from dlteach.errors import (
    ArgumentError,
    DLTeachError,
    NonScalarLossError,
    NotTracedError,
    ReadOnlyPropertyError,
    StructureMismatchError,
    UpdaterArgumentError,
)
from dlteach.lbfgs import _two_loop

# ----------------------------------------------------------------------------------- problems


def quadratic(n=6, cond=30.0, seed=0):
    """f(x) = 0.5 x'Ax - b'x with A SPD of the given condition number; returns (A, b, x*)."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = Q @ np.diag(np.geomspace(1.0, cond, n)) @ Q.T
    b = rng.standard_normal(n)
    return A, b, np.linalg.solve(A, b)


def quad_lossfcn(A, b):
    def modelLoss(p):
        x = p["x"]
        loss = 0.5 * np.sum(x * (A @ x)) - np.sum(b * x)
        return loss, dlgradient(loss, p)
    return lambda p: dlfeval(modelLoss, p)


def rosen_lossfcn():
    def modelLoss(p):
        x = p["x"]
        loss = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
        return loss, dlgradient(loss, p)
    return lambda p: dlfeval(modelLoss, p)


def rosen_exact(x):
    """Rosenbrock's value and gradient by hand."""
    a, b = float(x[0]), float(x[1])
    f = 100 * (b - a * a) ** 2 + (1 - a) ** 2
    g = np.array([-400 * a * (b - a * a) - 2 * (1 - a), 200 * (b - a * a)])
    return f, g


def run(params, lossFcn, n, **options):
    state = lbfgsState(**{k: options.pop(k) for k in ("HistorySize", "InitialInverseHessianFactor") if k in options})
    for _ in range(n):
        params, state = lbfgsupdate(params, lossFcn, state, **options)
        if state.GradientsNorm < 1e-12 or state.LineSearchStatus == "failed":
            break
    return params, state


def x_of(p):
    return np.asarray(extractdata(p["x"]), np.float64)


def dense_bfgs_direction(g, S, Y):
    """-H g with H built as a dense matrix by the BFGS update formula over the pairs (oldest first),
    starting from H_0 = (s'y / y'y of the newest pair) I."""
    n = g.size
    s_new, y_new = S[-1], Y[-1]
    H = (s_new @ y_new) / (y_new @ y_new) * np.eye(n)
    for s, y in zip(S, Y):
        rho = 1.0 / (y @ s)
        V = np.eye(n) - rho * np.outer(y, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    return -H @ g


# ----------------------------------------------------------------------------------- the two-loop recursion

def test_two_loop_equals_dense_bfgs_matrix(rng):
    n, m = 7, 5
    A, _, _ = quadratic(n, 20.0, seed=1)
    S = [rng.standard_normal(n) for _ in range(m)]
    Y = [A @ s + 0.01 * rng.standard_normal(n) for s in S]  # curvature pairs with s'y > 0
    assert all(s @ y > 0 for s, y in zip(S, Y))
    g = rng.standard_normal(n)
    lam = (S[-1] @ Y[-1]) / (Y[-1] @ Y[-1])
    # stored in a circular buffer: slots in a rotated order, the order list says oldest -> newest
    order = [3, 4, 0, 1, 2]
    S_slots, Y_slots = [None] * m, [None] * m
    for k, j in enumerate(order):
        S_slots[j], Y_slots[j] = S[k], Y[k]
    rho = [1.0 / (s @ y) for s, y in zip(S_slots, Y_slots)]
    r = _two_loop(g, S_slots, Y_slots, rho, order, lam)
    np.testing.assert_allclose(-r, dense_bfgs_direction(g, S, Y), rtol=1e-10, atol=1e-12)


def test_update_direction_equals_dense_bfgs_of_the_stored_history():
    A, b, _ = quadratic(6, 30.0)
    lossFcn = quad_lossfcn(A, b)
    p = {"x": dlarray(np.zeros(6))}
    p, state = run(p, lossFcn, 4, LineSearchMethod="strong-wolfe")
    assert len(state.StepHistory) == 4 and state.LineSearchStatus == "completed"
    order = list(state.HistoryIndices)
    S = [x_of(state.StepHistory[j]) for j in order]
    Y = [x_of(state.GradientsDifferenceHistory[j]) for j in order]
    g = x_of(state.Gradients)
    np.testing.assert_allclose(g, A @ x_of(p) - b, rtol=1e-10, atol=1e-12)  # the state's gradient is the true one
    expected = dense_bfgs_direction(g, S, Y)
    x_before = x_of(p)
    p, state = lbfgsupdate(p, lossFcn, state, LineSearchMethod="backtracking")
    step = x_of(p) - x_before
    t = step @ expected / (expected @ expected)
    eta = min((1.0, 0.5, 0.25, 0.125), key=lambda e: abs(e - t))  # a backtracking step of the dense direction
    assert t == pytest.approx(eta, rel=1e-9)
    np.testing.assert_allclose(step, eta * expected, rtol=1e-9, atol=1e-12)


def test_first_step_uses_initial_inverse_hessian_factor_and_then_sy_over_yy():
    A, b, _ = quadratic(5, 10.0)
    lossFcn = quad_lossfcn(A, b)
    x0 = np.ones(5)
    g0 = A @ x0 - b
    state = lbfgsState(InitialInverseHessianFactor=0.01)
    assert state.InverseHessianFactor == 0.01
    p, state = lbfgsupdate({"x": dlarray(x0.copy())}, lossFcn, state, LineSearchMethod="backtracking")
    s = x_of(p) - x0
    np.testing.assert_allclose(s, -0.01 * g0, rtol=1e-12)  # eta = 1 accepted: x1 = x0 - lambda_0 g0
    y = A @ s
    assert state.InverseHessianFactor == pytest.approx((s @ y) / (y @ y), rel=1e-10)
    assert state.StepNorm == pytest.approx(np.linalg.norm(s), rel=1e-12)
    assert state.GradientsNorm == pytest.approx(np.linalg.norm(A @ x_of(p) - b), rel=1e-12)


# ----------------------------------------------------------------------------------- convergence

@pytest.mark.parametrize("method", ["weak-wolfe", "strong-wolfe", "backtracking"])
def test_quadratic_converges_to_the_closed_form_minimizer(method):
    # BFGS terminates in n steps only with EXACT line searches; with unit steps accepted by a Wolfe or
    # Armijo test, L-BFGS converges superlinearly instead (torch.optim.LBFGS without line search: 28
    # iterations on this problem). Gradient descent with the best fixed step would need about
    # cond/2 * ln(1e7) = 400 iterations here.
    n = 8
    A, b, xstar = quadratic(n, 50.0)
    lossFcn = quad_lossfcn(A, b)
    p = {"x": dlarray(np.zeros(n))}
    state = lbfgsState()
    iterations = 0
    while np.linalg.norm(x_of(p) - xstar) > 1e-6 * np.linalg.norm(xstar):
        p, state = lbfgsupdate(p, lossFcn, state, LineSearchMethod=method)
        assert state.LineSearchStatus == "completed"
        iterations += 1
        assert iterations <= 4 * n
    assert iterations > n // 2  # not a one-step solve: the curvature is learnt along the way


@pytest.mark.parametrize("method", ["weak-wolfe", "strong-wolfe", "backtracking"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rosenbrock_converges_to_one_one(method, dtype):
    p, state = run({"x": dlarray(np.array([-1.2, 1.0], dtype))}, rosen_lossfcn(), 200, LineSearchMethod=method)
    tol = 1e-6 if dtype == np.float64 else 2e-3
    np.testing.assert_allclose(x_of(p), [1.0, 1.0], atol=tol)
    assert p["x"].dtype == dtype


# ----------------------------------------------------------------------------------- line searches

@pytest.mark.parametrize("method", ["weak-wolfe", "strong-wolfe", "backtracking"])
def test_accepted_steps_satisfy_the_line_search_conditions(method):
    c1, c2 = 1e-4, 0.9
    lossFcn = rosen_lossfcn()
    p = {"x": dlarray(np.array([-1.2, 1.0]))}
    state = lbfgsState()
    searched = 0
    for _ in range(30):
        x0 = x_of(p)
        f0, g0 = rosen_exact(x0)
        p, state = lbfgsupdate(p, lossFcn, state, LineSearchMethod=method)
        assert state.LineSearchStatus == "completed"
        x1 = x_of(p)
        f1, g1 = rosen_exact(x1)
        s = x1 - x0
        if not s.any():
            break
        assert g0 @ s < 0                                   # a descent direction
        assert f1 <= f0 + c1 * (g0 @ s) + 1e-12             # sufficient decrease (Armijo)
        if method == "weak-wolfe":
            assert g1 @ s >= c2 * (g0 @ s) - 1e-12          # curvature
        elif method == "strong-wolfe":
            assert abs(g1 @ s) <= c2 * abs(g0 @ s) + 1e-12  # strong curvature
        assert float(extractdata(state.Loss)) == pytest.approx(f1, rel=1e-12, abs=1e-300)
        searched += state.num_loss_evaluations > 1
    assert searched >= 1  # the line search did more than accept eta = 1 at least once


def test_a_failed_line_search_leaves_the_parameters_unchanged():
    # gradients with the wrong sign: every trial point along "-H g" goes uphill, no step is acceptable
    def modelLoss(p):
        loss = np.sum(p["x"] ** 2)
        return loss, {"x": -dlgradient(loss, p)["x"]}

    p = {"x": dlarray(np.array([1.0, -2.0]))}
    p1, state = lbfgsupdate(p, lambda p: dlfeval(modelLoss, p), lbfgsState(), MaxNumLineSearchIterations=5)
    assert state.LineSearchStatus == "failed"
    assert state.num_loss_evaluations == 1 + 5
    np.testing.assert_array_equal(x_of(p1), [1.0, -2.0])
    assert state.StepNorm == 0 and float(extractdata(state.Loss)) == pytest.approx(5.0)
    assert state.MaxNumLineSearchIterations == 5 and state.LineSearchMethod == "weak-wolfe"


# ----------------------------------------------------------------------------------- state

def test_history_is_a_circular_buffer_of_history_size_pairs():
    A, b, _ = quadratic(12, 1000.0)
    lossFcn = quad_lossfcn(A, b)
    p = {"x": dlarray(np.zeros(12))}
    state = lbfgsState(HistorySize=3)
    for k in range(5):
        x_before = x_of(p)
        g_before = A @ x_before - b
        p, state = lbfgsupdate(p, lossFcn, state)
        assert len(state.StepHistory) == len(state.GradientsDifferenceHistory) == min(k + 1, 3)
        newest = state.HistoryIndices[-1]
        np.testing.assert_allclose(x_of(state.StepHistory[newest]), x_of(p) - x_before, atol=1e-15)
        np.testing.assert_allclose(x_of(state.GradientsDifferenceHistory[newest]),
                                   (A @ x_of(p) - b) - g_before, rtol=1e-9, atol=1e-12)
    assert sorted(state.HistoryIndices.tolist()) == [0, 1, 2]
    assert state.HistoryIndices.tolist() == [2, 0, 1]  # 5 pairs into 3 slots: pairs 4 and 5 overwrote slots 0, 1


def test_properties_are_read_only_with_a_teaching_error():
    state = lbfgsState(HistorySize=5)
    assert state.HistorySize == 5 and state.InitialInverseHessianFactor == 1
    assert state.Loss is None and state.Gradients is None and state.StepHistory == []
    assert state.LineSearchStatus == "" and state.MaxNumLineSearchIterations == 0
    with pytest.raises(ReadOnlyPropertyError, match=r"lbfgsState\(HistorySize=20\)"):
        state.HistorySize = 20
    with pytest.raises(AttributeError, match="read-only"):  # also an AttributeError
        state.Loss = 0.0
    with pytest.raises(ReadOnlyPropertyError, match="no property"):
        state.LearnRate = 0.1
    assert "HistorySize: 5" in repr(state)


@pytest.mark.parametrize("kwargs", [{"HistorySize": 0}, {"HistorySize": 2.5}, {"InitialInverseHessianFactor": 0},
                                    {"InitialInverseHessianFactor": -1.0}, {"InitialInverseHessianFactor": np.nan}])
def test_bad_state_options(kwargs):
    with pytest.raises(ArgumentError, match=list(kwargs)[0]):
        lbfgsState(**kwargs)


def test_positional_state_options_are_refused():
    with pytest.raises(UpdaterArgumentError, match="name-value"):
        lbfgsState(20)


def test_parameters_changed_by_hand_are_evaluated_again():
    A, b, _ = quadratic(4, 5.0)
    lossFcn = quad_lossfcn(A, b)
    p, state = lbfgsupdate({"x": dlarray(np.zeros(4))}, lossFcn, lbfgsState())
    p2, state2 = lbfgsupdate(p, lossFcn, state)
    assert state2.num_loss_evaluations >= 1 and state.num_loss_evaluations >= 2  # first call: x0 + line search
    moved = {"x": dlarray(x_of(p2) + 1.0)}
    before = state2.num_loss_evaluations
    _, state3 = lbfgsupdate(moved, lossFcn, state2, LineSearchMethod="backtracking")
    x = x_of(moved)
    assert state3.num_loss_evaluations >= 2  # one evaluation at the moved parameters, then the search
    assert before >= 1
    # the step taken starts from the moved point: its first trial used the moved point's gradient
    assert float(extractdata(state3.Loss)) <= 0.5 * x @ A @ x - b @ x


# ----------------------------------------------------------------------------------- networks, dtypes

def _net_and_dict():
    np.random.seed(0)
    net = dlnetwork([featureInputLayer(2), fullyConnectedLayer(5), tanhLayer(), fullyConnectedLayer(1)])
    v = net.Learnables.Value
    params = {"fc1": {"Weights": v[0], "Bias": v[1]}, "fc2": {"Weights": v[2], "Bias": v[3]}}
    rng = np.random.default_rng(0)
    X = dlarray(rng.standard_normal((2, 30)).astype(np.float32), "CB")
    T = dlarray(np.sin(extractdata(X)[:1] * 2).astype(np.float32), "CB")
    return net, params, X, T


def test_dlnetwork_and_parameter_dict_give_the_same_result():
    from dlteach import forward

    net, params, X, T = _net_and_dict()

    def netLoss(net, X, T):
        loss = np.sum((forward(net, X) - T) ** 2) / 30
        return loss, dlgradient(loss, net.Learnables)

    def dictLoss(p, X, T):
        Y = fullyconnect(tanh(fullyconnect(X, p["fc1"]["Weights"], p["fc1"]["Bias"])), p["fc2"]["Weights"],
                         p["fc2"]["Bias"])
        loss = np.sum((Y - T) ** 2) / 30
        return loss, dlgradient(loss, p)

    sn, sp = lbfgsState(), lbfgsState()
    losses_n, losses_p = [], []
    for _ in range(15):
        net, sn = lbfgsupdate(net, lambda n: dlfeval(netLoss, n, X, T), sn)
        params, sp = lbfgsupdate(params, lambda p: dlfeval(dictLoss, p, X, T), sp)
        losses_n.append(float(extractdata(sn.Loss)))
        losses_p.append(float(extractdata(sp.Loss)))
    np.testing.assert_allclose(losses_n, losses_p, rtol=2e-4)
    assert losses_n[-1] < 0.2 * losses_n[0]
    v = net.Learnables.Value
    for got, want in zip(v, [params["fc1"]["Weights"], params["fc1"]["Bias"], params["fc2"]["Weights"],
                             params["fc2"]["Bias"]]):
        np.testing.assert_allclose(extractdata(got), extractdata(want), rtol=1e-3, atol=1e-4)


def test_float32_is_kept_everywhere():
    from dlteach import forward

    net, _, X, T = _net_and_dict()

    def netLoss(net, X, T):
        loss = np.sum((forward(net, X) - T) ** 2) / 30
        return loss, dlgradient(loss, net.Learnables)

    state = lbfgsState()
    for _ in range(3):
        net, state = lbfgsupdate(net, lambda n: dlfeval(netLoss, n, X, T), state, LineSearchMethod="strong-wolfe")
    assert all(extractdata(v).dtype == np.float32 for v in net.Learnables.Value)
    assert all(extractdata(v).dtype == np.float32 for s in state.StepHistory for v in s.Value)
    assert all(extractdata(v).dtype == np.float32 for s in state.GradientsDifferenceHistory for v in s.Value)
    assert extractdata(state.Loss).dtype == np.float32
    assert state.GradientsNorm.dtype == np.float32 and state.StepNorm.dtype == np.float32
    assert type(state.StepHistory[0]).__name__ == "Table"  # the history has the structure of net.Learnables


def test_extra_outputs_with_num_loss_function_outputs():
    A, b, _ = quadratic(3, 2.0)

    def modelLoss(p):
        x = p["x"]
        loss = 0.5 * np.sum(x * (A @ x)) - np.sum(b * x)
        return loss, dlgradient(loss, p), "state"

    f = lambda p: dlfeval(modelLoss, p)  # noqa: E731
    with pytest.raises(UpdaterArgumentError, match="NumLossFunctionOutputs=3"):
        lbfgsupdate({"x": dlarray(np.zeros(3))}, f, lbfgsState())
    _, state = lbfgsupdate({"x": dlarray(np.zeros(3))}, f, lbfgsState(), NumLossFunctionOutputs=3)
    assert state.ExtraOutputs == ["state"]


# ----------------------------------------------------------------------------------- PyTorch as the oracle

def test_linear_least_squares_matches_numpy_and_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    X = rng.standard_normal((3, 50))
    T = np.array([[1.5, -2.0, 0.5]]) @ X + 0.3 + 0.1 * rng.standard_normal((1, 50))

    def modelLoss(p, X, T):
        loss = np.sum((fullyconnect(X, p["W"], p["b"]) - T) ** 2) / 50
        return loss, dlgradient(loss, p)

    p = {"W": dlarray(np.zeros((1, 3))), "b": dlarray(np.zeros((1, 1)))}
    p, state = run(p, lambda p: dlfeval(modelLoss, p, dlarray(X, "CB"), dlarray(T, "CB")), 100,
                   LineSearchMethod="strong-wolfe")
    coef, *_ = np.linalg.lstsq(np.vstack([X, np.ones((1, 50))]).T, T.ravel(), rcond=None)
    ours = np.concatenate([extractdata(p["W"]).ravel(), extractdata(p["b"]).ravel()])
    np.testing.assert_allclose(ours, coef, atol=1e-7)

    W = torch.zeros((1, 3), dtype=torch.float64, requires_grad=True)
    bb = torch.zeros((1, 1), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([W, bb], lr=1, max_iter=100, history_size=10, tolerance_grad=1e-12,
                            tolerance_change=0, line_search_fn="strong_wolfe")
    Xt, Tt = torch.tensor(X), torch.tensor(T)

    def closure():
        opt.zero_grad()
        loss = ((W @ Xt + bb - Tt) ** 2).sum() / 50
        loss.backward()
        return loss

    opt.step(closure)
    theirs = np.concatenate([W.detach().numpy().ravel(), bb.detach().numpy().ravel()])
    np.testing.assert_allclose(ours, theirs, atol=1e-7)


def test_small_mlp_reaches_the_minimum_torch_lbfgs_reaches():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    N, H = 100, 3
    X = rng.standard_normal((2, N))
    teacher = [rng.standard_normal((H, 2)), 0.5 * rng.standard_normal((H, 1)), rng.standard_normal((1, H)),
               0.5 * rng.standard_normal((1, 1))]
    T = teacher[2] @ np.tanh(teacher[0] @ X + teacher[1]) + teacher[3]  # a teacher network: minimum loss 0
    init = [w + 0.2 * rng.standard_normal(w.shape) for w in teacher]
    iterations = 150

    def modelLoss(p, X, T):
        Y = fullyconnect(tanh(fullyconnect(X, p["W1"], p["b1"])), p["W2"], p["b2"])
        loss = np.sum((Y - T) ** 2) / N
        return loss, dlgradient(loss, p)

    p = dict(zip(["W1", "b1", "W2", "b2"], [dlarray(w.copy()) for w in init]))
    f = lambda p: dlfeval(modelLoss, p, dlarray(X, "CB"), dlarray(T, "CB"))  # noqa: E731
    initial = float(extractdata(f(p)[0]))
    p, state = run(p, f, iterations, LineSearchMethod="strong-wolfe")
    ours = float(extractdata(state.Loss))

    tp = [torch.tensor(w, requires_grad=True) for w in init]
    opt = torch.optim.LBFGS(tp, lr=1, max_iter=iterations, max_eval=10 * iterations, history_size=10,
                            tolerance_grad=1e-12, tolerance_change=0, line_search_fn="strong_wolfe")
    Xt, Tt = torch.tensor(X), torch.tensor(T)

    def closure():
        opt.zero_grad()
        loss = ((tp[2] @ torch.tanh(tp[0] @ Xt + tp[1]) + tp[3] - Tt) ** 2).sum() / N
        loss.backward()
        return loss

    opt.step(closure)
    theirs = float(closure().detach())
    assert theirs < 1e-4 * initial  # the oracle found the teacher's minimum (loss 0) ...
    assert ours < 1e-4 * initial    # ... and so did lbfgsupdate, at least as closely (same iteration budget)
    assert ours <= 10 * theirs + 1e-12
    Xd = dlarray(X, "CB")
    Y_ours = extractdata(fullyconnect(tanh(fullyconnect(Xd, p["W1"], p["b1"])), p["W2"], p["b2"]))
    Y_theirs = (tp[2] @ torch.tanh(tp[0] @ Xt + tp[1]) + tp[3]).detach().numpy()
    np.testing.assert_allclose(Y_ours, Y_theirs, atol=0.02)
    np.testing.assert_allclose(Y_ours, T, atol=0.02)


# ----------------------------------------------------------------------------------- teaching errors

def _quad():
    A, b, _ = quadratic(3, 2.0)
    return {"x": dlarray(np.zeros(3))}, quad_lossfcn(A, b)


def test_lossfcn_returning_only_the_loss():
    def modelLoss(p):
        return np.sum(p["x"] ** 2)

    p, _ = _quad()
    with pytest.raises(UpdaterArgumentError, match="loss AND the gradients"):
        lbfgsupdate(p, lambda p: dlfeval(modelLoss, p), lbfgsState())


def test_non_scalar_loss():
    def modelLoss(p):
        loss = p["x"] ** 2
        return loss, {"x": 2 * p["x"]}

    p, _ = _quad()
    with pytest.raises(NonScalarLossError, match="scalar"):
        lbfgsupdate(p, lambda p: dlfeval(modelLoss, p), lbfgsState())


def test_gradients_instead_of_a_function():
    p, f = _quad()
    loss, grads = f(p)
    with pytest.raises(UpdaterArgumentError, match="look like gradients"):
        lbfgsupdate(p, grads, lbfgsState())
    with pytest.raises(UpdaterArgumentError, match="result of dlfeval"):
        lbfgsupdate(p, (loss, grads), lbfgsState())


def test_solver_state_of_other_parameters():
    p, f = _quad()
    _, state = lbfgsupdate(p, f, lbfgsState())
    other = {"x": dlarray(np.zeros(4))}
    A, b, _ = quadratic(4, 2.0)
    with pytest.raises(StructureMismatchError, match="lbfgsState()"):
        lbfgsupdate(other, quad_lossfcn(A, b), state)


def test_unknown_line_search_method():
    p, f = _quad()
    with pytest.raises(ArgumentError, match="strong-wolfe"):
        lbfgsupdate(p, f, lbfgsState(), LineSearchMethod="wolfe")
    with pytest.raises(ArgumentError, match="MaxNumLineSearchIterations"):
        lbfgsupdate(p, f, lbfgsState(), MaxNumLineSearchIterations=0)


def test_solver_state_none_or_a_tuple():
    p, f = _quad()
    with pytest.raises(UpdaterArgumentError, match=r"lbfgsState\(\)"):
        lbfgsupdate(p, f, None)
    out = lbfgsupdate(p, f, lbfgsState())
    with pytest.raises(UpdaterArgumentError, match="unpack"):
        lbfgsupdate(p, f, out)


def test_lossfcn_without_an_argument():
    p, f = _quad()
    with pytest.raises(UpdaterArgumentError, match="one argument"):
        lbfgsupdate(p, lambda: f(p), lbfgsState())


def test_gradients_and_loss_swapped_or_for_other_parameters():
    def swapped(p):
        loss = np.sum(p["x"] ** 2)
        return dlgradient(loss, p), loss

    def other(p):
        loss = np.sum(p["x"] ** 2)
        return loss, {"y": dlgradient(loss, p["x"])}

    p, _ = _quad()
    with pytest.raises(UpdaterArgumentError, match="looks like the gradients"):
        lbfgsupdate(p, lambda p: dlfeval(swapped, p), lbfgsState())
    with pytest.raises(StructureMismatchError, match="dlgradient"):
        lbfgsupdate(p, lambda p: dlfeval(other, p), lbfgsState())


def test_lossfcn_without_dlfeval_gets_dlgradients_error():
    def modelLoss(p):
        loss = np.sum(p["x"] ** 2)
        return loss, dlgradient(loss, p)

    p, _ = _quad()
    with pytest.raises(NotTracedError):
        lbfgsupdate(p, modelLoss, lbfgsState())


def test_state_as_first_argument_and_bad_parameters():
    p, f = _quad()
    with pytest.raises(UpdaterArgumentError, match="order"):
        lbfgsupdate(lbfgsState(), f, p)
    with pytest.raises(DLTeachError, match="None"):
        lbfgsupdate(None, f, lbfgsState())
    with pytest.raises(UpdaterArgumentError, match="float32"):
        lbfgsupdate({"x": np.zeros(3, int)}, f, lbfgsState())


def test_table_and_list_parameters_with_mixed_precision():
    # a Table (net.Learnables) stays a Table; in a list, a float64 and a float32 array keep their dtypes
    from dlteach.network import with_learnables

    net, _, X, T = _net_and_dict()

    def tableLoss(learnables, X, T):
        from dlteach import forward
        loss = np.sum((forward(with_learnables(net, learnables), X) - T) ** 2) / 30
        return loss, dlgradient(loss, learnables)

    t, state = run(net.Learnables, lambda t: dlfeval(tableLoss, t, X, T), 5)
    assert type(t).__name__ == "Table" and list(t.Parameter) == list(net.Learnables.Parameter)
    assert float(extractdata(state.Loss)) < float(extractdata(dlfeval(tableLoss, net.Learnables, X, T)[0]))

    def listLoss(p):
        loss = np.sum((p[0] - 2) ** 2) + np.sum((p[1] + 1) ** 2)
        return loss, dlgradient(loss, p)

    p = [dlarray(np.ones(3)), dlarray(np.ones(2, np.float32))]
    p, state = run(p, lambda p: dlfeval(listLoss, p), 20)
    assert p[0].dtype == np.float64 and p[1].dtype == np.float32
    np.testing.assert_allclose(extractdata(p[0]), 2.0, atol=1e-6)
    np.testing.assert_allclose(extractdata(p[1]), -1.0, atol=1e-6)


def test_at_a_stationary_point_nothing_moves():
    def modelLoss(p):
        loss = np.sum((p["x"] - 1.0) ** 2)
        return loss, dlgradient(loss, p)

    p = {"x": dlarray(np.ones(3))}
    p1, state = lbfgsupdate(p, lambda p: dlfeval(modelLoss, p), lbfgsState())
    assert state.GradientsNorm == 0 and state.StepNorm == 0 and state.LineSearchStatus == "completed"
    assert state.num_loss_evaluations == 1  # no line search along a zero direction
    np.testing.assert_array_equal(x_of(p1), np.ones(3))
