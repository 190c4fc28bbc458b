"""Surrogate model files are arrays and JSON: pickles and crafted files never run code.

Issue 21: ``SurrogateModel.load`` unpickled whatever it was given, so a
crafted ``model.pkl`` ran its payload (section 1); a file holding an int or a
dict without a model gave tracebacks (section 3).
"""

import json
import pickle

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.ensemble import HistGradientBoostingRegressor

from polyhpc.cli import main
from polyhpc.data import load_htpmd_properties
from polyhpc.errors import ModelError
from polyhpc.surrogate.config import SurrogateConfig
from polyhpc.surrogate.features import featurize
from polyhpc.surrogate.gbt import GBTSettings, TreeEnsemble, forest_arrays, predict_forest
from polyhpc.surrogate.model import SurrogateModel, train_surrogate


class _Payload:
    """Unpickling this creates ``marker``: what a crafted model file could do instead."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


@pytest.fixture(scope="module")
def frame():
    return load_htpmd_properties()


@pytest.fixture(scope="module")
def gp_model(frame):
    return train_surrogate(frame.iloc[:300])


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _only_error_line(result, fragment: str) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert fragment in lines[0], lines[0]
    return lines[0]


def _npz(path, meta, **arrays):
    """A file in the model container: ``meta`` as JSON bytes, and ``arrays``."""
    raw = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as handle:
        np.savez(handle, meta=raw, **arrays)
    return path


@pytest.mark.parametrize("command", [
    ["surrogate", "predict", "{evil}", "*CCO*"],
    ["surrogate", "select", "{evil}", "--file", "{units}"],
    ["surrogate", "convert", "{evil}", "{tmp}/new.npz"],
])
def test_a_crafted_pickle_is_refused_and_its_payload_never_runs(tmp_path, command):
    marker = tmp_path / "payload-ran"
    evil = tmp_path / "model.pkl"
    evil.write_bytes(pickle.dumps({"format": "polyhpc-surrogate-2", "model": _Payload(marker)}))
    (tmp_path / "units.txt").write_text("*CCO*\n")
    args = [a.format(evil=evil, units=tmp_path / "units.txt", tmp=tmp_path) for a in command]
    line = _only_error_line(_run(*args), "--trust-pickle")
    assert not marker.exists() and not (tmp_path / "new.npz").exists()
    if command[1] != "convert":
        assert line == (
            f"error: {evil} is a pickled surrogate model (polyhpc before polyhpc-surrogate-3); "
            "polyhpc no longer unpickles models, since that can run code: train one with "
            f"`polyhpc surrogate train --out {tmp_path / 'model.npz'}`, or, only if you made "
            f"{evil} yourself, `polyhpc surrogate convert {evil} {tmp_path / 'model.npz'} "
            "--trust-pickle`")
    # the payload is live: the loader polyhpc used before (pickle.load) runs it
    pickle.loads(evil.read_bytes())
    assert marker.exists()


def test_a_crafted_npz_with_pickled_arrays_is_refused_and_its_payload_never_runs(tmp_path):
    marker = tmp_path / "payload-ran"
    evil = _npz(tmp_path / "model.npz", {"format": "polyhpc-surrogate-3"},
                trap=np.array([_Payload(marker)], dtype=object))
    _only_error_line(_run("surrogate", "predict", evil, "*CCO*"),
                     "holds Python objects, not only arrays; polyhpc refuses to unpickle them")
    assert not marker.exists()
    with np.load(evil, allow_pickle=True) as data:  # the payload is live
        data["trap"]
    assert marker.exists()


def _damaged_alpha(model, folder):
    model.save(folder / "good.npz")
    with np.load(folder / "good.npz") as data:
        arrays = dict(data)
    arrays["log10_conductivity.alpha"] = arrays["log10_conductivity.alpha"][:-1]
    with open(folder / "file.npz", "wb") as handle:
        np.savez(handle, **arrays)


@pytest.mark.parametrize("content, message", [
    ("pickled int", "is a pickled surrogate model"),
    ("pickled dict without a model", "is a pickled surrogate model"),
    ("pickled dict whose model is an int", "is a pickled surrogate model"),
    ("JSON int", "is not a polyhpc surrogate model; train one with"),
    ("settings without a model", "holds no surrogate model (no regressors); train one with"),
    ("newer format", "is a polyhpc-surrogate-9 model, this polyhpc reads polyhpc-surrogate-3"),
    ("arrays that disagree", "is a damaged surrogate model (ValueError: alpha is float64 "
                             "(299,), expected finite floats (300,))"),
    ("text", "is corrupt or not a surrogate model; train one with"),
])
def test_a_file_without_a_usable_model_gives_one_line(tmp_path, gp_model, content, message):
    path = tmp_path / "file.npz"
    if content == "pickled int":
        path.write_bytes(pickle.dumps(42))
    elif content == "pickled dict without a model":
        path.write_bytes(pickle.dumps({"format": "polyhpc-surrogate-2"}))
    elif content == "pickled dict whose model is an int":
        path.write_bytes(pickle.dumps({"format": "polyhpc-surrogate-2", "model": 42}))
    elif content == "JSON int":
        _npz(path, 42)
    elif content == "settings without a model":
        _npz(path, {"format": "polyhpc-surrogate-3", "config": {}})
    elif content == "newer format":
        _npz(path, {"format": "polyhpc-surrogate-9"})
    elif content == "arrays that disagree":
        _damaged_alpha(gp_model, tmp_path)
    else:
        path.write_text("42\n")
    _only_error_line(_run("surrogate", "predict", path, "*CCO*"), message)


@pytest.mark.parametrize("payload, message", [
    (42, "holds a pickled int, not a polyhpc surrogate model"),
    ({"format": "polyhpc-surrogate-2"}, "holds no surrogate model (its 'model' is NoneType)"),
    ({"format": "polyhpc-surrogate-2", "model": 42},
     "holds no surrogate model (its 'model' is int)"),
    ({"format": "polyhpc-surrogate-1", "model": 1}, "is a 'polyhpc-surrogate-1' pickle; only "
                                                   "polyhpc-surrogate-2 converts"),
])
def test_converting_a_pickle_without_a_model_gives_one_line(tmp_path, payload, message):
    old = tmp_path / "old.pkl"
    old.write_bytes(pickle.dumps(payload))
    _only_error_line(_run("surrogate", "convert", old, tmp_path / "new.npz", "--trust-pickle"),
                     message)
    assert not (tmp_path / "new.npz").exists()


def test_an_old_pickled_gp_converts_to_a_file_that_predicts_the_same(tmp_path, gp_model, frame):
    old = tmp_path / "model.pkl"
    # what SurrogateModel.save wrote before format 3
    old.write_bytes(pickle.dumps({"format": "polyhpc-surrogate-2", "versions": {},
                                  "model": gp_model}))
    new = tmp_path / "model.npz"
    result = _run("surrogate", "convert", old, new, "--trust-pickle")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (f"converted {old} (gp surrogate of log10_conductivity) "
                                     f"to {new} (polyhpc-surrogate-3)")
    units = frame["smiles"].iloc[300:340].tolist()
    pd.testing.assert_frame_equal(SurrogateModel.load(new).predict(units),
                                  gp_model.predict(units), check_exact=True)


def test_an_old_pickled_tree_ensemble_converts_and_predicts_as_scikit_learn(tmp_path, frame):
    config = SurrogateConfig(kind="gbt", members=2, max_iter=20)
    train = frame.iloc[:200]
    features, keys = featurize(train["smiles"].tolist(), config.feature_settings)
    y = np.log10(train["conductivity_S_per_cm"].to_numpy())
    rows = np.isfinite(features).all(axis=1) & np.isfinite(y)
    members = [HistGradientBoostingRegressor(max_iter=20, random_state=i).fit(
        features[rows], y[rows]) for i in range(2)]
    # the pickled state of a TreeEnsemble before format 3: its settings and sklearn members
    legacy = TreeEnsemble.__new__(TreeEnsemble)
    legacy.__dict__.update({"settings": GBTSettings(2, 20, 0.08, 31, 1.0, 0),
                            "members": members})
    model = SurrogateModel(config, {"log10_conductivity": legacy}, "sha", int(rows.sum()),
                           frozenset(k for k in keys if k))
    old = tmp_path / "trees.pkl"
    old.write_bytes(pickle.dumps({"format": "polyhpc-surrogate-2", "model": model}))
    new = tmp_path / "trees.npz"
    assert _run("surrogate", "convert", old, new, "--trust-pickle").exit_code == 0
    units = frame["smiles"].iloc[200:240].tolist()
    table = SurrogateModel.load(new).predict(units)
    unit_features, _ = featurize(units, config.feature_settings)
    usable = np.isfinite(unit_features).all(axis=1)
    reference = np.stack([m.predict(unit_features[usable]) for m in members])
    np.testing.assert_array_equal(table["surrogate_log10_conductivity"][usable],
                                  reference.mean(axis=0))
    np.testing.assert_array_equal(table["surrogate_log10_conductivity_std"][usable],
                                  reference.std(axis=0))


def test_saved_trees_predict_as_scikit_learn_bit_for_bit_missing_values_included():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 12)).astype(np.float32)
    x[rng.random(x.shape) < 0.05] = np.nan
    y = np.sin(np.nan_to_num(x[:, 0])) + 0.1 * rng.normal(size=400)
    members = [HistGradientBoostingRegressor(max_iter=50, random_state=i).fit(
        x[rng.integers(0, 400, 400)], y) for i in range(3)]
    test = rng.normal(size=(100, 12)).astype(np.float32)
    test[rng.random(test.shape) < 0.1] = np.nan
    reference = np.stack([m.predict(test) for m in members])
    np.testing.assert_array_equal(predict_forest(forest_arrays(members),
                                                 test.astype(np.float64)), reference)


def test_a_saved_model_is_refused_by_pickle_and_read_back_identically(tmp_path, gp_model, frame):
    path = tmp_path / "model.npz"
    gp_model.save(path)
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(path.read_bytes())  # a zip of arrays, nothing pickle could run
    with np.load(path, allow_pickle=False) as data:
        assert all(data[name].dtype != object for name in data.files)
    again = SurrogateModel.load(path)
    assert again.describe() == gp_model.describe()
    assert again.training_keys == gp_model.training_keys
    units = frame["smiles"].iloc[300:340].tolist()
    pd.testing.assert_frame_equal(again.predict(units), gp_model.predict(units),
                                  check_exact=True)


def test_the_library_loader_refuses_a_pickle_with_the_same_message(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(42))
    with pytest.raises(ModelError, match="is a pickled surrogate model"):
        SurrogateModel.load(path)
