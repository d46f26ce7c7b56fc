"""Tests of dlteach.serialization: exact round trips and clear errors for bad files."""

import json
import os
import zipfile

import numpy as np
import pytest

from dlteach import dlarray
from dlteach.errors import FileFormatError
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
    sigmoidLayer,
    softmaxLayer,
    tanhLayer,
)
from dlteach.network import dlnetwork, forward, getL2Factor, learn_rate_factors, predict
from dlteach.serialization import load, save
from dlteach.table import Table


def rich_net():
    np.random.seed(0)
    net = dlnetwork([
        imageInputLayer([9, 9, 2], Normalization="zerocenter", Mean=np.array([0.5, 0.25]), Name="img"),
        convolution2dLayer(3, 4, Stride=2, Padding="same", WeightLearnRateFactor=0.5),
        batchNormalizationLayer(Epsilon=1e-3, MeanDecay=0.2),
        leakyReluLayer(0.2), averagePooling2dLayer(2, Stride=1, Padding=[0, 1, 0, 1]), maxPooling2dLayer(2),
        dropoutLayer(0.25), flattenLayer(), fullyConnectedLayer(5, BiasL2Factor=0.5), tanhLayer(),
        fullyConnectedLayer(3, WeightsInitializer=lambda sz: np.ones(sz)), sigmoidLayer(), softmaxLayer()])
    X = dlarray(np.random.rand(9, 9, 2, 4).astype(np.float32), "SSCB")
    _, state = forward(net, X, return_state=True)
    net.State = state
    return net, X


def assert_same_value(a, b):
    assert type(a) is type(b)
    if type(a) is dlarray:
        assert a.fmt == b.fmt
        a, b = np.asarray(a), np.asarray(b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    else:
        assert a == b or (a != a and b != b)


def test_network_round_trip_is_exact(tmp_path):
    net, X = rich_net()
    path = save(tmp_path / "net", net)
    assert path.endswith("net.npz") and os.listdir(tmp_path) == ["net.npz"]
    back = load(tmp_path / "net")  # .npz found automatically
    assert [lay.Name for lay in back.Layers] == [lay.Name for lay in net.Layers]
    assert [repr(lay) for lay in back.Layers][:-3] == [repr(lay) for lay in net.Layers][:-3]
    assert back.Learnables.keys() == net.Learnables.keys() and back.State.keys() == net.State.keys()
    for a, b in zip(net.Learnables.Value + net.State.Value, back.Learnables.Value + back.State.Value):
        assert_same_value(a, b)
    assert learn_rate_factors(back) == learn_rate_factors(net)
    rows = [(r.Layer, r.Parameter) for r in net.Learnables]
    assert [getL2Factor(back, *r) for r in rows] == [getL2Factor(net, *r) for r in rows]
    assert getL2Factor(back, "fc_1", "Bias") == 0.5 and getL2Factor(back, "fc_1", "Weights") == 1.0
    L = back.Layers
    assert (L[1].Stride, L[1].Padding, L[2].Epsilon, L[2].MeanDecay, L[3].Scale, L[6].Probability) == \
        ((2, 2), "same", 1e-3, 0.2, 0.2, 0.25)
    np.testing.assert_array_equal(L[0].Mean, np.array([0.5, 0.25], np.float32))
    assert L[10].WeightsInitializer == "custom"
    np.testing.assert_array_equal(np.asarray(predict(back, X)), np.asarray(predict(net, X)))


def test_uninitialized_network_round_trip(tmp_path):
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(2, Bias=[[1.0], [2.0]])], Initialize=False)
    back = load(save(tmp_path / "u.npz", net))
    assert not back.Initialized and back.Learnables.Value[0] is None
    assert_same_value(back.Learnables.Value[1], net.Learnables.Value[1])


def test_parameter_containers_round_trip(tmp_path):
    params = {
        "fc1": {"Weights": dlarray(np.random.randn(4, 3).astype(np.float32)),
                "Bias": dlarray(np.random.randn(4, 1), "CB")},
        "conv": [dlarray(np.random.rand(2, 3, 4, 5).astype(np.float32), "SSCB"),
                 dlarray(np.random.rand(3, 2, 5).astype(np.float32), "TCB")],
        "misc": (np.arange(6, dtype=np.int32).reshape(2, 3), np.array([True, False]), np.float32(1.5),
                 np.float64("nan"), 3, 2.5, float("-inf"), True, None, "text é", [], {}),
        "table": Table(["fc", "fc"], ["Weights", "Bias"], [dlarray(np.ones((2, 2), np.float32)), None]),
    }
    back = load(save(tmp_path / "p.npz", params))
    assert list(back) == list(params) and isinstance(back["misc"], tuple) and isinstance(back["conv"], list)
    assert back["conv"][1].fmt == "CBT"
    for k in ("fc1",):
        for name in params[k]:
            assert_same_value(params[k][name], back[k][name])
    for a, b in zip(params["conv"], back["conv"]):
        assert_same_value(a, b)
    for a, b in zip(params["misc"], back["misc"]):
        assert_same_value(a, b)
    assert isinstance(back["table"], Table) and back["table"].keys() == params["table"].keys()
    assert_same_value(back["table"].Value[0], params["table"].Value[0])
    assert back["table"].Value[1] is None
    assert_same_value(load(save(tmp_path / "x.npz", dlarray(np.zeros(3)))), dlarray(np.zeros(3)))


def test_unsupported_content_is_refused_without_writing(tmp_path):
    with pytest.raises(TypeError, match=r"value\['f'\] of type function"):
        save(tmp_path / "bad.npz", {"f": lambda: 1})
    with pytest.raises(TypeError, match="keys must be strings"):
        save(tmp_path / "bad.npz", {1: 2})
    assert os.listdir(tmp_path) == []


def _bytes(path):
    with open(path, "rb") as f:
        return bytearray(f.read())


def test_truncated_file(tmp_path):
    net, _ = rich_net()
    path = save(tmp_path / "n.npz", net)
    data = _bytes(path)
    for cut in (len(data) // 2, len(data) - 30, 10):
        with open(path, "wb") as f:
            f.write(data[:cut])
        with pytest.raises(FileFormatError, match="corrupt, truncated"):
            load(path)


def test_flipped_bytes_in_manifest_and_in_data(tmp_path):
    net, _ = rich_net()
    path = save(tmp_path / "n.npz", net)
    data = _bytes(path)
    i = data.find('"format"'.encode("utf-32-le"))
    assert i > 0
    bad = bytearray(data)
    bad[i + 8] ^= 0xFF
    with open(path, "wb") as f:
        f.write(bad)
    with pytest.raises(FileFormatError):
        load(path)
    # a flipped byte in the array data is caught by the CRC
    bad = bytearray(data)
    bad[len(data) // 3] ^= 0x01
    with open(path, "wb") as f:
        f.write(bad)
    with pytest.raises(FileFormatError):
        load(path)


def test_foreign_and_garbage_files(tmp_path):
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.arange(3))
    with pytest.raises(FileFormatError, match=r"not a dlteach file.*\['x'\].*np.load"):
        load(foreign)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip file at all")
    with pytest.raises(FileFormatError, match="corrupt"):
        load(garbage)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, __dlteach_manifest__=np.array("{}"), obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(FileFormatError):
        load(pickled)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")


def _rewrite_manifest(path, edit):
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    m = json.loads(str(arrays["__dlteach_manifest__"]))
    edit(m)
    arrays["__dlteach_manifest__"] = np.array(json.dumps(m))
    np.savez(path, **arrays)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update(format="other"), "does not name the dlteach format"),
    (lambda m: m.update(version=99), "newer dlteach"),
    (lambda m: m.update(kind="model"), "unknown content kind"),
    (lambda m: m["network"]["layers"][1].update({"class": "selfAttentionLayer"}), "unknown layer type"),
    (lambda m: m["network"]["learnables"][0].__setitem__(2, "a999"), "missing array entry 'a999'"),
    (lambda m: m["network"]["learnables"][0].__setitem__(0, "nope"), "rows do not match"),
    (lambda m: m["network"]["learnables"].__setitem__(0, m["network"]["learnables"][4]), "rows do not match"),
    (lambda m: m["network"]["layers"][1]["options"].update(numFilters=5), "do not fit the layers"),
])
def test_inconsistent_manifests(tmp_path, edit, message):
    net, _ = rich_net()
    path = save(tmp_path / "n.npz", net)
    _rewrite_manifest(path, edit)
    with pytest.raises(FileFormatError, match=message):
        load(path)


def test_inconsistent_parameter_manifest(tmp_path):
    path = save(tmp_path / "p.npz", {"W": dlarray(np.zeros((2, 3)), "CB")})
    _rewrite_manifest(path, lambda m: m["tree"]["items"][0][1].update(fmt="SSCB"))
    with pytest.raises(FileFormatError, match="does not match an array of 2 dimensions"):
        load(path)
    _rewrite_manifest(path, lambda m: m["tree"]["items"][0][1].update(t="pickle"))
    with pytest.raises(FileFormatError, match="unknown entry type 'pickle'"):
        load(path)


def test_saved_file_is_a_plain_npz_without_pickles(tmp_path):
    net, _ = rich_net()
    path = save(tmp_path / "n.npz", net)
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    assert "__dlteach_manifest__.npy" in names
    with np.load(path, allow_pickle=False) as z:
        m = json.loads(str(z["__dlteach_manifest__"]))
        assert all(z[k].dtype != object for k in z.files)
    assert (m["format"], m["version"], m["kind"]) == ("dlteach", 1, "dlnetwork")
    assert m["network"]["layers"][1] == {
        "class": "convolution2dLayer",
        "options": {"filterSize": [3, 3], "numFilters": 4, "Stride": [2, 2], "Padding": "same",
                    "DilationFactor": [1, 1], "WeightsInitializer": "glorot", "BiasInitializer": "zeros",
                    "WeightLearnRateFactor": 0.5, "BiasLearnRateFactor": 1.0, "WeightL2Factor": 1.0,
                    "BiasL2Factor": 0.0, "Name": "conv"},
        "arrays": {}}


def test_checkpoint_dict_with_a_network_round_trips_and_training_continues_exactly(tmp_path):
    """MATLAB save(filename,"net","averageGrad","averageSqGrad","iteration"): one file, several variables."""
    from dlteach import adamupdate, crossentropy, dlfeval, dlgradient

    net, X = rich_net()
    T = np.eye(3, 4, dtype=np.float32)

    def modelLoss(net, X, T):
        Y, state = forward(net, X, return_state=True)
        loss = crossentropy(Y, T)
        return loss, dlgradient(loss, net.Learnables), state

    def step(net, avg, avgSq, it):
        loss, grads, state = dlfeval(modelLoss, net, X, T)
        net.State = state
        net, avg, avgSq = adamupdate(net, grads, avg, avgSq, it)
        return net, avg, avgSq, float(loss)

    net, avg, avgSq, _ = step(net, None, None, 1)
    path = save(tmp_path / "checkpoint", {"net": net, "averageGrad": avg, "averageSqGrad": avgSq, "iteration": 1,
                                          "nets": [net]})
    S = load(path)
    assert list(S) == ["net", "averageGrad", "averageSqGrad", "iteration", "nets"]
    assert S["iteration"] == 1 and type(S["iteration"]) is int
    back = S["net"]
    assert type(back) is type(net) and [lay.Name for lay in back.Layers] == [lay.Name for lay in net.Layers]
    for a, b in zip(net.Learnables.Value + net.State.Value + avg.Value + avgSq.Value,
                    back.Learnables.Value + back.State.Value + S["averageGrad"].Value + S["averageSqGrad"].Value):
        assert_same_value(a, b)
    assert learn_rate_factors(back) == learn_rate_factors(net)
    assert type(S["nets"][0]) is type(net)
    # resuming from the file continues bit for bit (the network has a dropout layer: same random draws)
    np.random.seed(5)
    straight = step(*step(net, avg, avgSq, 2)[:3], 3)[3]
    np.random.seed(5)
    resumed = step(*step(back, S["averageGrad"], S["averageSqGrad"], 2)[:3], 3)[3]
    assert straight == resumed
