"""Tests of dlteach.tree, the one container walker: flatten / unflatten, leaf paths and keys, registration."""

from collections import OrderedDict, namedtuple

import numpy as np
import pytest

from dlteach import batchNormalizationLayer, dlarray, dlnetwork, featureInputLayer, fullyConnectedLayer, tree
from dlteach.errors import StructureMismatchError
from dlteach.table import Table

Pair = namedtuple("Pair", "a b")


def params():
    return {"fc1": {"Weights": dlarray(np.ones((2, 3), np.float32)), "Bias": np.zeros((2, 1))},
            "layers": [1.5, (None, "text")], "pair": Pair(np.arange(2.0), OrderedDict(x=3))}


def test_flatten_unflatten_round_trip_keeps_types_and_order():
    p = params()
    leaves, treedef = tree.flatten(p)
    assert treedef.num_leaves == len(leaves) == 7
    assert leaves[0] is p["fc1"]["Weights"] and leaves[2:5] == [1.5, None, "text"]
    back = treedef.unflatten(list(range(7)))
    assert back == {"fc1": {"Weights": 0, "Bias": 1}, "layers": [2, (3, 4)], "pair": Pair(5, OrderedDict(x=6))}
    assert type(back["pair"]) is Pair and type(back["pair"].b) is OrderedDict and type(back["layers"][1]) is tuple
    assert tree.tree_leaves(p)[1] is p["fc1"]["Bias"]


def test_treedefs_compare_structures():
    a = tree.flatten(params())[1]
    assert a == tree.flatten(params())[1]
    other = params()
    other["fc1"]["Extra"] = 1.0
    assert a != tree.flatten(other)[1]
    assert tree.flatten([1, 2])[1] != tree.flatten((1, 2))[1]
    assert tree.flatten({"a": 1, "b": 2})[1] != tree.flatten({"b": 2, "a": 1})[1]  # order is part of the structure


def test_one_path_spelling_for_every_container():
    np.random.seed(0)
    net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(2), batchNormalizationLayer()])
    paths = tree.leaf_paths({"net": net, "p": params()}, "x")
    assert paths[:6] == ["x['net'].Learnables{fc/Weights}", "x['net'].Learnables{fc/Bias}",
                         "x['net'].Learnables{batchnorm/Offset}", "x['net'].Learnables{batchnorm/Scale}",
                         "x['net'].State{batchnorm/TrainedMean}", "x['net'].State{batchnorm/TrainedVariance}"]
    assert paths[6:9] == ["x['p']['fc1']['Weights']", "x['p']['fc1']['Bias']", "x['p']['layers'][0]"]
    assert paths[-1] == "x['p']['pair'][1]['x']"
    assert tree.leaf_paths(net.Learnables, "grad")[1] == "grad.Value{fc/Bias}"
    keys = tree.flatten({"t": net.Learnables, "l": [5]})[1].keys()
    assert keys == [("t", "fc/Weights"), ("t", "fc/Bias"), ("t", "batchnorm/Offset"), ("t", "batchnorm/Scale"),
                    ("l", 0)]


def test_tree_map_mismatch_names_the_path_with_the_same_spelling():
    p = params()
    q = params()
    q["layers"] = [1.5]
    with pytest.raises(StructureMismatchError, match=r"at grad\['layers'\]: lengths differ \(2 vs 1\)"):
        tree.tree_map(lambda a, b: a, p, q, path="grad")
    t = Table(["fc", "fc"], ["Weights", "Bias"], [1.0, 2.0])
    u = Table(["fc", "fc"], ["Weights", "Offset"], [1.0, 2.0])
    with pytest.raises(StructureMismatchError, match="row 1: Layer/Parameter fc/Bias vs fc/Offset"):
        tree.tree_map(lambda a, b: a, t, u)


class Box:
    """A user's container type: two arrays."""

    def __init__(self, w, b):
        self.w, self.b = w, b


def test_register_a_container_and_a_leaf_type():
    tree.register(Box, lambda x: ([x.w, x.b], None), lambda aux, ch: Box(*ch),
                  child_path=lambda aux, i: "." + "wb"[i], child_key=lambda aux, i: "wb"[i])
    try:
        leaves, treedef = tree.flatten({"box": Box(1.0, 2.0)})
        assert leaves == [1.0, 2.0] and treedef.paths("m") == ["m['box'].w", "m['box'].b"]
        assert treedef.keys() == [("box", "w"), ("box", "b")]
        doubled = tree.tree_map(lambda v: 2 * v, {"box": Box(1.0, 2.0)})
        assert (doubled["box"].w, doubled["box"].b) == (2.0, 4.0)
        tree.register_leaf(Box)
        leaves, treedef = tree.flatten({"box": Box(1.0, 2.0)})
        assert len(leaves) == 1 and isinstance(leaves[0], Box) and treedef.paths() == ["['box']"]
    finally:
        tree._REGISTRY.pop(Box, None)
        tree._LEAF_TYPES.discard(Box)


# -------------------------------------------------------------------------------------------------
# compiled plain structures (TreeDef.unflatten / leaves_of on dicts, lists, tuples)

def _plain_cases():
    a = np.ones(2)
    return [
        {"fc1": {"Weights": a, "Bias": 1.0}, "fc2": [a, (2.0,)], 3: (), "e": {}, "l": []},
        [a, [a, {"k": None}], ("x", 1)],
        (a,),
        {("tuple", "key"): a, None: [a]},
    ]


@pytest.mark.parametrize("case", range(4))
def test_compiled_unflatten_and_leaves_of_agree_with_the_walker(case):
    x = _plain_cases()[case]
    leaves, treedef = tree.flatten(x)
    new = [object() for _ in leaves]  # any values go back in their places
    rebuilt = treedef.unflatten(new)
    assert tree.flatten(rebuilt)[1] == treedef and tree.tree_leaves(rebuilt) == new
    assert rebuilt == tree._unflatten(treedef._node, iter(new))  # the uncompiled builder
    got = treedef.leaves_of(x)
    assert len(got) == len(leaves) and all(g is v for g, v in zip(got, leaves))


@pytest.mark.parametrize("case", range(4))
def test_functions_are_unflatten_and_leaves_of_as_plain_functions(case):
    x = _plain_cases()[case]
    leaves, treedef = tree.flatten(x)
    build, leaves_of = treedef.functions()
    new = [object() for _ in leaves]
    assert build(new) == treedef.unflatten(new) and tree.tree_leaves(build(new)) == new
    got = leaves_of(x)
    assert len(got) == len(leaves) and all(g is v for g, v in zip(got, leaves))
    assert leaves_of([x, x]) is None and leaves_of(None) is None


def test_functions_of_a_structure_that_is_not_compiled():
    np.random.seed(0)
    net = dlnetwork([featureInputLayer(2), fullyConnectedLayer(3)])
    x = {"net": net, "w": np.ones(2)}
    leaves, treedef = tree.flatten(x)
    build, leaves_of = treedef.functions()  # a dlnetwork inside: the two methods
    assert [a is b for a, b in zip(leaves_of(x), leaves)] == [True] * len(leaves)
    rebuilt = build(leaves)
    assert isinstance(rebuilt["net"], dlnetwork) and rebuilt["w"] is x["w"]
    assert leaves_of({"net": net}) is None


def test_leaves_of_matches_dict_keys_by_name_and_refuses_other_structures():
    a, b = np.zeros(1), np.ones(1)
    _, treedef = tree.flatten({"w": a, "b": {"x": a, "y": [a]}})
    # another key order: the leaves come in the structure's order (as tree_map pairs them)
    got = treedef.leaves_of({"b": {"y": [b], "x": a}, "w": 3.0})
    assert got[0] == 3.0 and got[1] is a and got[2] is b
    for other in ({"w": a, "b": {"x": a}},                    # a missing key
                  {"w": a, "b": {"x": a, "y": [a]}, "z": a},  # an extra key
                  {"w": a, "b": {"x": a, "z": [a]}},          # a renamed key
                  {"w": {"deeper": a}, "b": {"x": a, "y": [a]}},  # a container where a leaf is
                  {"w": a, "b": {"x": a, "y": (a,)}},         # tuple instead of list
                  {"w": a, "b": {"x": a, "y": [a, a]}},       # another length
                  [a, a, a], None, a):
        assert treedef.leaves_of(other) is None, other


def test_compiled_structures_are_bounded_and_skip_registered_containers():
    tree._COMPILED.clear()
    for n in range(tree._COMPILED_MAX + 10):
        _, td = tree.flatten({f"k{n}": 1.0})
        td.unflatten([2.0])
    assert len(tree._COMPILED) <= tree._COMPILED_MAX
    from dlteach.table import Table

    t = Table(["fc"], ["Weights"], [np.ones(2)])
    leaves, td = tree.flatten({"t": t})
    assert td.leaves_of({"t": t}) is not None and isinstance(td.unflatten(leaves)["t"], Table)
    assert tree._compiled(td._node) is not None  # a Table inside is compiled too (its aux is hashable)
    t2 = Table(["fc"], ["Bias"], [np.ones(2)])
    assert td.leaves_of({"t": t2}) is None  # other rows: no match
    assert tree.flatten_as({"t": t2}, td)[1] == tree.flatten({"t": t2})[1]


def test_flatten_as_reuses_the_structure_only_when_identical():
    from dlteach.table import Table

    a, b = np.ones(2), np.zeros(3)
    x = {"fc1": {"W": a, "b": b}, "fc2": [a, (b,)]}
    leaves, td = tree.flatten(x)
    got, td2 = tree.flatten_as({"fc1": {"W": b, "b": a}, "fc2": [b, (a,)]}, td)
    assert td2 is td and got[0] is b and got[1] is a and len(got) == 4
    # the cases it must not take: another key order, a container where a leaf was, another length, None
    for other in ({"fc2": [a, (b,)], "fc1": {"W": a, "b": b}}, {"fc1": {"W": [a], "b": b}, "fc2": [a, (b,)]},
                  {"fc1": {"W": a, "b": b}, "fc2": [a, (b, b)]}, {"fc1": {"W": a, "b": b}, "fc2": (a, (b,))}):
        got, td3 = tree.flatten_as(other, td)
        ref, tdr = tree.flatten(other)
        assert td3 is not td and td3 == tdr and all(g is r for g, r in zip(got, ref))
        assert td3.unflatten(got) == other and list(td3.unflatten(got)) == list(other)
    assert tree.flatten_as(x, None)[1] == td
    # non-str dict keys: never reused (1 == True), always flattened again
    _, tdk = tree.flatten({1: a})
    got, tdk2 = tree.flatten_as({True: b}, tdk)
    assert tdk2 is not tdk and list(tdk2.unflatten(got)) == [True]
    # Tables: same rows reuse, other rows do not
    t = Table(["fc", "fc"], ["Weights", "Bias"], [a, b])
    _, tdt = tree.flatten(t)
    got, same = tree.flatten_as(Table(["fc", "fc"], ["Weights", "Bias"], [b, a]), tdt)
    assert same is tdt and got[0] is b
    other = Table(["fc", "fc"], ["Bias", "Weights"], [b, a])
    assert tree.flatten_as(other, tdt)[1] is not tdt
    rebuilt = tdt.unflatten([b, a])
    assert isinstance(rebuilt, Table) and rebuilt.keys() == t.keys() and rebuilt.Value[0] is b


def test_a_network_inside_a_container_is_rebuilt_from_its_own_fields():
    """A dlnetwork's aux compares architectures, but unflatten rebuilds from that very network: structures
    holding networks are never compiled (else network B would come back with the fields of an equal-looking A)."""
    from dlteach import getLearnRateFactor, setLearnRateFactor

    np.random.seed(0)
    a = dlnetwork([featureInputLayer(2), fullyConnectedLayer(3, Name="fc")])
    b = setLearnRateFactor(a, "fc", "Weights", 0.25)  # same architecture (names, types, rows), other layers
    for net, factor in ((a, 1.0), (b, 0.25), (a, 1.0)):
        leaves, treedef = tree.flatten({"net": net, "w": np.ones(2)})
        rebuilt = treedef.unflatten(leaves)["net"]
        assert getLearnRateFactor(rebuilt, "fc", "Weights") == factor
        assert treedef.leaves_of({"net": net, "w": np.ones(2)}) is not None
