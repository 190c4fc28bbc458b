import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from polyhpc.generate.metrics import TrainingReference, compute_metrics


def _fp(smiles):
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    return generator.GetFingerprint(Chem.MolFromSmiles(smiles))


def test_metrics_on_a_hand_made_list_equal_hand_computed_values(tmp_path, monkeypatch):
    monkeypatch.setenv("POLYHPC_CACHE", str(tmp_path))
    reference = TrainingReference(["*CCO*", "*CCN*"])
    samples = ["*CCO*", "*OCC*", "*CC(C)O*", "*CC(C)O*", "C1CC1", "*CCS*"]
    m = compute_metrics(samples, reference)
    assert m.n_samples == 6 and m.n_valid == 5 and m.n_clean == 2
    assert m.validity == pytest.approx(5 / 6)
    assert m.uniqueness == pytest.approx(5 / 6)  # one exact repeat
    assert m.novelty == pytest.approx(5 / 6)  # *CCO* is in the training set
    assert m.uniqueness_canonical == pytest.approx(4 / 6)  # *OCC* repeats *CCO*
    assert m.novelty_canonical == pytest.approx(4 / 6)  # *OCC* is PEO too
    assert m.synthesizability == 1.0
    clean = ["*CC(C)O*", "*CCS*"]
    training = [_fp("*CCO*"), _fp("*CCN*")]
    similarity = np.mean([np.mean(DataStructs.BulkTanimotoSimilarity(_fp(s), training))
                          for s in clean])
    diversity = 1 - DataStructs.TanimotoSimilarity(_fp(clean[0]), _fp(clean[1]))
    assert m.similarity == pytest.approx(similarity)
    assert m.diversity == pytest.approx(diversity)
    assert m.score == pytest.approx(np.mean([5 / 6, 5 / 6, 5 / 6, 1.0, similarity, diversity]))


def test_synthesizability_counts_sa_scores_below_five():
    reference = TrainingReference(["*CCO*"])
    # a heavily substituted cage scores 7.48 even with hydrogen ends
    hard = "*OC1(C)C2(F)C3(P)C4(S)C1(N)C2(C)C3(C)C4*"
    m = compute_metrics(["*CC(C)O*", hard], reference)
    assert m.n_clean == 2 and m.synthesizability == 0.5
