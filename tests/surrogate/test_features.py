import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator

from polyhpc.chem import parse_repeat_unit
from polyhpc.surrogate.config import UNIT_FEATURES, FeatureSettings
from polyhpc.surrogate.features import featurize
from polyhpc.surrogate.periodic import (
    PHYSICS_NAMES,
    PeriodicUnit,
    periodic_fingerprint,
    physics_descriptors,
)


def _physics(smiles: str) -> dict:
    return dict(zip(PHYSICS_NAMES, physics_descriptors(PeriodicUnit(parse_repeat_unit(smiles))),
                    strict=True))


def test_every_spelling_of_one_polymer_gets_identical_periodic_features():
    spellings = ["*CCO*", "*OCC*", "*COC*", "*CCOCCO*", "*OCCOCCOCC*"]
    rows, keys = featurize(spellings, FeatureSettings(), cache=False)
    assert len(set(keys)) == 1
    assert np.all(rows == rows[0])


def test_periodic_fingerprint_equals_the_middle_unit_of_a_long_chain_written_by_hand():
    # PEO written out as 9 units by string repetition; the middle unit's atoms 12..14
    # see the infinite chain's radius-2 environments. Counts per heavy atom (3 per unit).
    chain = Chem.MolFromSmiles("*" + "CCO" * 9 + "*")
    middle = [a.GetIdx() for a in chain.GetAtoms() if a.GetAtomicNum() > 0][12:15]
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    expected = generator.GetCountFingerprintAsNumPy(chain, fromAtoms=middle) / 3
    got = periodic_fingerprint(PeriodicUnit(parse_repeat_unit("*OCC*")))
    np.testing.assert_array_equal(got, expected)
    # radius 0, 1 and 2 give one environment each per atom of an acyclic chain
    assert got.sum() == pytest.approx(3.0)


def test_physics_descriptors_match_hand_counts():
    peo = _physics("*CCO*")
    assert peo["backbone_O_frac"] == pytest.approx(1 / 3)
    assert peo["eo_spacing_per_backbone"] == pytest.approx(1 / 3)  # every O is 2 C from the next
    assert peo["ether_O_per_heavy"] == pytest.approx(1 / 3)
    assert peo["rotatable_backbone_frac"] == 1.0 and peo["backbone_frac"] == 1.0
    assert peo["mass_per_backbone"] == pytest.approx(44.053 / 3, rel=1e-3)  # C2H4O
    assert peo["tpsa_per_heavy"] == pytest.approx(9.23 / 3, rel=1e-3)  # one ether O
    pom = _physics("*CO*")
    assert pom["eo_spacing_per_backbone"] == 0.0 and pom["backbone_O_frac"] == 0.5
    # poly(propylene carbonate): O-C(=O)-O bonds are conjugated, 3 of 5 backbone bonds rotate
    ppc = _physics("*CC(C)OC(=O)O*")
    assert ppc["backbone_O_frac"] == pytest.approx(2 / 5)
    assert ppc["ester_O_per_heavy"] == pytest.approx(2 / 7)
    assert ppc["carbonyl_O_per_heavy"] == pytest.approx(1 / 7)
    assert ppc["ether_O_per_heavy"] == 0.0
    assert ppc["rotatable_backbone_frac"] == pytest.approx(3 / 5)
    assert ppc["backbone_frac"] == pytest.approx(5 / 7)
    amide = _physics("*CC(=O)NCC*")
    assert amide["NH_per_heavy"] == pytest.approx(1 / 6)
    assert amide["rotatable_backbone_frac"] == pytest.approx(4 / 5)
    biphenyl = _physics("*c1ccc(cc1)-c1ccc(*)cc1")
    assert biphenyl["ring_backbone_frac"] == 1.0 and biphenyl["aromatic_frac"] == 1.0
    assert biphenyl["rotatable_backbone_frac"] == pytest.approx(2 / 8)  # the two ring links


def test_unit_features_reproduce_the_first_surrogates_layout():
    rows, keys = featurize(["*CCO*", "*CC[Si](C)(C)O*"], UNIT_FEATURES, cache=False)
    assert rows.shape == (2, 1024 + 16)
    assert keys[1] is None and np.isnan(rows[1]).all()
    assert rows[0, 1024] == 3  # heavy atoms of the PEO unit


def test_feature_cache_returns_what_was_computed(tmp_path, monkeypatch):
    monkeypatch.setenv("POLYHPC_CACHE", str(tmp_path))
    units = ["*CCO*", "*CC(C)O*", "*CC*", "bad"]
    first, keys = featurize(units, FeatureSettings())
    assert len(list((tmp_path / "surrogate-features").glob("*.npz"))) == 1
    again, keys_again = featurize(["*CC*", "*CCO*", "*CCN*"], FeatureSettings())
    np.testing.assert_array_equal(again[:2], first[[2, 0]])
    assert keys_again[:2] == [keys[2], keys[0]]
    fresh, _ = featurize(["*CCN*"], FeatureSettings(), cache=False)
    np.testing.assert_array_equal(again[2], fresh[0])
