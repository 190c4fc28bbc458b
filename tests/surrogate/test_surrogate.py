import pickle

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem, DataStructs
from scipy.stats import spearmanr

from polyhpc.chem import canonical_keys, morgan_fingerprint
from polyhpc.chem.polymerize import backbone_length
from polyhpc.data import load_htpmd_properties
from polyhpc.errors import ModelError, PolyhpcError
from polyhpc.surrogate.acquisition import select
from polyhpc.surrogate.config import SurrogateConfig
from polyhpc.surrogate.evaluate import score
from polyhpc.surrogate.model import SurrogateModel, train_surrogate
from polyhpc.surrogate.ood import ood_benchmark, precision_at

#: Khajeh et al., Digital Discovery 2025, Fig. 4: MD conductivities above PEO's (mS/cm).
PAPER_POLYETHERS = {"*OCCOC*": 1.515, "*OCCOCCOC*": 1.481, "*OCCCOCC*": 1.270}


@pytest.fixture(scope="module")
def htpmd():
    """Valid HTP-MD units with their backbone length and log10 conductivity."""
    frame = load_htpmd_properties()
    keys = canonical_keys(frame["smiles"].tolist())
    frame = frame.assign(canonical=keys).dropna(subset=["canonical"]).reset_index(drop=True)
    frame["backbone"] = [backbone_length(Chem.MolFromSmiles(k)) for k in frame["canonical"]]
    frame["y"] = np.log10(frame["conductivity_S_per_cm"])
    return frame


@pytest.fixture(scope="module")
def split(htpmd):
    """A fixed random split by polymer identity: 500 to train, 250 to test."""
    order = np.random.default_rng(42).permutation(len(htpmd))
    return htpmd.iloc[order[:500]].reset_index(drop=True), \
        htpmd.iloc[order[500:750]].reset_index(drop=True)


@pytest.fixture(scope="module")
def model(split):
    return train_surrogate(split[0])


def _backbone_oxygen_fraction(key: str) -> float:
    mol = Chem.MolFromSmiles(key)
    ends = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() == 0]
    path = Chem.GetShortestPath(mol, *ends)[1:-1]
    return sum(mol.GetAtomWithIdx(i).GetSymbol() == "O" for i in path) / len(path)


def _predict(model, frame):
    table = model.predict(frame["smiles"].tolist())
    return (table["surrogate_log10_conductivity"].to_numpy(),
            table["surrogate_log10_conductivity_std"].to_numpy())


def test_model_beats_the_mean_baseline_clearly_on_a_fixed_split(model, split):
    train, test = split
    mean, _ = _predict(model, test)
    ours = score(test["y"].to_numpy(), mean)
    baseline = score(test["y"].to_numpy(), np.full(len(test), train["y"].mean()))
    assert ours.r2 > 0.35 and ours.spearman > 0.6
    assert ours.mae < 0.8 * baseline.mae


def test_uncertainty_is_calibrated_on_a_fixed_held_out_fold(model, split):
    mean, std = _predict(model, split[1])
    inside = np.abs(split[1]["y"].to_numpy() - mean) <= std
    # 0.683 for a calibrated Gaussian; 250 values scatter by +-0.03 (binomial), so +-4 of those
    assert 0.55 <= inside.mean() <= 0.80


def test_model_ranks_short_units_far_better_than_backbone_oxygen_fraction(htpmd):
    """Train on backbones > 6 atoms, rank backbones of 5 (every HTP-MD unit has >= 5)."""
    rng = np.random.default_rng(0)
    long = htpmd[htpmd["backbone"] > 6].sample(600, random_state=rng)
    short = htpmd[htpmd["backbone"] <= 5].sample(250, random_state=rng)
    mean, _ = _predict(train_surrogate(long), short)

    def oxygen(frame):
        return np.array([_backbone_oxygen_fraction(k) for k in frame["canonical"]])

    slope = np.polyfit(oxygen(long), long["y"], 1)[0]
    baseline = spearmanr(short["y"], slope * oxygen(short)).statistic
    ours = spearmanr(short["y"], mean).statistic
    assert ours > baseline + 0.3 and ours > 0.45


def test_paper_polyethers_rank_in_the_top_class_and_polyethylene_below(htpmd):
    """Polymers outside HTP-MD with the paper's MD values: above PEO, far above the median."""
    model = train_surrogate(htpmd.sample(800, random_state=1))
    table = model.predict([*PAPER_POLYETHERS, "*CC*"])
    predicted = table["surrogate_log10_conductivity"].to_numpy()
    top_class = np.quantile(htpmd["y"], 0.95)
    assert (predicted[:-1] > top_class).all()
    # polyethylene (no Li-coordinating atom; 0 in the paper): below all, by a factor > 1.5
    assert predicted[-1] < top_class and predicted[-1] < predicted[:-1].min() - np.log10(1.5)
    assert not table["in_training_set"].any()


def test_translated_mirrored_and_repeated_units_get_identical_predictions(model):
    spellings = ["*CC(C)OC(=O)O*", "*OC(=O)OC(C)C*", "*OC(C)COC(=O)*", "*C(=O)OCC(C)O*",
                 "*CC(C)OC(=O)OCC(C)OC(=O)O*"]
    table = model.predict(spellings)
    assert table["canonical"].nunique() == 1
    assert table["surrogate_log10_conductivity"].nunique() == 1
    assert table["surrogate_log10_conductivity_std"].nunique() == 1


def test_predictions_are_labelled_surrogate_and_unpredicted_units_say_why(model):
    table = model.predict(["*CCO*", "not a polymer", "*CC[Si](C)(C)O*", "*C(*)*"])
    value_columns = [c for c in table.columns if c not in ("smiles", "canonical",
                                                           "in_training_set", "reason")]
    assert all(c.startswith("surrogate_") for c in value_columns)
    assert table["reason"].iloc[0] is None and table["surrogate_log10_conductivity_std"][0] > 0
    assert table["surrogate_log10_conductivity"][1:].isna().all()
    assert table["reason"].tolist()[1:] == [
        "invalid repeat unit: unparsable SMILES 'not a polymer'",
        "invalid repeat unit: element Si is outside C F H N O P S",
        "invalid repeat unit: expected exactly 2 end markers '*', found 3"]


def test_first_surrogate_stays_selectable_and_trees_stay_inside_the_training_range(split):
    train, test = split
    trees = train_surrogate(train.iloc[:300], SurrogateConfig(kind="gbt", members=2,
                                                              max_iter=30))
    assert trees.describe()["features"]["style"] == "unit"
    mean, std = _predict(trees, test)
    assert train["y"].iloc[:300].min() <= mean.min() and mean.max() <= train["y"].iloc[:300].max()
    assert (std >= 0).all()


def test_ucb_selection_is_diverse_and_top_k_takes_the_best_means(model):
    units = ["*CCO*", "*OCC*", "*CCOCO*", "*CCCO*", "*CC(F)O*", "*CCN*", "*CCS*", "*CCCCCCO*",
             "*CC(C)O*", "*COCCOCCO*"]
    predictions = model.predict(units)
    top = select(predictions, 3, method="top_k")
    best = predictions.drop_duplicates("canonical").nlargest(3, "surrogate_log10_conductivity")
    assert list(top["canonical"]) == list(best["canonical"])
    picks = select(predictions, 5, method="ucb", beta=2.0, max_similarity=0.5)
    assert picks["canonical"].is_unique
    fingerprints = [morgan_fingerprint(k, canonical=True) for k in picks["canonical"]]
    for i in range(1, len(fingerprints)):
        assert max(DataStructs.BulkTanimotoSimilarity(fingerprints[i], fingerprints[:i])) <= 0.5


@pytest.mark.parametrize("kwargs, message", [
    ({"k": 0}, "k must be an integer >= 1, got 0"),
    ({"k": -3}, "k must be an integer >= 1"),
    ({"k": 2, "max_similarity": 5.0}, r"max_similarity must be in \[0, 1\], got 5.0"),
    ({"k": 2, "max_similarity": -0.1}, r"max_similarity must be in \[0, 1\]"),
    ({"k": 2, "max_similarity": float("nan")}, r"max_similarity must be in \[0, 1\]"),
    ({"k": 2, "beta": -1.0}, "beta must be finite and >= 0"),
])
def test_acquisition_refuses_out_of_range_arguments(model, kwargs, message):
    predictions = model.predict(["*CCO*", "*CCN*", "*CCS*"])
    with pytest.raises(PolyhpcError, match=message):
        select(predictions, **kwargs)


def test_model_round_trips_and_refuses_missing_foreign_and_old_files(model, tmp_path):
    model.save(tmp_path / "s.npz")
    again = SurrogateModel.load(tmp_path / "s.npz")
    assert again.dataset_sha256 == model.dataset_sha256
    pd.testing.assert_frame_equal(again.predict(["*CCO*"]), model.predict(["*CCO*"]))
    train = r"train one with `polyhpc surrogate train --out .*"
    with pytest.raises(ModelError, match="not found; " + train):
        SurrogateModel.load(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(ModelError, match="corrupt or not a surrogate model; " + train):
        SurrogateModel.load(tmp_path / "bad.npz")
    (tmp_path / "old.pkl").write_bytes(pickle.dumps({"format": "polyhpc-surrogate-1"}))
    with pytest.raises(ModelError, match="is a pickled surrogate model .*" + train):
        SurrogateModel.load(tmp_path / "old.pkl")


def test_precision_at_breaks_ties_at_random_in_expectation():
    y = np.arange(20.0)
    assert precision_at(y, y) == 1.0
    assert precision_at(y, -y) == 0.0
    assert precision_at(y, np.zeros(20)) == pytest.approx(0.1)  # all tied: k / n


def test_ood_splits_train_and_rank_what_their_definitions_say(htpmd):
    frame = htpmd.sample(700, random_state=3).reset_index(drop=True)
    report = ood_benchmark(frame, SurrogateConfig(), splits=("short", "top"))["splits"]
    by_backbone = frame["backbone"].value_counts()
    assert report["short"]["n_test"] == by_backbone[by_backbone.index <= 5].sum()
    assert report["short"]["n_train"] == by_backbone[by_backbone.index > 6].sum()
    top = report["top"]
    n_top = int((frame["y"] >= np.quantile(frame["y"], 0.95)).sum())
    assert top["n_test"] == n_top + (len(frame) - n_top) // 10
    assert top["n_train"] + top["n_test"] == len(frame)
    assert top["model"]["auc_top_vs_holdout"] > top["baseline"]["auc_top_vs_holdout"] + 0.2
