"""Parameter updaters: ``adamupdate``, ``rmspropupdate``, ``sgdmupdate`` and ``dlupdate``.

MATLAB counterpart: the functions of the same names (Deep Learning Toolbox), same argument order::

    net, averageGrad, averageSqGrad = adamupdate(net, grad, averageGrad, averageSqGrad, iteration)
    params, averageSqGrad           = rmspropupdate(params, grad, averageSqGrad, learnRate, sqGradDecay)
    net, vel                        = sgdmupdate(net, grad, vel, learnRate=0.01, momentum=0.9)
    params                          = dlupdate(lambda w, g: w - lr * g, params, grad)

Hyper-parameters are positional in MATLAB's order and also accepted as keywords with MATLAB's names
(``learnRate``, ``gradDecay``, ``sqGradDecay``, ``epsilon``, ``momentum``).

What can be updated (the same kinds as ``dlgradient`` returns): a dlarray, a NumPy array, a nested
dict / list / tuple of them (MATLAB struct / cell), a :class:`~dlteach.table.Table` such as
``net.Learnables``, or a ``dlnetwork``. ``grad`` and every state argument must have exactly the same
structure as the parameters; the state is ``None`` on the first call (MATLAB ``[]``) and afterwards
whatever the previous call returned. Outputs have the structure of the parameters; each state leaf is
of the same kind (dlarray with the parameter's format / ndarray) and dtype as its parameter.

Teaching point - learn-rate factors: only the ``dlnetwork`` syntax ``adamupdate(net, ...)`` applies
each parameter's ``LearnRateFactor`` (effective lr = learnRate x factor). Passing ``net.Learnables``
(a Table) uses the global learnRate for every row - the factors are silently ignored, exactly as in
MATLAB - and returns a Table, not a network.

Decisions (documented because MATLAB's documentation does not settle them):

* A parameter whose effective learning rate is exactly 0 is skipped entirely, its state left as it was
  (MATLAB R2022+). This applies to every syntax (in the params syntax the effective rate is learnRate).
  If that state was ``None`` (first call), it is returned as zeros so that the next call gets a
  complete state container.
* A ``None`` leaf inside a state container is treated as zeros, like a top-level ``None``.
* The three solvers refuse traced (inside-``dlfeval``) parameters: call them in the training loop after
  ``dlfeval`` has returned the gradients. ``dlupdate`` accepts anything its function accepts.
* Computation is in the parameter's dtype (float32 stays float32): gradients and states are cast to
  it, hyper-parameters are Python floats, and the caller's arrays are never modified.
"""

from __future__ import annotations

import math
import numbers
import warnings
from itertools import repeat

import numpy as np
from autograd.tracer import isbox

from . import tree
from . import validate as _v
from .dlarray import dlarray, isdlarray
from .errors import NonFiniteGradientWarning, StructureMismatchError, UpdaterArgumentError
from .formats import data_of, datas_of, size_text, value_of, wrap_each_like, wrap_like
from .network import dlnetwork, learn_rate_factors, with_learnables

__all__ = ["adamupdate", "rmspropupdate", "sgdmupdate", "dlupdate"]


# -------------------------------------------------------------------------------------------------
# hyper-parameter validation

def _real_scalar(fname, name, value):
    if type(value) is float or type(value) is int:  # the common case
        return float(value)
    if value is None:
        _v.fail(fname, name, "one real number (a scalar such as 0.001)", None, cls=UpdaterArgumentError)
    if isinstance(value, bool):
        raise UpdaterArgumentError(f"{fname}: {name} must be a real number, got {value!r}.")
    try:
        arr = np.asarray(value_of(value))
        if arr.size != 1 or arr.dtype.kind not in "fiu":
            raise TypeError
        return float(arr.reshape(()))
    except (TypeError, ValueError):
        raise UpdaterArgumentError(
            f"{fname}: {name} must be one real number (a scalar such as 0.001), got {kind_text(value)}."
        ) from None


def _check_learn_rate(fname, lr):
    lr = _real_scalar(fname, "learnRate", lr)
    if not math.isfinite(lr) or lr < 0:
        raise UpdaterArgumentError(
            f"{fname}: learnRate must be a finite non-negative number, got {lr!r}. The update already "
            "subtracts the step (theta = theta - learnRate * ...): pass a positive learning rate such as "
            "0.001 - a negative one would climb the loss instead of descending it."
        )
    return lr


def _check_decay(fname, name, value, symbol):
    value = _real_scalar(fname, name, value)
    if not (0.0 <= value < 1.0):
        raise UpdaterArgumentError(
            f"{fname}: {name} ({symbol}) must be in [0, 1), got {value!r}. It is the weight of the old "
            f"moving average: typical values are 0.9 or 0.999. A value of 1 would never let new gradients in."
        )
    return value


def _check_epsilon(fname, eps):
    eps = _real_scalar(fname, "epsilon", eps)
    if not math.isfinite(eps) or eps <= 0:
        raise UpdaterArgumentError(
            f"{fname}: epsilon must be a finite positive number, got {eps!r}. It keeps the denominator "
            "sqrt(v) + epsilon away from zero; the usual value is 1e-8."
        )
    return eps


def _check_momentum(fname, momentum):
    momentum = _real_scalar(fname, "momentum", momentum)
    if not (0.0 <= momentum <= 1.0):
        raise UpdaterArgumentError(
            f"{fname}: momentum must be in [0, 1], got {momentum!r}. It is the fraction of the previous "
            "velocity that is kept; the usual value is 0.9."
        )
    return momentum


def _check_iteration(iteration):
    if type(iteration) is int and iteration >= 1:  # the common case
        return iteration
    bad = isinstance(iteration, bool) or iteration is None
    t = None
    if not bad:
        try:
            arr = np.asarray(value_of(iteration))
            if arr.size != 1 or arr.dtype.kind not in "fiu":
                raise TypeError
            t = arr.reshape(()).item()
        except (TypeError, ValueError):
            bad = True
    if bad or not math.isfinite(t) or t != int(t) or t < 1:
        raise UpdaterArgumentError(
            f"adamupdate: iteration must be a positive integer (1, 2, 3, ...), got {iteration!r}. It is the "
            "number of updates made so far including this one, used for Adam's bias correction. Start the "
            "counter at 0 before the loop and increment it BEFORE calling adamupdate, so the first call "
            "gets 1:\n\n    iteration = 0\n    for ...:\n        iteration += 1\n        net, avgG, avgSqG = "
            "adamupdate(net, grad, avgG, avgSqG, iteration)" + (f"\n\n{_v.NONE_HINT}" if iteration is None else "")
        )
    return int(t)


# -------------------------------------------------------------------------------------------------
# containers

def _gather(fname, params, others, names, on_mismatch=None):
    """Leaves of params and of each other container (None -> None), checking the structures.

    Returns ``(leaves, gathered, rebuild)``; ``rebuild(new_leaves)`` gives a container like params.
    Fast path: read each container's leaves along the parameters' structure (TreeDef.leaves_of); on any difference
    tree.tree_map is run pairwise, which accepts what it accepts (dict key order) and otherwise raises
    StructureMismatchError naming the first mismatching key / index.
    """
    last = _LAST_TREEDEF[0]  # one tuple, read once (another thread may replace it)
    leaves, treedef = tree.flatten_as(params, last[0])  # a training loop passes one structure again
    if treedef is last[0]:
        rebuild, leaves_of = last[1], last[2]
    else:
        rebuild, leaves_of = treedef.functions()
        _LAST_TREEDEF[0] = (treedef, rebuild, leaves_of)
    if on_mismatch is None:
        gathered = [None if other is None else leaves_of(other) for other in others]
        if None not in gathered:  # the common case: every container has the structure (and no state is None)
            return leaves, gathered, rebuild
    gathered = []
    for name, other in zip(names, others):
        if other is None and on_mismatch is None:  # a state on the first call
            gathered.append(None)
            continue
        collected = leaves_of(other)
        if collected is not None:  # the common case (a mismatch is never accepted: the check below may not apply)
            gathered.append(collected)
            continue
        if on_mismatch is None and not tree.is_container(other) and tree.is_container(params) and name != "grad":
            raise UpdaterArgumentError(
                f"{fname}: {name} is {kind_text(other)} but the parameters are {kind_text(params)}. Initialise the "
                f"state with None (MATLAB: {name} = []), not with zeros: on the first call {fname} starts from "
                f"zeros of the right sizes itself and returns a state with the same structure as the "
                f"parameters; pass that back on the next call. (MATLAB's classic mistake is {name} = "
                "zeros(size(net)).)"
            )
        collected = []
        try:
            tree.tree_map(lambda p, o, out=collected: out.append(o), params, other)
        except StructureMismatchError as e:
            if on_mismatch is not None:
                raise on_mismatch(name, e) from None
            hint = ("Pass the gradients that dlgradient returned for these very parameters."
                    if name == "grad" else
                    f"Pass None on the first call and afterwards the {name} that {fname} returned.")
            raise StructureMismatchError(f"{fname}: {name} does not match the parameters. {e} {hint}") from None
        gathered.append(collected)
    return leaves, gathered, rebuild


# the structure of the last parameters (tree.flatten_as reuses it only if identical) and its two functions
_LAST_TREEDEF = [(None, None, None)]


def kind_text(x) -> str:
    """What ``x`` is, for messages ("a dict", "an array of shape 3x4", "the number 0"); shared with lbfgs."""
    if isinstance(x, dict):
        return "a dict"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__}"
    if isdlarray(x) or isinstance(x, np.ndarray):
        return f"an array of shape {size_text(x)}"
    if isinstance(x, numbers.Number):
        return f"the number {x}"
    return f"a {type(x).__name__}"


# -------------------------------------------------------------------------------------------------
# leaves

def param_array(fname, leaf, i, params, prefix):
    """Leaf ``i`` of the parameters as a floating ndarray (float32 / float64), else an UpdaterArgumentError naming it
    (a traced parameter: the updater was called inside dlfeval). Shared with lbfgs."""
    raw = data_of(leaf)
    if isbox(raw):
        raise UpdaterArgumentError(
            f"{fname}: the parameters are being traced by dlfeval. Call {fname} in the training loop, after "
            "dlfeval has returned the loss and the gradients - not inside the model loss function."
        )
    if isinstance(raw, np.ndarray):
        arr = raw
    elif isinstance(raw, (float, np.floating)):
        arr = np.asarray(raw)
    else:
        arr = None
    if arr is None or arr.dtype.kind != "f" or arr.dtype.itemsize < 4:
        where = tree.leaf_paths(params, prefix)[i]
        if leaf is None:
            raise UpdaterArgumentError(f"{fname}: {where} is None; learnable parameters must be floating-point "
                                       f"arrays. {_v.NONE_HINT}")
        extra = (" float16 (half precision) is not supported: its epsilon underflows (1e-8 is 0 in float16) and the "
                 "update would divide by zero." if arr is not None and arr.dtype.kind == "f" else "")
        raise UpdaterArgumentError(
            f"{fname}: {where} is {kind_text(leaf) if arr is None else f'an array of dtype {arr.dtype}'}; learnable "
            "parameters must be floating-point arrays (float32 = MATLAB single)." + extra + " Convert them with "
            ".astype(np.float32)."
        )
    return arr


def _fast_array(leaf, arr_p):
    """The common case of :func:`_other_array`: an untraced array of the parameter's shape and dtype (else None)."""
    raw = data_of(leaf)
    if type(raw) is np.ndarray and raw.shape == arr_p.shape and raw.dtype == arr_p.dtype:
        return raw
    return None


def _other_array(fname, name, leaf, arr_p, i, params, prefix="params"):
    """A gradient or state leaf as an ndarray of the parameter's dtype (None stays None)."""
    if leaf is None:
        if name == "grad":
            where = tree.leaf_paths(params, "grad")[i]
            raise UpdaterArgumentError(f"{fname}: {where} is None; every parameter needs a gradient array. "
                                       f"{_v.NONE_HINT}")
        return None
    raw = value_of(leaf)
    if isinstance(raw, np.ndarray):
        arr = raw
    else:
        try:
            arr = np.asarray(raw)
        except Exception:  # pragma: no cover - exotic objects
            arr = None
    if arr is None or arr.dtype.kind not in "fiu":
        where = tree.leaf_paths(params, name)[i]
        what = kind_text(leaf) if arr is None or not isinstance(raw, np.ndarray) else f"an array of dtype {arr.dtype}"
        hint = ""
        if arr is not None and arr.dtype.kind == "c":
            hint = (" Its imaginary part would be lost: a real loss has real gradients, so check where complex "
                    "numbers entered the computation (e.g. a complex constant, np.fft or np.emath).")
        elif arr is not None and arr.dtype.kind == "O":
            hint = (" An object array holds Python objects, not numbers (often a list mixing arrays and numbers): "
                    "pass the arrays that dlgradient returned.")
        raise UpdaterArgumentError(f"{fname}: {where} is {what}, expected a real numeric array.{hint}")
    if arr.shape != arr_p.shape:
        where = tree.leaf_paths(params, name)[i]
        pwhere = tree.leaf_paths(params, prefix)[i]
        if name == "grad":
            fix = ("The gradient of a parameter always has the parameter's size: check that the gradients come "
                   "from dlgradient(loss, <these parameters>) and are passed in the same order.")
        else:
            fix = (f"Initialise the state with None (MATLAB: []) rather than with zeros, and afterwards pass "
                   f"back the {name} that {fname} returned.")
        raise UpdaterArgumentError(
            f"{fname}: {where} has shape {arr.shape} but {pwhere} has shape {arr_p.shape}. {fix}"
        )
    if arr.dtype != arr_p.dtype:
        arr = arr.astype(arr_p.dtype)
    return arr


def pack_like(template, data):
    """Wrap ``data`` like the parameter leaf ``template`` (dlarray keeps its format); shared with lbfgs."""
    if isdlarray(template):
        return wrap_like(data, template)
    if isinstance(template, np.ndarray):
        return data
    if isinstance(template, np.generic):
        return data[()]
    return float(data)


# -------------------------------------------------------------------------------------------------
# driver shared by the three solvers

def _run(fname, step, params, grad, states, state_names, lr, hyper):
    """Apply ``step(p, g, states..., lr, *hyper) -> (p_new, state_new...)`` leaf by leaf.

    Handles dlnetwork (learn-rate factors, returns a new network), Table and nested containers.
    """
    network = params if isinstance(params, dlnetwork) else None
    if params is None:
        _v.fail(fname, "params (the parameters to update)", "a dlnetwork, a Table such as net.Learnables, or a "
                "dict / list of arrays", None, cls=UpdaterArgumentError)
    if grad is None:
        _v.fail(fname, "grad (the gradients)", "the gradients that dlgradient returned, with the structure of "
                "the parameters", None, cls=UpdaterArgumentError)
    if isinstance(grad, dlnetwork):
        raise UpdaterArgumentError(
            f"{fname}: grad is a dlnetwork, not gradients. Differentiate with respect to the network's learnable "
            "parameters, net.Learnables, in the model loss function:\n\n    gradients = dlgradient(loss, "
            f"net.Learnables)\n\nand pass those: net, ... = {fname}(net, gradients, ...)."
        )
    if network is not None:
        container = network.Learnables
        factors = learn_rate_factors(network)
        for v in container.Value:
            if v is None:
                raise UpdaterArgumentError(
                    f"{fname}: the network is not initialized (it was created with Initialize=False, so its "
                    "learnables are still empty []). Initialize it before training:\n\n    net = initialize(net)\n\n"
                    "(MATLAB: net = initialize(net)); dlnetwork(layers) with the default Initialize=True does it for "
                    "you."
                )
    else:
        container = params
        factors = None
    leaves, gathered, rebuild = _gather(fname, container, (grad, *states), ("grad", *state_names))
    grad_leaves, state_leaves = gathered[0], gathered[1:]
    if factors is not None and len(factors) != len(leaves):
        raise UpdaterArgumentError(
            f"{fname}: the network reports {len(factors)} learn-rate factors for {len(leaves)} learnables."
        )
    done, new_params, new_states, nonfinite = _fast_update(step, leaves, grad_leaves, state_leaves, lr, factors, hyper)
    if done != len(leaves):  # the others, from the first that is not the common case, leaf by leaf
        _update_leaves(fname, step, container, leaves, grad_leaves, state_leaves, state_names, lr, factors, hyper,
                       network is not None, done, new_params, new_states, nonfinite)
    if nonfinite:
        _warn_nonfinite(fname, container, nonfinite)
    new_container = rebuild(new_params)
    first = with_learnables(network, new_container) if network is not None else new_container
    if len(new_states) == 2:
        return first, rebuild(new_states[0]), rebuild(new_states[1])
    return (first, *[rebuild(s) for s in new_states])


def _fast_update(step, leaves, grad_leaves, state_leaves, lr, factors, hyper):
    """The common case of :func:`_update_leaves`, in one loop with no call per check: the parameter, its gradient
    and its states are ndarrays (or dlarrays of them) of one floating dtype (float32 / float64) and shape, the
    parameter is not 0-d and no rate is 0 or invalid; every state is given, or every state is None (the first
    call). Returns ``(done, new_params, new_states, nonfinite)``: the leaves ``0..done-1`` were such and were
    updated (``new_params[i]`` and ``new_states[k][i]`` wrapped like leaf i); :func:`_update_leaves` does the
    others, from leaf ``done`` on (all of them for a rate of 0 or an invalid learn-rate factor), with the checks
    that name a leaf - so every step runs once, in leaf order, as before. ``nonfinite`` lists the leaves whose
    gradient holds NaN / Inf.

    The step is the solver's constant form (:data:`_CONST_STEPS`): its scalars are 0-d arrays of the leaf's dtype
    (:func:`_const_arrays`) instead of Python floats, which NumPy would convert on every ufunc call - the same numbers,
    so the same results."""
    n_state = len(state_leaves)
    new_params, new_states, nonfinite = [], [[] for _ in range(n_state)], []
    if factors is None:
        if not lr:
            return 0, new_params, new_states, nonfinite
        rates = repeat(lr)
    else:
        rates = _effective_lrs(lr, factors)
        if not all(rates):  # a rate of 0 (the parameter is skipped), or None: an invalid factor
            return 0, new_params, new_states, nonfinite
    cstep, consts = _CONST_STEPS[step]
    datas, grads = datas_of(leaves), datas_of(grad_leaves)
    if None in state_leaves:
        if state_leaves.count(None) != n_state:  # some states given, some not (adamupdate refuses it before)
            return 0, new_params, new_states, nonfinite
        outs = (new_params, *new_states)
        done = _fast_first(step, cstep, consts, datas, grads, n_state, rates, hyper, outs, nonfinite)
    elif n_state == 2:
        done = _fast_two(step, cstep, consts, datas, grads, datas_of(state_leaves[0]), datas_of(state_leaves[1]),
                         rates, hyper, new_params, new_states[0], new_states[1], nonfinite)
    else:
        done = _fast_one(step, cstep, consts, datas, grads, datas_of(state_leaves[0]), rates, hyper, new_params,
                         new_states[0], nonfinite)
    if done:
        new_params = wrap_each_like(new_params, leaves)
        new_states = [wrap_each_like(s, leaves) for s in new_states]
    return done, new_params, new_states, nonfinite


def _fast_two(step, cstep, consts, datas, grads, ms, vs, rates, hyper, new_p, new_m, new_v, nonfinite):
    """The loop of :func:`_fast_update` for a solver with two states (Adam); appends the new arrays (unwrapped),
    returns the number of leaves done."""
    ndarray, f32, f64 = np.ndarray, _F32, _F64
    vdot, isfinite = np.vdot, math.isfinite
    add_p, add_m, add_v = new_p.append, new_m.append, new_v.append
    kdt = krate = k = None
    i = 0
    for p, g, m, v, rate in zip(datas, grads, ms, vs, rates):
        if type(p) is not ndarray or type(g) is not ndarray or type(m) is not ndarray or type(v) is not ndarray:
            break
        dt = p.dtype
        shape = p.shape
        if ((dt is not f32 and dt is not f64) or not shape or g.dtype is not dt or m.dtype is not dt
                or v.dtype is not dt or g.shape != shape or m.shape != shape or v.shape != shape):
            break
        if dt is not kdt or rate != krate:
            kdt, krate = dt, rate
            k = consts(dt, rate, hyper)
        if not isfinite(vdot(g, g)) and not np.isfinite(g).all():  # one BLAS pass: inf / NaN make it non-finite
            nonfinite.append(i)
        p, m, v = step(p, g, m, v, rate, *hyper) if k is None else cstep(p, g, m, v, k)
        add_p(p)
        add_m(m)
        add_v(v)
        i += 1
    return i


def _fast_one(step, cstep, consts, datas, grads, vs, rates, hyper, new_p, new_v, nonfinite):
    """:func:`_fast_two` for a solver with one state (RMSProp, SGDM)."""
    ndarray, f32, f64 = np.ndarray, _F32, _F64
    vdot, isfinite = np.vdot, math.isfinite
    kdt = krate = k = None
    i = 0
    for p, g, v, rate in zip(datas, grads, vs, rates):
        if type(p) is not ndarray or type(g) is not ndarray or type(v) is not ndarray:
            break
        dt = p.dtype
        shape = p.shape
        if ((dt is not f32 and dt is not f64) or not shape or g.dtype is not dt or v.dtype is not dt
                or g.shape != shape or v.shape != shape):
            break
        if dt is not kdt or rate != krate:
            kdt, krate = dt, rate
            k = consts(dt, rate, hyper)
        if not isfinite(vdot(g, g)) and not np.isfinite(g).all():
            nonfinite.append(i)
        p, v = step(p, g, v, rate, *hyper) if k is None else cstep(p, g, v, k)
        new_p.append(p)
        new_v.append(v)
        i += 1
    return i


def _fast_first(step, cstep, consts, datas, grads, n_state, rates, hyper, outs, nonfinite):
    """:func:`_fast_two` / :func:`_fast_one` on the first call (every state None); ``outs`` are the lists of the new
    parameters and of each new state."""
    ndarray, f32, f64 = np.ndarray, _F32, _F64
    vdot, isfinite = np.vdot, math.isfinite
    nones = (None,) * n_state
    kdt = krate = k = None
    i = 0
    for p, g, rate in zip(datas, grads, rates):
        if type(p) is not ndarray or type(g) is not ndarray:
            break
        dt = p.dtype
        if (dt is not f32 and dt is not f64) or not p.shape or g.dtype is not dt or g.shape != p.shape:
            break
        if dt is not kdt or rate != krate:
            kdt, krate = dt, rate
            k = consts(dt, rate, hyper)
        if not isfinite(vdot(g, g)) and not np.isfinite(g).all():
            nonfinite.append(i)
        for out, a in zip(outs, step(p, g, *nones, rate, *hyper) if k is None else cstep(p, g, *nones, k)):
            out.append(a)
        i += 1
    return i


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def _effective_lrs(lr, factors):
    """learnRate x each learn-rate factor, None for an invalid one (then :func:`_effective_lr` raises in
    :func:`_update_leaves`, at its row). The last result is kept: a training loop passes the same ones again."""
    last = _LAST_RATES[0]  # one tuple, read once
    if lr == last[0] and factors == last[1]:  # equal numbers give equal products (NaN never equals: recomputed)
        return last[2]
    out = []
    for f in factors:
        try:
            f = float(f)
        except Exception:
            out.append(None)
            continue
        out.append(lr * f if math.isfinite(f) and f >= 0 else None)
    _LAST_RATES[0] = (lr, factors, out)
    return out


_LAST_RATES = [(None, None, None)]  # (learnRate, the factors, the rates); none of them is changed in place


def _update_leaves(fname, step, container, leaves, grad_leaves, state_leaves, state_names, lr, factors, hyper,
                   is_network, start, new_params, new_states, nonfinite):
    """Leaf by leaf from leaf ``start`` on, with the checks that name a leaf: appends to ``new_params``, each list of
    ``new_states`` and ``nonfinite`` (the indices of non-finite gradients)."""
    prefix = "net.Learnables" if is_network else "params"
    n_state = len(state_leaves)
    fast_dtypes = _FAST_DTYPES
    vdot = np.vdot
    for i in range(start, len(leaves)):
        p = leaves[i]
        arr_p = data_of(p)
        g = data_of(grad_leaves[i])
        eff_lr = lr if factors is None else _effective_lr(fname, lr, factors, i, container)
        # the common case, checked inline: the parameter, its gradient and its states are ndarrays of one
        # floating dtype (float32 / float64) and shape, the parameter is not 0-d and its rate is not 0
        if (type(arr_p) is np.ndarray and arr_p.dtype in fast_dtypes and arr_p.ndim and type(g) is np.ndarray
                and g.dtype == arr_p.dtype and g.shape == arr_p.shape and eff_lr != 0.0):
            if n_state == 2:
                s_arr = (None if state_leaves[0] is None else data_of(state_leaves[0][i]),
                         None if state_leaves[1] is None else data_of(state_leaves[1][i]))
            else:
                s_arr = [None if sl is None else data_of(sl[i]) for sl in state_leaves]
            for a in s_arr:
                if a is not None and not (type(a) is np.ndarray and a.dtype == arr_p.dtype and a.shape == arr_p.shape):
                    break
            else:
                if not math.isfinite(vdot(g, g)) and not np.isfinite(g).all():  # one BLAS pass: inf/NaN
                    nonfinite.append(i)
                out = step(arr_p, g, *s_arr, eff_lr, *hyper)
                if type(p) is dlarray:
                    new_params.append(wrap_like(out[0], p))
                    for k in range(n_state):
                        new_states[k].append(wrap_like(out[1 + k], p))
                else:
                    new_params.append(pack_like(p, out[0]))
                    for k in range(n_state):
                        new_states[k].append(pack_like(p, out[1 + k]))
                continue
        # everything else: checks that name the leaf, 0-d parameters, a zero rate
        if type(arr_p) is not np.ndarray or arr_p.dtype.kind != "f" or arr_p.dtype.itemsize < 4:
            arr_p = param_array(fname, p, i, container, prefix)
        g = _fast_array(grad_leaves[i], arr_p)
        if g is None:
            g = _other_array(fname, "grad", grad_leaves[i], arr_p, i, container, prefix)
        gf = g.reshape(-1)
        if not math.isfinite(gf.dot(gf)) and not np.isfinite(g).all():  # one BLAS pass: inf/NaN make it non-finite
            nonfinite.append(i)
        s_in = [None if sl is None else sl[i] for sl in state_leaves]
        s_arr = []
        for k, leaf in enumerate(s_in):
            a = None if leaf is None else _fast_array(leaf, arr_p)
            if a is None and leaf is not None:
                a = _other_array(fname, state_names[k], leaf, arr_p, i, container, prefix)
            s_arr.append(a)
        if eff_lr == 0.0:
            new_params.append(p)
            for k in range(n_state):
                new_states[k].append(s_in[k] if s_in[k] is not None else pack_like(p, np.zeros_like(arr_p)))
            continue
        if arr_p.ndim == 0:  # ufuncs return NumPy scalars for 0-d input; compute on 1-element views
            out = step(arr_p.reshape(1), g.reshape(1), *(a if a is None else a.reshape(1) for a in s_arr),
                       eff_lr, *hyper)
            out = [o.reshape(()) for o in out]
        else:
            out = step(arr_p, g, *s_arr, eff_lr, *hyper)
        new_params.append(pack_like(p, out[0]))
        for k in range(n_state):
            new_states[k].append(pack_like(p, out[1 + k]))


_INF = math.inf
_FAST_DTYPES = frozenset((np.dtype(np.float32), np.dtype(np.float64)))


def _effective_lr(fname, lr, factors, i, container):
    """learnRate x the learn-rate factor of row i (a dlnetwork's updates)."""
    f = float(factors[i])
    if not math.isfinite(f) or f < 0:
        where = tree.leaf_paths(container, "net.Learnables")[i]
        raise UpdaterArgumentError(f"{fname}: the learn-rate factor of {where} is {f!r}; factors must be finite and >= 0.")
    return lr * f


def _warn_nonfinite(fname, container, indices):
    names = tree.leaf_paths(container, "grad")
    listed = [names[i] for i in indices]
    shown = ", ".join(listed[:6]) + (f" and {len(listed) - 6} more" if len(listed) > 6 else "")
    warnings.warn(
        f"{fname}: the gradient {shown} contains NaN or Inf values; the update was made (as in MATLAB), so "
        f"the affected parameters are now NaN/Inf too. Usual causes: a learning rate that is too large "
        "(the loss diverged), log(0) or a division by zero in the loss (use crossentropy, which clamps "
        "probabilities), or NaN in the input data. Check np.isnan(loss) in the training loop.",
        NonFiniteGradientWarning, stacklevel=4)


# -------------------------------------------------------------------------------------------------
# the solvers' per-array steps (fresh arrays only; the inputs are never written)

def _adam_step(p, g, m, v, lr, b1, b2, eps, t):
    tmp = np.multiply(g, 1.0 - b1)
    if m is None:
        m_new = tmp
        tmp = np.empty_like(g)
    else:
        m_new = np.multiply(m, b1)
        m_new += tmp
    np.multiply(g, g, out=tmp)
    tmp *= 1.0 - b2
    if v is None:
        v_new = tmp
        tmp = np.empty_like(g)
    else:
        v_new = np.multiply(v, b2)
        v_new += tmp
    alpha = lr * math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
    np.sqrt(v_new, out=tmp)
    tmp += eps
    np.divide(m_new, tmp, out=tmp)
    tmp *= alpha
    return np.subtract(p, tmp, out=tmp), m_new, v_new  # tmp is ours: it becomes the new parameter array


def _rmsprop_step(p, g, v, lr, rho, eps):
    tmp = np.multiply(g, g)
    tmp *= 1.0 - rho
    if v is None:
        v_new = tmp
        tmp = np.empty_like(g)
    else:
        v_new = np.multiply(v, rho)
        v_new += tmp
    np.sqrt(v_new, out=tmp)
    tmp += eps
    np.divide(g, tmp, out=tmp)
    tmp *= lr
    return np.subtract(p, tmp, out=tmp), v_new


def _sgdm_step(p, g, vel, lr, mu):
    vel_new = np.multiply(g, -lr)
    if vel is not None:
        vel_new += np.multiply(vel, mu)
    return np.add(p, vel_new), vel_new


# the same steps with their scalars as 0-d arrays of the parameter's dtype (the common-case loop's)

_multiply, _add, _subtract, _divide, _sqrt, _empty_like = (np.multiply, np.add, np.subtract, np.divide, np.sqrt,
                                                           np.empty_like)


def _adam_cstep(p, g, m, v, k):
    """:func:`_adam_step` with ``k = _adam_consts(...)``: the same operations on the same numbers."""
    c1, cb1, c2, cb2, ceps, calpha = k
    tmp = _multiply(g, c1)
    if m is None:
        m_new = tmp
        tmp = _empty_like(g)
    else:
        m_new = _multiply(m, cb1)
        _add(m_new, tmp, m_new)
    _multiply(g, g, tmp)
    _multiply(tmp, c2, tmp)
    if v is None:
        v_new = tmp
        tmp = _empty_like(g)
    else:
        v_new = _multiply(v, cb2)
        _add(v_new, tmp, v_new)
    _sqrt(v_new, tmp)
    _add(tmp, ceps, tmp)
    _divide(m_new, tmp, tmp)
    _multiply(tmp, calpha, tmp)
    return _subtract(p, tmp, tmp), m_new, v_new


def _rmsprop_cstep(p, g, v, k):
    """:func:`_rmsprop_step` with ``k = _rmsprop_consts(...)``."""
    c1, crho, ceps, clr = k
    tmp = _multiply(g, g)
    _multiply(tmp, c1, tmp)
    if v is None:
        v_new = tmp
        tmp = _empty_like(g)
    else:
        v_new = _multiply(v, crho)
        _add(v_new, tmp, v_new)
    _sqrt(v_new, tmp)
    _add(tmp, ceps, tmp)
    _divide(g, tmp, tmp)
    _multiply(tmp, clr, tmp)
    return _subtract(p, tmp, tmp), v_new


def _sgdm_cstep(p, g, vel, k):
    """:func:`_sgdm_step` with ``k = _sgdm_consts(...)``."""
    cneg_lr, cmu = k
    vel_new = _multiply(g, cneg_lr)
    if vel is not None:
        _add(vel_new, _multiply(vel, cmu), vel_new)
    return _add(p, vel_new), vel_new


_FLT_TINY, _FLT_MAX = float(np.finfo(np.float32).tiny), float(np.finfo(np.float32).max)


def _const_arrays(dt, values):
    """``values`` (Python floats) as 0-d arrays of dtype ``dt`` - the numbers a ufunc makes of them when they are
    passed as Python floats with an array of that dtype - or None if one of them does not convert to float32 without a
    floating-point exception (overflow to inf, underflow to a subnormal or 0): NumPy reports those on every
    conversion (a RuntimeWarning, or an error under np.errstate), so the steps with Python floats are used."""
    if dt is _F32:
        for x in values:
            if x and not _FLT_TINY <= abs(x) <= _FLT_MAX:
                return None
    return tuple([np.array(x, dt) for x in values])


def _kept_consts(slot, dt, values):
    """:func:`_const_arrays` of the numbers of the last call again if they are the same (a training loop passes the
    same hyper-parameters every time); ``slot`` is a one-element list holding ``(dt, values, arrays)``. A 0 is never
    taken from it: 0.0 and -0.0 are equal, but not the same number."""
    last = slot[0]  # one tuple, read once (another thread may replace it)
    if last[0] is dt and last[1] == values and 0.0 not in values:
        return last[2]
    k = _const_arrays(dt, values)
    if k is not None:
        for a in k:  # shared by calls: nobody writes them
            a.flags.writeable = False
    slot[0] = (dt, values, k)
    return k


_LAST_ADAM, _LAST_RMSPROP, _LAST_SGDM = [(None, None, None)], [(None, None, None)], [(None, None, None)]


def _adam_consts(dt, lr, hyper):
    b1, b2, eps, t = hyper
    base = _kept_consts(_LAST_ADAM, dt, (1.0 - b1, b1, 1.0 - b2, b2, eps))
    alpha = lr * math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)  # exactly as in _adam_step
    if base is None or (dt is _F32 and alpha and not _FLT_TINY <= alpha <= _FLT_MAX):
        return None
    return (*base, np.array(alpha, dt))


def _rmsprop_consts(dt, lr, hyper):
    rho, eps = hyper
    return _kept_consts(_LAST_RMSPROP, dt, (1.0 - rho, rho, eps, lr))


def _sgdm_consts(dt, lr, hyper):
    return _kept_consts(_LAST_SGDM, dt, (-lr, hyper[0]))


# step -> (its constant form, the constants of one dtype and rate: (dt, lr, hyper) -> k, or None: use the step)
_CONST_STEPS = {_adam_step: (_adam_cstep, _adam_consts), _rmsprop_step: (_rmsprop_cstep, _rmsprop_consts),
                _sgdm_step: (_sgdm_cstep, _sgdm_consts)}


# -------------------------------------------------------------------------------------------------
# public API

def adamupdate(params, grad, averageGrad, averageSqGrad, iteration, learnRate=0.001, gradDecay=0.9,
               sqGradDecay=0.999, epsilon=1e-8):
    """Adam update (MATLAB ``adamupdate``) -> ``(params, averageGrad, averageSqGrad)``.

    Per parameter, with t = iteration (1 on the first call)::

        m = gradDecay*m + (1-gradDecay)*g                 # averageGrad
        v = sqGradDecay*v + (1-sqGradDecay)*g**2          # averageSqGrad
        alpha = learnRate * sqrt(1-sqGradDecay**t) / (1-gradDecay**t)
        theta = theta - alpha * m / (sqrt(v) + epsilon)   # epsilon on the UN-corrected sqrt(v)

    This is MATLAB's ("epsilon-hat") form. PyTorch's Adam with eps=e is this form with epsilon =
    e*sqrt(1-sqGradDecay**t); this form with epsilon=e is PyTorch's with eps = e/sqrt(1-sqGradDecay**t).
    They differ only for gradients of the size of epsilon. Pass ``averageGrad = averageSqGrad = None`` on the first call (both,
    MATLAB ``[]``). For a dlnetwork each parameter uses learnRate x its LearnRateFactor and a new
    network is returned; for a Table such as ``net.Learnables`` the factors are ignored.
    """
    fname = "adamupdate"
    if (type(iteration) is int and iteration >= 1 and type(learnRate) is float and 0.0 <= learnRate < _INF
            and type(gradDecay) is float and 0.0 <= gradDecay < 1.0 and type(sqGradDecay) is float
            and 0.0 <= sqGradDecay < 1.0 and type(epsilon) is float and 0.0 < epsilon < _INF):
        t, lr, b1, b2, eps = iteration, learnRate, gradDecay, sqGradDecay, epsilon  # all valid: the common case
    else:
        t = _check_iteration(iteration)
        lr = _check_learn_rate(fname, learnRate)
        b1 = _check_decay(fname, "gradDecay", gradDecay, "beta1")
        b2 = _check_decay(fname, "sqGradDecay", sqGradDecay, "beta2")
        eps = _check_epsilon(fname, epsilon)
    if (averageGrad is None) != (averageSqGrad is None):
        given, missing = ("averageGrad", "averageSqGrad") if averageSqGrad is None else ("averageSqGrad", "averageGrad")
        raise UpdaterArgumentError(
            f"adamupdate: {missing} is None but {given} is not. Pass both as None on the first call (MATLAB: "
            "averageGrad = []; averageSqGrad = [];) and afterwards both values that adamupdate returned:\n\n"
            "    net, averageGrad, averageSqGrad = adamupdate(net, grad, averageGrad, averageSqGrad, iteration)"
        )
    return _run(fname, _adam_step, params, grad, (averageGrad, averageSqGrad), ("averageGrad", "averageSqGrad"),
                lr, (b1, b2, eps, t))


def rmspropupdate(params, grad, averageSqGrad, learnRate=0.001, sqGradDecay=0.9, epsilon=1e-8):
    """RMSProp update (MATLAB ``rmspropupdate``) -> ``(params, averageSqGrad)``.

    Per parameter: ``v = sqGradDecay*v + (1-sqGradDecay)*g**2``; ``theta = theta - learnRate*g/(sqrt(v)+epsilon)``
    (no bias correction; PyTorch's RMSprop with alpha=sqGradDecay, eps=epsilon). ``averageSqGrad`` is
    None on the first call (MATLAB ``[]``). dlnetwork / Table behaviour as in :func:`adamupdate`.
    """
    fname = "rmspropupdate"
    lr = _check_learn_rate(fname, learnRate)
    rho = _check_decay(fname, "sqGradDecay", sqGradDecay, "rho")
    eps = _check_epsilon(fname, epsilon)
    return _run(fname, _rmsprop_step, params, grad, (averageSqGrad,), ("averageSqGrad",), lr, (rho, eps))


def sgdmupdate(params, grad, vel, learnRate=0.01, momentum=0.9):
    """Stochastic gradient descent with momentum (MATLAB ``sgdmupdate``) -> ``(params, vel)``.

    Per parameter: ``vel = momentum*vel - learnRate*g``; ``theta = theta + vel`` (the velocity stores the
    negative step; PyTorch's SGD momentum buffer b = momentum*b + g corresponds to vel = -learnRate*b for a
    constant learning rate). ``vel`` is None on the first call (MATLAB ``[]``). dlnetwork / Table
    behaviour as in :func:`adamupdate`.
    """
    fname = "sgdmupdate"
    lr = _check_learn_rate(fname, learnRate)
    mu = _check_momentum(fname, momentum)
    return _run(fname, _sgdm_step, params, grad, (vel,), ("vel",), lr, (mu,))


def dlupdate(fun, params, *extra):
    """Apply ``fun`` to every learnable parameter (MATLAB ``dlupdate``).

    ``dlupdate(fun, params, A1, ..., An)`` calls ``fun(p, a1, ..., an)`` for every parameter array p of
    ``params`` (dlarray, array, dict / list / tuple, Table, dlnetwork) with the matching arrays of the
    extra containers ``A1..An``, which must have the same structure (for a dlnetwork: Tables such as the
    gradients, or other dlnetworks). Returns a container like ``params`` (a new dlnetwork for a network).
    If ``fun`` returns a tuple of k values, dlupdate returns a tuple of k containers (MATLAB
    ``[net, vel] = dlupdate(@sgdmFunction, net, grad, vel)``); the first has the kind of ``params``, the
    others are containers like ``params`` (Tables for a network). Learn-rate factors are not used.

    Examples (MATLAB's)::

        params = dlupdate(lambda w, g: w - lr * g, params, grad)            # plain SGD
        grad = dlupdate(lambda g, p: g + l1 * np.sign(p), grad, params)     # L1 regularisation
        grad = dlupdate(lambda g: g * min(1.0, thr / np.linalg.norm(g)), grad)   # gradient clipping
    """
    if not callable(fun):
        _v.fail("dlupdate", "fun (the first argument)", "the function to apply (MATLAB: a function handle such as "
                "@(w,g) w - lr*g)", fun, hint="Example: dlupdate(lambda w, g: w - lr * g, params, grad).",
                cls=UpdaterArgumentError)
    network = params if isinstance(params, dlnetwork) else None
    container = network.Learnables if network is not None else params
    extras = [e.Learnables if isinstance(e, dlnetwork) else e for e in extra]

    def mismatch(j, err):
        return StructureMismatchError(
            f"dlupdate: extra argument {j + 1} (argument {j + 3} of dlupdate) does not match the parameters. "
            f"{err} Every extra argument is split the same way as the parameters, so it must be a container "
            "of the same structure; to pass a constant (a learning rate, a threshold) capture it in the "
            "function instead: dlupdate(lambda w, g: w - lr * g, params, grad)."
        )

    leaves, extra_leaves, rebuild = _gather("dlupdate", container, extras, range(len(extras)), mismatch)
    results = [fun(p, *(el[i] for el in extra_leaves)) for i, p in enumerate(leaves)]
    multi = [type(r) is tuple for r in results]
    if not any(multi):
        out = rebuild(results)
        return with_learnables(network, out) if network is not None else out
    if not all(multi) or len({len(r) for r in results}) != 1:
        lengths = [len(r) if type(r) is tuple else 1 for r in results]
        i = next(i for i, n in enumerate(lengths) if n != lengths[0])
        where = tree.leaf_paths(container, "params")[i]
        raise UpdaterArgumentError(
            f"dlupdate: the function returned {lengths[0]} output(s) for the first parameter but {lengths[i]} for "
            f"{where}. It must return the same number of outputs for every parameter (a tuple for several)."
        )
    k = len(results[0])
    outs = [rebuild([r[j] for r in results]) for j in range(k)]
    if network is not None:
        outs[0] = with_learnables(network, outs[0])
    return tuple(outs)
