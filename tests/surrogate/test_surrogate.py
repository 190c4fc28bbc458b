import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from rdkit import DataStructs

from polyhpc.chem import morgan_fingerprint
from polyhpc.cli import main
from polyhpc.data import load_htpmd_properties
from polyhpc.errors import ModelError
from polyhpc.surrogate.acquisition import select
from polyhpc.surrogate.evaluate import score
from polyhpc.surrogate.model import SurrogateConfig, SurrogateModel, train_surrogate

FAST = SurrogateConfig(members=3, max_iter=120)


@pytest.fixture(scope="module")
def split():
    frame = load_htpmd_properties()
    order = np.random.default_rng(42).permutation(len(frame))
    return frame.iloc[order[:4800]].reset_index(drop=True), \
        frame.iloc[order[4800:]].reset_index(drop=True)


@pytest.fixture(scope="module")
def model(split):
    return train_surrogate(split[0], FAST)


def test_model_beats_the_mean_baseline_clearly_on_a_fixed_split(model, split):
    train, test = split
    y = np.log10(test["conductivity_S_per_cm"].to_numpy())
    predicted = model.predict(test["smiles"].tolist())["surrogate_log10_conductivity"].to_numpy()
    ok = np.isfinite(predicted)
    ours = score(y[ok], predicted[ok])
    baseline = score(y[ok], np.full(ok.sum(), np.log10(train["conductivity_S_per_cm"]).mean()))
    assert ours.r2 > 0.45
    assert ours.spearman > 0.65
    assert ours.mae < 0.75 * baseline.mae


def test_translated_mirrored_and_repeated_units_get_identical_predictions(model):
    spellings = ["*CC(C)OC(=O)O*", "*OC(=O)OC(C)C*", "*OC(C)COC(=O)*", "*C(=O)OCC(C)O*",
                 "*CC(C)OC(=O)OCC(C)OC(=O)O*"]
    table = model.predict(spellings)
    assert table["canonical"].nunique() == 1
    assert table["surrogate_log10_conductivity"].nunique() == 1
    assert table["surrogate_log10_conductivity_std"].nunique() == 1


def test_predictions_are_labelled_surrogate_and_invalid_units_are_nan(model):
    table = model.predict(["*CCO*", "not a polymer"])
    value_columns = [c for c in table.columns if c not in ("smiles", "canonical",
                                                           "in_training_set")]
    assert all(c.startswith("surrogate_") for c in value_columns)
    assert np.isnan(table["surrogate_log10_conductivity"].iloc[1])
    assert table["surrogate_log10_conductivity_std"].iloc[0] >= 0


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


def test_model_round_trips_through_a_file_and_rejects_foreign_files(model, tmp_path):
    model.save(tmp_path / "s.pkl")
    again = SurrogateModel.load(tmp_path / "s.pkl")
    assert again.dataset_sha256 == model.dataset_sha256
    pd.testing.assert_frame_equal(again.predict(["*CCO*"]), model.predict(["*CCO*"]))
    (tmp_path / "bad.pkl").write_bytes(b"junk")
    with pytest.raises(ModelError, match="corrupt or not a surrogate model"):
        SurrogateModel.load(tmp_path / "bad.pkl")


def test_md_results_can_be_added_to_the_training_data(split, tmp_path):
    train, _ = split
    extra = pd.DataFrame({"smiles": ["*CCOCCO*"], "conductivity_S_per_cm": [9e-4]})
    grown = train_surrogate(pd.concat([train.iloc[:300], extra], ignore_index=True),
                            SurrogateConfig(members=1, max_iter=20))
    from polyhpc.chem import check_repeat_unit

    valid = sum(check_repeat_unit(u).valid for u in train["smiles"].iloc[:300])
    assert grown.n_training == valid + 1
    assert "*CCO*" in grown.training_keys


def test_cli_predict_prints_json_for_each_unit(model, tmp_path):
    model.save(tmp_path / "s.pkl")
    result = CliRunner().invoke(main, ["surrogate", "predict", str(tmp_path / "s.pkl"),
                                       "*CCO*", "*OCC*", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows[0]["surrogate_log10_conductivity"] == rows[1]["surrogate_log10_conductivity"]
