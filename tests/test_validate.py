"""Nothing silently wrong: the validation layer, dlgradient's warnings, updater leaves, losses, save/load.

References: MATLAB's documented behaviour (zeros for values the loss does not depend on; the update made
for non-finite gradients), hand-computed sizes, and files crafted byte by byte.
"""

import io
import json
import math
import os
import warnings
import zipfile

import numpy as np
import pytest

import dlteach as dt
from dlteach import dlarray, dlfeval, dlgradient, validate
from dlteach.errors import (
    ArgumentError,
    DisconnectedGradientWarning,
    DLTeachError,
    FileFormatError,
    LossArgumentError,
    NoneArgumentError,
    NonFiniteGradientWarning,
    NotTracedError,
    SizeMismatchError,
    UpdaterArgumentError,
)
from dlteach.serialization import MissingFolderError, SaveError

# -------------------------------------------------------------------------------------------------
# validate.py


@pytest.mark.parametrize("good, expected", [(2, 2), (2.0, 2), (np.int64(3), 3), (np.array([4.0]), 4)])
def test_integer_accepts_whole_numbers(good, expected):
    out = validate.integer("f", "n", good)
    assert out == expected and type(out) is int


@pytest.mark.parametrize("bad", [2.5, True, float("nan"), float("inf"), "2", None, 0, -3, [1, 2]])
def test_integer_refuses_and_names_the_argument(bad):
    with pytest.raises(ArgumentError, match=r"^f: n "):
        validate.integer("f", "n", bad)


def test_none_message_names_none_and_the_forgotten_return():
    with pytest.raises(NoneArgumentError, match="X is None.*forgot `return`"):
        validate.array("relu", "X", None)


def test_argument_error_is_both_type_and_value_error():
    assert issubclass(ArgumentError, TypeError) and issubclass(ArgumentError, ValueError)
    assert issubclass(ArgumentError, DLTeachError)


@pytest.mark.parametrize("v, out", [(2, (2, 2)), ([2, 3], (2, 3)), ((1, 4), (1, 4)), (np.array([5]), (5, 5))])
def test_pair(v, out):
    assert validate.pair("f", "Stride", v) == out


@pytest.mark.parametrize("v, out", [("same", "same"), (1, (1, 1, 1, 1)), ([1, 2], (1, 1, 2, 2)),
                                    ([0, 1, 2, 3], (0, 1, 2, 3))])
def test_padding(v, out):
    assert validate.padding("f", "Padding", v) == out


def test_array_refuses_float16_complex_object_with_the_reason():
    with pytest.raises(ArgumentError, match="float16"):
        validate.array("f", "X", np.ones(2, np.float16))
    with pytest.raises(ArgumentError, match="complex128.*Complex values"):
        validate.array("f", "X", np.ones(2) * 1j)
    with pytest.raises(ArgumentError, match="object.*object array"):
        validate.array("f", "X", np.array([1, None], dtype=object))


def test_sizes_that_are_not_integers_are_refused_not_truncated():
    with pytest.raises(ArgumentError, match="outputSize must be a positive integer; got the float 2.5"):
        dt.fullyConnectedLayer(2.5)
    with pytest.raises(ArgumentError, match="poolsize"):
        dt.avgpool(dlarray(np.ones((4, 4, 1, 1)), "SSCB"), 2.5)
    assert dt.fullyConnectedLayer(2.0).OutputSize == 2  # MATLAB literals are double: 2.0 is the integer 2


def test_the_validators_do_not_modify_their_input():
    x = np.ones((3, 4))
    before = x.copy()
    validate.array("f", "X", x)
    dt.relu(dlarray(x, "CB"))
    np.testing.assert_array_equal(x, before)


# -------------------------------------------------------------------------------------------------
# batchnorm's one-output form


def test_batchnorm_tuple_used_as_Y_says_how_to_unpack():
    X = dlarray(np.random.default_rng(0).random((4, 4, 3, 2)), "SSCB")
    Y = dt.batchnorm(X, np.zeros(3), np.ones(3))  # MATLAB: Y = batchnorm(X, offset, scale)
    for use in (lambda: dt.relu(Y), lambda: Y > 0, lambda: 2 * Y, lambda: np.exp(Y), lambda: Y.shape):
        with pytest.raises(ArgumentError, match=r"Y, mu, sigmaSq = batchnorm\(X, offset, scale\)"):
            use()
    Y1, mu, var = Y  # the tuple still unpacks
    np.testing.assert_array_equal(dt.extractdata(Y[0]), dt.extractdata(Y1))
    assert mu.shape == (3, 1) and var.shape == (3, 1)


def test_batchnorm_per_channel_sizes_are_checked():
    X = dlarray(np.ones((4, 4, 4, 2)), "SSCB")
    with pytest.raises(SizeMismatchError, match="offset has 3 values but X has 4 channels"):
        dt.batchnorm(X, np.zeros(3), np.ones(4))


# -------------------------------------------------------------------------------------------------
# dlgradient


def _tiny_net():
    np.random.seed(0)
    return dt.dlnetwork([dt.featureInputLayer(3), dt.fullyConnectedLayer(2), dt.softmaxLayer()])


def test_global_network_in_the_model_loss_warns_and_keeps_zeros(monkeypatch):
    monkeypatch.setattr(dt.autodiff, "WARN_DISCONNECTED", True)
    net = _tiny_net()
    X = dlarray(np.random.default_rng(1).random((3, 5)).astype(np.float32), "CB")
    T = dt.onehotencode(np.array([0, 1, 0, 1, 1]), 1)

    def model_loss(n, X, T):
        loss = dt.crossentropy(dt.forward(net, X), T)  # the global net, not the argument n
        return dlgradient(loss, n.Learnables)

    with pytest.warns(DisconnectedGradientWarning, match="global network") as record:
        g = dlfeval(model_loss, net, X, T)
    assert len(record) == 1
    assert "fc/Weights" in str(record[0].message) and "fc/Bias" in str(record[0].message)
    assert all(not np.any(dt.extractdata(v)) for v in g.Value)  # MATLAB's zeros


def test_no_warning_when_everything_is_connected(monkeypatch):
    monkeypatch.setattr(dt.autodiff, "WARN_DISCONNECTED", True)
    def f(x):
        return dlgradient(np.sum(x * x), x)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = dlfeval(f, dlarray(np.arange(3.0)))
    np.testing.assert_array_equal(dt.extractdata(g), 2 * np.arange(3.0))


def test_integer_values_cannot_be_differentiated():
    with pytest.raises(ArgumentError, match="int64.*Only floating-point values are traced"):
        dlfeval(lambda x, n: dlgradient(np.sum(x), n), dlarray(np.ones(3)), np.arange(3))


def test_none_loss_and_gradient_of_a_gradient():
    with pytest.raises(NoneArgumentError, match="loss.*None.*return"):
        dlfeval(lambda x: dlgradient(None, x), dlarray(np.ones(3)))

    def second(x):
        g = dlgradient(np.sum(x**3), x)
        return dlgradient(np.sum(g * g), x)

    with pytest.raises(NotTracedError, match="EnableHigherDerivatives=True"):
        dlfeval(second, dlarray(np.ones(3)))


def test_gradient_with_respect_to_the_network_names_learnables():
    net = _tiny_net()

    def f(n, X):
        return dlgradient(np.sum(dt.forward(n, X)), n)

    with pytest.raises(ArgumentError, match=r"dlgradient\(loss, net.Learnables\)"):
        dlfeval(f, net, dlarray(np.ones((3, 2), np.float32), "CB"))
    with pytest.raises(UpdaterArgumentError, match="net.Learnables"):
        dt.adamupdate(net, net, None, None, 1)


# -------------------------------------------------------------------------------------------------
# updaters


def _p():
    return {"W": np.ones((2, 2), np.float32)}


def test_non_finite_gradient_warns_once_naming_the_leaf_and_updates():
    g = {"W": np.array([[np.nan, 1], [1, np.inf]], np.float32)}
    with pytest.warns(NonFiniteGradientWarning, match=r"grad\['W'\]") as record:
        p, v = dt.sgdmupdate(_p(), g, None, 0.1, 0.9)
    assert len(record) == 1
    # the update is made, as in MATLAB: p = 1 - 0.1 g
    np.testing.assert_array_equal(p["W"], np.array([[np.nan, 0.9], [0.9, -np.inf]], np.float32))


@pytest.mark.parametrize("leaf, match", [
    (np.ones((2, 2)) * 1j, "complex128.*imaginary part"),
    (np.array([[1, None], [2, 3]], dtype=object), "object"),
    (None, "None.*return"),
])
def test_bad_gradient_leaves_are_refused(leaf, match):
    with pytest.raises(UpdaterArgumentError, match=match):
        dt.adamupdate(_p(), {"W": leaf}, None, None, 1)


def test_float16_parameters_are_refused():
    with pytest.raises(UpdaterArgumentError, match="float16.*underflows"):
        dt.adamupdate({"W": np.ones(2, np.float16)}, {"W": np.ones(2, np.float16)}, None, None, 1)


def test_uninitialized_network_says_initialize():
    net = dt.dlnetwork([dt.featureInputLayer(3), dt.fullyConnectedLayer(2)], Initialize=False)
    with pytest.raises(UpdaterArgumentError, match=r"net = initialize\(net\)"):
        dt.adamupdate(net, net.Learnables, None, None, 1)


# -------------------------------------------------------------------------------------------------
# losses


def test_crossentropy_targets_outside_0_1_are_refused():
    Y = dt.softmax(dlarray(np.random.default_rng(0).random((3, 4)), "CB"))
    T = np.eye(3)[:, [0, 1, 2, 0]]
    with pytest.raises(LossArgumentError, match="targets must be probabilities"):
        dt.crossentropy(Y, -T)
    assert float(dt.crossentropy(Y, T)) > 0


@pytest.mark.parametrize("loss", [dt.crossentropy, dt.mse, dt.l2loss])
def test_empty_batch_says_zero_observations(loss):
    with pytest.raises(LossArgumentError, match="0 observations"):
        loss(dlarray(np.zeros((3, 0)), "CB"), np.zeros((3, 0)))


# -------------------------------------------------------------------------------------------------
# save / load


def _manifest(version=1, tree=None):
    return json.dumps({"format": "dlteach", "version": version, "kind": "parameters",
                       "tree": tree or {"t": "none"}})


def _write(path, manifest, **arrays):
    with open(path, "wb") as f:
        np.savez(f, __dlteach_manifest__=np.array(manifest), **arrays)


@pytest.mark.parametrize("version", [0, -1, True])
def test_version_out_of_range(tmp_path, version):
    _write(tmp_path / "v.npz", _manifest(version))
    with pytest.raises(FileFormatError, match="v.npz"):
        dt.load(tmp_path / "v.npz")


def test_text_in_a_dlarray_entry_and_integer_learnables(tmp_path):
    _write(tmp_path / "t.npz", _manifest(tree={"t": "dlarray", "key": "a0", "fmt": ""}), a0=np.array(["abc"]))
    with pytest.raises(FileFormatError, match="dlarray entry has dtype <U3"):
        dt.load(tmp_path / "t.npz")
    path = dt.save(tmp_path / "net", _tiny_net())
    z = dict(np.load(path))
    m = json.loads(str(z["__dlteach_manifest__"]))
    key = m["network"]["learnables"][0][2]
    for dtype in (np.int64, np.complex64):
        z[key] = z[key].astype(dtype)
        with open(tmp_path / "bad.npz", "wb") as f:
            np.savez(f, **z)
        with pytest.raises(FileFormatError, match=f"fc/Weights has dtype {np.dtype(dtype)}"):
            dt.load(tmp_path / "bad.npz")


def test_declared_size_is_checked_before_allocating(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
    manifest = io.BytesIO()
    np.save(manifest, np.array(_manifest(tree={"t": "ndarray", "key": "a0"})))
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as zf:
        zf.writestr("__dlteach_manifest__.npy", manifest.getvalue())
        zf.writestr("a0.npy", header.getvalue() + bytes(16))
    with pytest.raises(FileFormatError, match="declares size 1000000x1000000"):
        dt.load(tmp_path / "huge.npz")


def test_deep_manifest_and_deep_or_cyclic_save(tmp_path):
    deep = '{"t":"list","items":[' * 5000 + '{"t":"none"}' + "]}" * 5000
    _write(tmp_path / "deep.npz", _manifest().replace('{"t": "none"}', deep))
    with pytest.raises(FileFormatError, match="nested too deeply"):
        dt.load(tmp_path / "deep.npz")
    nested = cur = []
    for _ in range(250):
        cur.append([])
        cur = cur[0]
    with pytest.raises(SaveError, match="nested more than 200 levels"):
        dt.save(tmp_path / "n", nested)
    cyclic = {"a": []}
    cyclic["a"].append(cyclic)
    with pytest.raises(SaveError, match="contains itself"):
        dt.save(tmp_path / "c", cyclic)
    assert not os.path.exists(tmp_path / "n.npz") and not os.path.exists(tmp_path / "c.npz")
    ok = cur = []
    for _ in range(150):
        cur.append([])
        cur = cur[0]
    assert dt.load(dt.save(tmp_path / "ok", ok)) == ok  # what save writes, load reads


def test_npy_file_and_missing_folder_name_the_users_path(tmp_path):
    np.save(tmp_path / "a.npy", np.ones(3))
    with pytest.raises(FileFormatError, match=r"a\.npy' is a \.npy file.*np\.load"):
        dt.load(tmp_path / "a.npy")
    target = os.path.join(tmp_path, "missing", "model")
    with pytest.raises(MissingFolderError, match=r"cannot write '.*missing/model'.*does not exist") as err:
        dt.save(target, {"a": np.ones(2)})
    assert ".dlteach-" not in str(err.value)
    assert isinstance(err.value, FileNotFoundError)


def test_size_check_accepts_real_files(tmp_path):
    params = {"W": dlarray(np.ones((3, 4), np.float32), "CB"), "s": np.float64(math.pi), "n": [1, "x", None]}
    back = dt.load(dt.save(tmp_path / "p", params))
    np.testing.assert_array_equal(dt.extractdata(back["W"]), np.ones((3, 4)))
    assert back["s"] == np.float64(math.pi) and back["n"] == [1, "x", None]


def test_no_disconnected_warning_after_a_higher_derivative(monkeypatch):
    """A gradient penalty's derivative w.r.t. a bias is structurally zero: no warning there."""
    monkeypatch.setattr(dt.autodiff, "WARN_DISCONNECTED", True)

    def f(w, b, x):
        y = np.sum(np.tanh(w * x) + b)
        gx = dlgradient(y, x, EnableHigherDerivatives=True)
        return dlgradient(np.sum(gx * gx), w, b)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gw, gb = dlfeval(f, dlarray(np.ones(3)), dlarray(np.zeros(3)), dlarray(np.full(3, 0.5)))
    assert not np.any(dt.extractdata(gb)) and np.all(dt.extractdata(gw) != 0)
