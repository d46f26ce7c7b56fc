"""Recurrent operations: ``lstm``, ``gru`` (model-function style) and ``padsequences``.

MATLAB counterparts: ``lstm``, ``gru`` (dlarray functions) and ``padsequences``.

Layout and weights are MATLAB's. ``X`` is a formatted dlarray with a channel dimension ``C``, usually
"CBT" (channels x observations x time steps); a missing ``B`` or ``T`` means one observation / one
time step; "S" dimensions are flattened into the channels. With H hidden units:

=====  ======================  ==================  =======================================
op     weights (input)         recurrentWeights    bias
=====  ======================  ==================  =======================================
lstm   4H x C                  4H x H              4H x 1
gru    3H x C                  3H x H              3H x 1 (6H x 1 with
                                                   ResetGateMode="recurrent-bias-after-multiplication")
=====  ======================  ==================  =======================================

Gate order (rows of the weights, top to bottom), as MATLAB's lstmLayer / gruLayer document it:

* LSTM: input gate i, forget gate f, cell candidate g, output gate o ``W = [W_i; W_f; W_g; W_o]``.
  PyTorch's ``nn.LSTM`` uses the same order (i, f, g, o) and the same orientation (4H x C), so
  ``weight_ih_l0 = weights``, ``weight_hh_l0 = recurrentWeights``, ``bias_ih_l0 = bias`` and
  ``bias_hh_l0 = 0`` give the same network (PyTorch adds two biases; MATLAB has one).

      i = σ(W_i x_t + R_i h_{t-1} + b_i)      f = σ(W_f x_t + R_f h_{t-1} + b_f)
      g = tanh(W_g x_t + R_g h_{t-1} + b_g)   o = σ(W_o x_t + R_o h_{t-1} + b_o)
      c_t = f ⊙ c_{t-1} + i ⊙ g               h_t = o ⊙ tanh(c_t)

* GRU: reset gate r, update gate z, candidate state h̃ ``W = [W_r; W_z; W_h̃]`` (PyTorch's r, z, n):

      r = σ(W_r x_t + R_r h_{t-1} + b_r)      z = σ(W_z x_t + R_z h_{t-1} + b_z)
      h_t = (1 - z) ⊙ h̃ + z ⊙ h_{t-1}
      "after-multiplication" (MATLAB's default):  h̃ = tanh(W_h̃ x_t + b_h̃ + r ⊙ (R_h̃ h_{t-1}))
      "before-multiplication":                    h̃ = tanh(W_h̃ x_t + b_h̃ + R_h̃ (r ⊙ h_{t-1}))
      "recurrent-bias-after-multiplication":      h̃ = tanh(W_h̃ x_t + b_h̃ + r ⊙ (R_h̃ h_{t-1} + b_Rh̃)),
          with bias = [b_W; b_R] (6H x 1) and b_R also added to the r and z gates: this is exactly
          PyTorch's ``nn.GRU`` (bias_ih = b_W, bias_hh = b_R); "after-multiplication" is nn.GRU with
          bias_hh = 0.

Efficiency: each call is ONE recorded operation (a fused primitive). The forward pass runs the time
loop in NumPy with one matrix product per step (the input projections of all time steps are one
product); the hand-written backward pass (backpropagation through time) does one product per step
for the recurrent gradient and computes the weight gradients of all time steps as one product each.
Only the sigmoid/tanh gate activation functions are implemented (MATLAB's defaults). Gradients of
gradients (``EnableHigherDerivatives=True``) work: then the backward pass is the VJP of a step-by-step
autograd.numpy version of the same equations, recorded so it can be differentiated again (slower).
"""

from __future__ import annotations

import math
import numbers
import weakref

import autograd.numpy as anp
import numpy as np
from autograd.extend import defvjp_argnums
from autograd.tracer import getval, isbox

from . import validate as _v
from .errors import DLTeachError, FormatError, SizeMismatchError
from .formats import apply_format as _apply_format
from .formats import data_of, fmt_of, wrap
from .formats import parse_format as _parse_format
from .primitives import primitive

__all__ = ["lstm", "gru", "padsequences", "RecurrentArgumentError"]


class RecurrentArgumentError(DLTeachError, ValueError):
    """A bad argument to lstm / gru / padsequences or a recurrent layer (the message names the fix)."""


# -------------------------------------------------------------------------------------------------
# helpers

_raw = data_of


def _size(shape):
    return "x".join(map(str, shape)) if len(shape) else "1x1"


def _sigmoid_(a):
    """In place: a <- σ(a) = (tanh(a/2) + 1) / 2 (no overflow for large |a|)."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


_CACHE: dict = {}  # id(Y) -> forward intermediates, kept while Y (the recorded output) lives


def _keep(Y, cache):
    key = id(Y)
    _CACHE[key] = cache
    weakref.finalize(Y, _CACHE.pop, key, None)


def _traced(g, args):
    """True when the VJP itself must be recorded (EnableHigherDerivatives: boxed gradient or arguments)."""
    return any(isbox(v) for v in g) or any(isbox(a) for a in args)


def _sig(a):
    return (anp.tanh(a * 0.5) + 1.0) * 0.5


def _lstm_reference(x, h0, c0, W, R, b):
    """The LSTM written with autograd.numpy operations, step by step (for gradients of gradients)."""
    H = R.shape[1]
    xp = anp.einsum("gc,cbt->gbt", W, x) + anp.reshape(b, (-1, 1, 1))
    h, c = h0, c0  # H x 1 states broadcast over the observations
    ys = []
    for t in range(x.shape[2]):
        z = xp[:, :, t] + R @ h
        i, f, g, o = _sig(z[:H]), _sig(z[H:2 * H]), anp.tanh(z[2 * H:3 * H]), _sig(z[3 * H:])
        c = f * c + i * g
        h = o * anp.tanh(c)
        ys.append(h)
    return anp.stack(ys, axis=2), h, c


def _gru_reference(x, h0, W, R, b, mode):
    """The GRU written with autograd.numpy operations, step by step (for gradients of gradients)."""
    H = R.shape[1]
    bflat = anp.reshape(b, (-1,))
    xp = anp.einsum("gc,cbt->gbt", W, x) + anp.reshape(bflat[:3 * H], (-1, 1, 1))
    bR = anp.reshape(bflat[3 * H:], (-1, 1)) if mode == _GRU_MODES[2] else 0.0
    h = h0
    ys = []
    for t in range(x.shape[2]):
        a = xp[:, :, t]
        if mode == _GRU_MODES[1]:
            rz = _sig(a[:2 * H] + R[:2 * H] @ h)
            r, z = rz[:H], rz[H:]
            n = anp.tanh(a[2 * H:] + R[2 * H:] @ (r * h))
        else:
            rec = R @ h + bR
            rz = _sig(a[:2 * H] + rec[:2 * H])
            r, z = rz[:H], rz[H:]
            n = anp.tanh(a[2 * H:] + r * rec[2 * H:])
        h = n + z * (h - n)
        ys.append(h)
    return anp.stack(ys, axis=2), h


def _traced_vjp(reference, args, g, argnums):
    """VJP of ``reference`` recorded on the current trace (so it can be differentiated again)."""
    from autograd import make_vjp

    def packed(*a):  # one array out (make_vjp needs a single output): the outputs flattened end to end
        return anp.concatenate([anp.ravel(o) for o in reference(*a)])

    vjp, _ = make_vjp(packed, argnum=tuple(range(len(args))))(*args)
    grads = vjp(anp.concatenate([anp.ravel(v) for v in g]))
    return tuple(grads[a] for a in argnums)


# -------------------------------------------------------------------------------------------------
# LSTM primitive. Internally the gate rows are ordered i, f, o, g (the three sigmoid gates first, so
# one call activates them) and every buffer is time-major (T x rows x B), so that the arrays of one
# time step are contiguous: elementwise operations on contiguous (rows x B) blocks are several times
# faster than on strided ones.

def _lstm_perm(H):
    return np.concatenate([np.arange(0, 2 * H), np.arange(3 * H, 4 * H), np.arange(2 * H, 3 * H)])


def _time_major(x):
    """(C, B, T) -> contiguous (T, C, B)."""
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def _flat_columns(a):
    """(T, K, B) -> (K, T*B), columns ordered by time step then observation (one copy)."""
    T, K, B = a.shape
    return a.transpose(1, 0, 2).reshape(K, T * B)


@primitive
def _lstm_p(x, h0, c0, W, R, b, keep=False):
    """(Y, hT, cT) = LSTM over x: (C, B, T) -> Y (H, B, T); h0, c0: (H, B) or (H, 1); W 4HxC, R 4HxH, b 4H."""
    B, T = x.shape[1:]
    H = R.shape[1]
    dt = x.dtype
    perm = _lstm_perm(H)
    Wp, Rp, bp = W[perm], R[perm], b.reshape(-1)[perm]
    xtb = _time_major(x)
    act = np.matmul(Wp, xtb)  # (T, 4H, B): input projections of all steps; becomes the gate activations
    act += bp.reshape(1, -1, 1)
    hbuf = np.empty((T + 1, H, B), dt)
    cbuf = np.empty((T + 1, H, B), dt)
    hbuf[0] = h0
    cbuf[0] = c0
    tcs = np.empty((T, H, B), dt)
    rec = np.empty((4 * H, B), dt)
    tmp = np.empty((H, B), dt)
    H2, H3 = 2 * H, 3 * H
    for t in range(T):
        a = act[t]
        np.matmul(Rp, hbuf[t], out=rec)
        a += rec
        _sigmoid_(a[:H3])
        g = a[H3:]
        np.tanh(g, out=g)
        c = cbuf[t + 1]
        np.multiply(a[H:H2], cbuf[t], out=c)
        np.multiply(a[:H], g, out=tmp)
        c += tmp
        tc = tcs[t]
        np.tanh(c, out=tc)
        np.multiply(a[H2:H3], tc, out=hbuf[t + 1])
    Y = np.ascontiguousarray(hbuf[1:].transpose(1, 2, 0))
    if keep:
        _keep(Y, (act, hbuf, cbuf, tcs, Wp, Rp, xtb, perm))
    return Y, hbuf[T].copy(), cbuf[T].copy()


def _lstm_vjp_argnums(argnums, ans, args, kwargs):
    x, h0, c0, W, R, b = args[:6]
    Y = ans[0]

    def vjp(g):
        if _traced(g, args):  # EnableHigherDerivatives: a recorded (slower) backward pass
            return _traced_vjp(_lstm_reference, args[:6], g, argnums)
        gY, ghT, gcT = (np.asarray(v) for v in g)
        cache = _CACHE.get(id(Y))
        if cache is None:  # not kept (or a replay): run the forward pass again, keeping the intermediates
            Y2 = _lstm_p.fun(x, h0, c0, W, R, b, keep=True)[0]
            cache = _CACHE[id(Y2)]
        act, hbuf, cbuf, tcs, Wp, Rp, xtb, perm = cache
        T, H4, B = act.shape
        H = H4 // 4
        H2, H3 = 2 * H, 3 * H
        dt = act.dtype
        dZ = np.empty((T, H4, B), dt)
        dh = np.array(np.broadcast_to(ghT, (H, B)), dtype=dt)
        dc = np.array(np.broadcast_to(gcT, (H, B)), dtype=dt)
        gYt = np.ascontiguousarray(gY.transpose(2, 0, 1), dtype=dt) if gY.any() else None
        tmp = np.empty((H, B), dt)
        tmp3 = np.empty((H3, B), dt)
        RpT = Rp.T
        for t in range(T - 1, -1, -1):
            a = act[t]
            dz = dZ[t]
            if gYt is not None:
                dh += gYt[t]
            tc = tcs[t]
            np.multiply(dh, tc, out=dz[H2:H3])  # dL/do
            np.multiply(tc, tc, out=tmp)
            np.subtract(1, tmp, out=tmp)
            tmp *= a[H2:H3]
            tmp *= dh
            dc += tmp  # dL/dc_t
            np.multiply(dc, a[H3:], out=dz[:H])  # dL/di
            np.multiply(dc, cbuf[t], out=dz[H:H2])  # dL/df
            np.multiply(dc, a[:H], out=dz[H3:])  # dL/dg
            dc *= a[H:H2]  # dL/dc_{t-1}
            s = a[:H3]
            np.multiply(s, s, out=tmp3)
            np.subtract(s, tmp3, out=tmp3)
            dz[:H3] *= tmp3  # σ' = s (1 - s)
            gg = a[H3:]
            np.multiply(gg, gg, out=tmp)
            np.subtract(1, tmp, out=tmp)
            dz[H3:] *= tmp  # tanh' = 1 - g^2
            np.matmul(RpT, dz, out=dh)  # dL/dh_{t-1}
        dZ2 = _flat_columns(dZ)
        out = []
        for a in argnums:
            if a == 0:
                C = x.shape[0]
                gx = (Wp.T @ dZ2).reshape(C, T, B).transpose(0, 2, 1)
                out.append(np.ascontiguousarray(gx, dtype=x.dtype))
            elif a == 1:
                out.append(_sum_to(dh, h0))
            elif a == 2:
                out.append(_sum_to(dc, c0))
            elif a == 3:
                out.append(_unperm(dZ2 @ _flat_columns(xtb).T, perm, W))
            elif a == 4:
                out.append(_unperm(dZ2 @ _flat_columns(hbuf[:T]).T, perm, R))
            elif a == 5:
                out.append(_unperm(dZ2.sum(axis=1), perm, b))
            else:
                raise NotImplementedError
        return tuple(out)

    return vjp


def _sum_to(g, like):
    shape = np.shape(like)
    if g.shape != shape:
        g = g.sum(axis=1, keepdims=True).reshape(shape)
    return g.astype(getval(like).dtype, copy=False)


def _unperm(gp, perm, like):
    out = np.empty_like(gp)
    out[perm] = gp
    return out.reshape(np.shape(like)).astype(getval(like).dtype, copy=False)


defvjp_argnums(_lstm_p, _lstm_vjp_argnums)


# -------------------------------------------------------------------------------------------------
# GRU primitive (gate rows r, z, h~ as in MATLAB; time-major buffers)

_GRU_MODES = ("after-multiplication", "before-multiplication", "recurrent-bias-after-multiplication")


@primitive
def _gru_p(x, h0, W, R, b, mode="after-multiplication", keep=False):
    """(Y, hT) = GRU over x: (C, B, T); h0 (H, B) or (H, 1); W 3HxC, R 3HxH, b 3H (6H: [b_W; b_R])."""
    B, T = x.shape[1:]
    H = R.shape[1]
    H2 = 2 * H
    dt = x.dtype
    bflat = b.reshape(-1)
    bW = bflat[:3 * H]
    bR = bflat[3 * H:].reshape(-1, 1) if mode == _GRU_MODES[2] else None
    xtb = _time_major(x)
    act = np.matmul(W, xtb)  # (T, 3H, B)
    act += bW.reshape(1, -1, 1)
    hbuf = np.empty((T + 1, H, B), dt)
    hbuf[0] = h0
    before = mode == _GRU_MODES[1]
    aux = np.empty((T, H, B), dt)  # after: R_h h (+ b_Rh); before: r ⊙ h_{t-1}
    rec = np.empty((3 * H, B), dt)
    tmp = np.empty((H, B), dt)
    R_rz, R_h = R[:H2], R[H2:]
    for t in range(T):
        a = act[t]
        hp = hbuf[t]
        if before:
            np.matmul(R_rz, hp, out=rec[:H2])
            a[:H2] += rec[:H2]
            _sigmoid_(a[:H2])
            rh = aux[t]
            np.multiply(a[:H], hp, out=rh)
            np.matmul(R_h, rh, out=tmp)
            a[H2:] += tmp
        else:
            np.matmul(R, hp, out=rec)
            if bR is not None:
                rec += bR
            a[:H2] += rec[:H2]
            _sigmoid_(a[:H2])
            aux[t] = rec[H2:]
            np.multiply(a[:H], rec[H2:], out=tmp)
            a[H2:] += tmp
        n = a[H2:]
        np.tanh(n, out=n)
        h = hbuf[t + 1]
        np.subtract(hp, n, out=h)
        h *= a[H:H2]
        h += n  # h = n + z (h_prev - n)
    Y = np.ascontiguousarray(hbuf[1:].transpose(1, 2, 0))
    if keep:
        _keep(Y, (act, hbuf, aux, xtb))
    return Y, hbuf[T].copy()


def _gru_vjp_argnums(argnums, ans, args, kwargs):
    x, h0, W, R, b = args[:5]
    mode = kwargs.get("mode", _GRU_MODES[0])
    Y = ans[0]

    def vjp(g):
        if _traced(g, args):
            return _traced_vjp(lambda *a: _gru_reference(*a, mode), args[:5], g, argnums)
        gY, ghT = (np.asarray(v) for v in g)
        cache = _CACHE.get(id(Y))
        if cache is None:
            Y2 = _gru_p.fun(x, h0, W, R, b, mode=mode, keep=True)[0]
            cache = _CACHE[id(Y2)]
        act, hbuf, aux, xtb = cache
        T, H3, B = act.shape
        H = H3 // 3
        H2 = 2 * H
        dt = act.dtype
        before = mode == _GRU_MODES[1]
        dZ = np.empty((T, H3, B), dt)  # pre-activation gradients [r; z; h~] (the input-projection side)
        dRn = np.empty((T, H, B), dt)  # after-modes: gradient of R_h h (+ b_Rh)
        dh = np.array(np.broadcast_to(ghT, (H, B)), dtype=dt)
        gYt = np.ascontiguousarray(gY.transpose(2, 0, 1), dtype=dt) if gY.any() else None
        tmp = np.empty((H, B), dt)
        tmp2 = np.empty((H, B), dt)
        dprev = np.empty((H, B), dt)
        rec = np.empty((H3, B), dt)
        R_rz, R_h = R[:H2], R[H2:]
        for t in range(T - 1, -1, -1):
            a = act[t]
            r, z, n = a[:H], a[H:H2], a[H2:]
            hp = hbuf[t]
            dz = dZ[t]
            if gYt is not None:
                dh += gYt[t]
            np.subtract(hp, n, out=tmp)
            np.multiply(dh, tmp, out=dz[H:H2])  # dL/dz
            np.multiply(dh, z, out=dprev)  # direct path to h_{t-1}
            np.subtract(1, z, out=tmp)
            tmp *= dh  # dL/dn
            np.multiply(n, n, out=tmp2)
            np.subtract(1, tmp2, out=tmp2)
            np.multiply(tmp, tmp2, out=dz[H2:])  # dL/d(pre-activation of n)
            if before:
                np.matmul(R_h.T, dz[H2:], out=tmp)  # dL/d(r ⊙ h_{t-1})
                np.multiply(tmp, hp, out=dz[:H])  # dL/dr
                np.multiply(tmp, r, out=tmp2)
                dprev += tmp2
            else:
                np.multiply(dz[H2:], aux[t], out=dz[:H])  # dL/dr
                np.multiply(dz[H2:], r, out=dRn[t])  # dL/d(R_h h + b_Rh)
            s = a[:H2]
            rz = rec[:H2]
            np.multiply(s, s, out=rz)
            np.subtract(s, rz, out=rz)
            dz[:H2] *= rz
            if before:
                np.matmul(R_rz.T, dz[:H2], out=dh)
            else:
                rec[:H2] = dz[:H2]
                rec[H2:] = dRn[t]
                np.matmul(R.T, rec, out=dh)
            dh += dprev
        dZ2 = _flat_columns(dZ)
        Hp = _flat_columns(hbuf[:T])
        out = []
        for k in argnums:
            if k == 0:
                C = x.shape[0]
                gx = (W.T @ dZ2).reshape(C, T, B).transpose(0, 2, 1)
                out.append(np.ascontiguousarray(gx, dtype=x.dtype))
            elif k == 1:
                out.append(_sum_to(dh, h0))
            elif k == 2:
                out.append((dZ2 @ _flat_columns(xtb).T).astype(W.dtype, copy=False))
            elif k == 3:
                gR = np.empty(R.shape, dt)
                gR[:H2] = dZ2[:H2] @ Hp.T
                if before:
                    gR[H2:] = dZ2[H2:] @ _flat_columns(aux).T
                else:
                    gR[H2:] = _flat_columns(dRn) @ Hp.T
                out.append(gR.astype(R.dtype, copy=False))
            elif k == 4:
                gbW = dZ2.sum(axis=1)
                if mode == _GRU_MODES[2]:
                    gb = np.concatenate([gbW, gbW[:H2], dRn.sum(axis=(0, 2))])
                else:
                    gb = gbW
                out.append(gb.reshape(np.shape(b)).astype(b.dtype, copy=False))
            else:
                raise NotImplementedError
        return tuple(out)

    return vjp


defvjp_argnums(_gru_p, _gru_vjp_argnums)


# -------------------------------------------------------------------------------------------------
# public operations

def _prepare_sequence(X, DataFormat, fname):
    """X -> (raw (C, B, T) data, format info) with S dims flattened into C."""
    if X is None:
        raise RecurrentArgumentError(
            f"{fname}: X is None. None usually comes from a function that forgot `return`; X must be the input "
            "sequences as a formatted dlarray, e.g. dlarray(X, 'CBT').")
    if fmt_of(X):
        if DataFormat is not None:
            raise FormatError(f"{fname}: X is already formatted ({fmt_of(X)!r}); do not also pass DataFormat.")
        data, fmt, formatted = data_of(X), fmt_of(X), True
    else:
        if DataFormat is None:
            raise FormatError(
                f"{fname} needs to know which dimension is which: pass a formatted dlarray, e.g. "
                f"X = dlarray(X, 'CBT') (channels x observations x time steps), or give DataFormat='CBT'.")
        raw = _raw(X)
        if not isbox(raw):
            raw = np.asarray(raw)
            if raw.dtype.kind in "iub":
                raw = raw.astype(np.float64)
        data, fmt = _apply_format(raw, _parse_format(DataFormat))
        formatted = False
    if "C" not in fmt:
        raise FormatError(f"{fname}: X needs a channel dimension 'C'; its format is {fmt!r}. Use e.g. 'CBT'.")
    if "U" in fmt:
        raise FormatError(f"{fname}: X has a 'U' (unspecified) dimension ({fmt!r}); label it S, C, B or T.")
    shape = np.shape(getval(data))
    n_s = fmt.count("S")
    C = math.prod(shape[:n_s + 1])
    B = shape[fmt.index("B")] if "B" in fmt else 1
    T = shape[fmt.index("T")] if "T" in fmt else 1
    x = data if len(shape) == 3 and fmt == "CBT" else anp.reshape(data, (C, B, T))
    return x, fmt, formatted


def _state(v, H, B, name, fname, dtype):
    if v is None:
        raise RecurrentArgumentError(
            f"{fname}: the initial {name} state is None. Give an H x 1 (or H x numObservations) array, e.g. "
            f"zeros(numHiddenUnits, 1) for a fresh start.")
    r = _raw(v)
    if not isbox(r):
        r = np.asarray(r)
    shape = np.shape(getval(r))
    n = math.prod(shape) if shape else 1
    if n == H:
        r2 = anp.reshape(r, (H, 1)) if shape != (H, 1) else r
    elif n == H * B and shape and shape[0] == H:
        r2 = anp.reshape(r, (H, B)) if shape != (H, B) else r
    else:
        raise SizeMismatchError(
            f"{fname}: the initial {name} state has size {_size(shape)}; it must be NumHiddenUnits x 1 or "
            f"NumHiddenUnits x numObservations = {H}x1 or {H}x{B} (NumHiddenUnits = {H}, from the recurrent "
            f"weights' {H} columns).")
    return _cast(r2, dtype)


def _cast(r, dtype):
    v = getval(r)
    if getattr(v, "dtype", None) == dtype:
        return r
    if isbox(r):
        return anp.astype(r, dtype)
    return np.asarray(v, dtype=dtype)


def _params(weights, recurrentWeights, bias, C, gates, fname, bias_rows):
    W, R, b = _raw(weights), _raw(recurrentWeights), _raw(bias)
    for nm, v in (("weights", W), ("recurrentWeights", R), ("bias", b)):
        if v is None:
            raise RecurrentArgumentError(f"{fname}: {nm} is None (a function that forgot `return`?).")
    W = W if isbox(W) else np.asarray(W)
    R = R if isbox(R) else np.asarray(R)
    b = b if isbox(b) else np.asarray(b)
    rs, ws, bs = np.shape(getval(R)), np.shape(getval(W)), np.shape(getval(b))
    if len(rs) != 2 or rs[0] != gates * rs[1]:
        raise SizeMismatchError(
            f"{fname}: recurrentWeights must be {gates}*NumHiddenUnits x NumHiddenUnits ({gates} gates stacked, "
            f"MATLAB's layout); got {_size(rs)}.")
    H = rs[1]
    if len(ws) != 2 or ws[0] != gates * H or ws[1] != C:
        raise SizeMismatchError(
            f"{fname}: weights must be {gates}*NumHiddenUnits x InputSize = {gates * H}x{C} (InputSize = {C} "
            f"channels of X); got {_size(ws)}.")
    if math.prod(bs) != bias_rows * H:
        raise SizeMismatchError(
            f"{fname}: bias must have {bias_rows}*NumHiddenUnits = {bias_rows * H} elements ({bias_rows * H}x1); "
            f"got {_size(bs)}.")
    return W, R, b, H


def _common_dtype(*raws):
    dts = [getattr(getval(r), "dtype", np.dtype(np.float64)) for r in raws]
    for d in dts:
        if d.kind not in "fiub":
            raise RecurrentArgumentError(f"recurrent operation: data of type {d} is not supported (use float32).")
    return np.dtype(np.float32) if np.dtype(np.float32) in dts else np.dtype(np.float64)


def _check_activations(fname, state_fn, gate_fn):
    if str(state_fn).lower() != "tanh" or str(gate_fn).lower() != "sigmoid":
        raise RecurrentArgumentError(
            f"{fname}: dlteach implements the default activations only (StateActivationFunction='tanh', "
            f"GateActivationFunction='sigmoid'); got {state_fn!r} / {gate_fn!r}.")


def _outputs(Yraw, fmt, formatted, X_fmt_has_T):
    """Y (H, B, T) -> dlarray with X's format minus S dims (CB when X has no T)."""
    out_fmt = "C" + ("B" if "B" in fmt else "") + ("T" if X_fmt_has_T else "")
    shape = np.shape(getval(Yraw))
    if out_fmt != "CBT":
        keep = [shape[0]] + ([shape[1]] if "B" in out_fmt else []) + ([shape[2]] if "T" in out_fmt else [])
        Yraw = anp.reshape(Yraw, tuple(keep))
    return wrap(Yraw, out_fmt if formatted else "")


def _state_out(s, fmt, formatted):
    return wrap(s, "CB" if formatted else "")


def lstm(X, H0, C0, weights, recurrentWeights, bias, *, DataFormat=None, StateActivationFunction="tanh",
         GateActivationFunction="sigmoid", return_state=False):
    """Long short-term memory over a sequence (MATLAB ``lstm``).

    ``Y = lstm(X, H0, C0, weights, recurrentWeights, bias)``; with ``return_state=True``
    ``Y, hiddenState, cellState = lstm(...)`` (MATLAB ``[Y,hiddenState,cellState] = lstm(...)``).

    X: formatted dlarray, "CBT" (a missing B/T is one observation/time step). H0, C0: NumHiddenUnits x 1
    or x numObservations. weights 4H x C, recurrentWeights 4H x H, bias 4H x 1, gates stacked
    [input; forget; cell candidate; output] (see the module docstring for the equations).
    Y: H x B x T ("CBT", X's format without S dims); hiddenState/cellState: H x B ("CB") after the last
    time step. float32 data or parameters give float32 results (single wins).
    """
    fname = "lstm"
    _check_activations(fname, StateActivationFunction, GateActivationFunction)
    x, fmt, formatted = _prepare_sequence(X, DataFormat, fname)
    C, B, _ = np.shape(getval(x))
    W, R, b, H = _params(weights, recurrentWeights, bias, C, 4, fname, 4)
    h0r, c0r = _raw(H0), _raw(C0)
    dtype = _common_dtype(x, W, R, b, *(v for v in (h0r, c0r) if v is not None))
    x, W, R, b = (_cast(v, dtype) for v in (x, W, R, b))
    h0 = _state(H0, H, B, "hidden", fname, dtype)
    c0 = _state(C0, H, B, "cell", fname, dtype)
    traced = any(isbox(v) for v in (x, h0, c0, W, R, b))
    out = _lstm_p(x, h0, c0, W, R, b, keep=traced)
    Y = _outputs(out[0], fmt, formatted, "T" in fmt)
    if not return_state:
        return Y
    return Y, _state_out(out[1], fmt, formatted), _state_out(out[2], fmt, formatted)


def gru(X, H0, weights, recurrentWeights, bias, *, DataFormat=None, ResetGateMode="after-multiplication",
        StateActivationFunction="tanh", GateActivationFunction="sigmoid", return_state=False):
    """Gated recurrent unit over a sequence (MATLAB ``gru``).

    ``Y = gru(X, H0, weights, recurrentWeights, bias)``; with ``return_state=True``
    ``Y, hiddenState = gru(...)`` (MATLAB ``[Y,hiddenState] = gru(...)``).

    weights 3H x C, recurrentWeights 3H x H, gates stacked [reset; update; candidate]; bias 3H x 1, or
    6H x 1 = [input biases; recurrent biases] with ``ResetGateMode="recurrent-bias-after-multiplication"``.
    ``ResetGateMode``: "after-multiplication" (default, h̃ = tanh(W_h x + b_h + r ⊙ (R_h h))),
    "before-multiplication" (h̃ = tanh(W_h x + b_h + R_h (r ⊙ h))) or
    "recurrent-bias-after-multiplication". h_t = (1 - z) ⊙ h̃ + z ⊙ h_{t-1}.
    """
    fname = "gru"
    _check_activations(fname, StateActivationFunction, GateActivationFunction)
    mode = _v.option(fname, "ResetGateMode", ResetGateMode, _GRU_MODES, cls=RecurrentArgumentError)
    x, fmt, formatted = _prepare_sequence(X, DataFormat, fname)
    C, B, _ = np.shape(getval(x))
    W, R, b, H = _params(weights, recurrentWeights, bias, C, 3, fname, 6 if mode == _GRU_MODES[2] else 3)
    h0r = _raw(H0)
    dtype = _common_dtype(x, W, R, b, *(v for v in (h0r,) if v is not None))
    x, W, R, b = (_cast(v, dtype) for v in (x, W, R, b))
    h0 = _state(H0, H, B, "hidden", fname, dtype)
    traced = any(isbox(v) for v in (x, h0, W, R, b))
    out = _gru_p(x, h0, W, R, b, mode=mode, keep=traced)
    Y = _outputs(out[0], fmt, formatted, "T" in fmt)
    if not return_state:
        return Y
    return Y, _state_out(out[1], fmt, formatted)


# -------------------------------------------------------------------------------------------------
# padsequences

def padsequences(X, paddingDim, *, Length="longest", Direction="right", PaddingValue=0, UniformOutput=True,
                 return_mask=False):
    """Pad or truncate sequences to the same length (MATLAB ``padsequences``).

    ``XPad = padsequences(X, paddingDim)``; ``XPad, mask = padsequences(X, paddingDim, return_mask=True)``
    (MATLAB ``[XPad,mask] = padsequences(...)``).

    X: a list (MATLAB cell array) of arrays that differ in size only along ``paddingDim`` (counted from
    1 as in MATLAB: for C x T sequences the time steps are dimension 2). Each sequence is padded with
    ``PaddingValue`` (default 0), or truncated, to ``Length``: "longest" (default), "shortest" or a
    positive integer; ``Direction="right"`` (default) pads/truncates at the end, "left" at the start.
    With ``UniformOutput=True`` the sequences are stacked along a new last dimension (C x T sequences
    give C x T x N, ready for "CTB"); ``mask`` is a logical array of XPad's size, True where XPad holds
    original data. ``UniformOutput=False`` returns lists instead.
    """
    if X is None:
        raise RecurrentArgumentError("padsequences: X is None (a function that forgot `return`?). X must be a list "
                                     "of sequences (MATLAB: a cell array).")
    if isinstance(X, np.ndarray) and X.dtype != object:
        X = [X]
    if not isinstance(X, (list, tuple)) and not (isinstance(X, np.ndarray) and X.dtype == object):
        raise RecurrentArgumentError(
            f"padsequences: X must be a list of sequences (MATLAB: a cell array), got {type(X).__name__}.")
    seqs = [np.asarray(getval(_raw(s))) for s in X]
    if not seqs:
        raise RecurrentArgumentError("padsequences: X is an empty list; there is nothing to pad.")
    paddingDim = _v.integer("padsequences", "paddingDim", paddingDim, cls=RecurrentArgumentError,
                            hint="It is the dimension of the time steps, counted from 1 as in MATLAB: 2 for C x T "
                                 "sequences, 1 for T x C.")
    d = paddingDim - 1
    nd = max(s.ndim for s in seqs)
    if d >= max(nd, 2):
        raise RecurrentArgumentError(
            f"padsequences: paddingDim={paddingDim} but the sequences have {nd} dimension(s).")
    seqs = [s.reshape(s.shape + (1,) * (max(nd, d + 1) - s.ndim)) for s in seqs]
    lengths = [s.shape[d] for s in seqs]
    others = {tuple(n for i, n in enumerate(s.shape) if i != d) for s in seqs}
    if len(others) > 1:
        raise SizeMismatchError(
            f"padsequences: the sequences differ in size along dimensions other than paddingDim={paddingDim}: "
            f"sizes {', '.join(_size(s.shape) for s in seqs[:5])}{' ...' if len(seqs) > 5 else ''}. Only the "
            "padding dimension (the time steps) may differ.")
    if isinstance(Length, str):
        key = Length.lower()
        if key not in ("longest", "shortest"):
            raise RecurrentArgumentError(f"padsequences: Length must be 'longest', 'shortest' or a positive integer; "
                                         f"got {Length!r}.")
        L = max(lengths) if key == "longest" else min(lengths)
    elif isinstance(Length, numbers.Integral) and not isinstance(Length, bool) and Length >= 1:
        L = int(Length)
    else:
        raise RecurrentArgumentError(f"padsequences: Length must be 'longest', 'shortest' or a positive integer; "
                                     f"got {Length!r}.")
    direction = _v.option("padsequences", "Direction", Direction, ("right", "left"), cls=RecurrentArgumentError)
    PaddingValue = _v.real("padsequences", "PaddingValue", PaddingValue, finite=False, cls=RecurrentArgumentError)
    dtype = np.result_type(*[s.dtype for s in seqs])
    padded, masks = [], []
    for s in seqs:
        n = s.shape[d]
        shape = list(s.shape)
        shape[d] = L
        out = np.full(shape, PaddingValue, dtype=dtype)
        m = np.zeros(shape, dtype=bool)
        k = min(n, L)
        src = [slice(None)] * s.ndim
        dst = [slice(None)] * s.ndim
        if direction == "right":
            src[d], dst[d] = slice(0, k), slice(0, k)
        else:
            src[d], dst[d] = slice(n - k, n), slice(L - k, L)
        out[tuple(dst)] = s[tuple(src)]
        m[tuple(dst)] = True
        padded.append(out)
        masks.append(m)
    if UniformOutput:
        XPad = np.stack(padded, axis=-1)
        mask = np.stack(masks, axis=-1)
    else:
        XPad, mask = padded, masks
    return (XPad, mask) if return_mask else XPad
