import numpy as np
import pytest
from rdkit import DataStructs

from polyhpc.chem import morgan_fingerprint, sa_score
from polyhpc.chem.descriptors import fingerprint_array


def test_sa_score_of_peo_matches_rdkit_contrib_on_ethylene_glycol_form():
    assert sa_score("*OCC*") == pytest.approx(1.9803, abs=1e-3)


def test_reference_end_style_reproduces_polygen_gold_copper_scoring():
    assert sa_score("[Au]CCO[Cu]", end_style="reference") == pytest.approx(6.7160, abs=1e-3)


def test_descriptors_do_not_depend_on_how_the_unit_is_written():
    spellings = ["*CC(C)O*", "*OC(C)C*", "*C(C)CO*", "*CC(C)OCC(C)O*"]
    scores = {round(sa_score(s), 9) for s in spellings}
    assert len(scores) == 1
    first = morgan_fingerprint(spellings[0])
    for other in spellings[1:]:
        assert DataStructs.TanimotoSimilarity(first, morgan_fingerprint(other)) == 1.0
    array = fingerprint_array(spellings)
    assert array.shape == (4, 2048) and (array == array[0]).all()
    assert np.count_nonzero(array[0]) == first.GetNumOnBits()


def test_unknown_end_style_is_rejected():
    with pytest.raises(ValueError, match="end_style"):
        sa_score("*OCC*", end_style="gold")


def test_sa_score_of_an_oligomer_equals_rdkit_contrib_on_the_capped_oligomer():
    from rdkit import Chem

    from polyhpc.chem.descriptors import _sascorer

    # polyethylene's canonical unit is *C*: methane scores as hard, propane does not
    assert sa_score("*CC*") == pytest.approx(_sascorer().calculateScore(Chem.MolFromSmiles("C")))
    assert sa_score("*CC*", min_backbone_atoms=3) == pytest.approx(
        _sascorer().calculateScore(Chem.MolFromSmiles("CCC")))
    assert sa_score("*CC*") > 7 and sa_score("*CC*", min_backbone_atoms=3) < 2
    # units with a backbone of three or more atoms are scored as before
    assert sa_score("*OCC*", min_backbone_atoms=3) == sa_score("*OCC*")
