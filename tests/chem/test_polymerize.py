import pytest
from rdkit import Chem

from polyhpc.chem import polymerize
from polyhpc.chem.polymerize import backbone_length
from polyhpc.chem.smiles import parse_repeat_unit


def test_peo_reaches_150_backbone_atoms_at_dp_50_with_two_methyl_caps():
    chain = polymerize("*OCC*")
    assert chain.degree_of_polymerization == 50
    assert chain.backbone_atoms == 150
    # CH3-(O-CH2-CH2)50-CH3 : 102 C, 50 O
    assert chain.formula == "C102H206O50"
    assert chain.mol.GetNumHeavyAtoms() == 152
    assert chain.molar_mass_g_per_mol == pytest.approx(50 * 44.053 + 2 * 15.035, abs=0.05)
    terminal_methyls = Chem.MolFromSmarts("[CH3]")
    assert len(chain.mol.GetSubstructMatches(terminal_methyls)) == 2


def test_side_groups_do_not_count_towards_the_backbone():
    # 3 backbone atoms (C, C, O) and a hexyl side group of 6 carbons
    unit = "*CC(CCCCCC)O*"
    assert backbone_length(parse_repeat_unit(unit)) == 3
    chain = polymerize(unit)
    assert chain.degree_of_polymerization == 50
    assert chain.backbone_atoms == 150
    assert chain.mol.GetNumHeavyAtoms() == 50 * 9 + 2


def test_degree_rounds_up_to_reach_the_minimum():
    chain = polymerize("*CCCCCCCO*", min_backbone_atoms=150)  # 8 per unit
    assert chain.degree_of_polymerization == 19
    assert chain.backbone_atoms == 152


def test_aromatic_backbone_counts_the_shortest_path_through_the_ring():
    assert backbone_length(parse_repeat_unit("*Oc1ccc(*)cc1")) == 5
    chain = polymerize("*Oc1ccc(*)cc1")
    assert chain.degree_of_polymerization == 30
    assert Chem.MolFromSmiles(chain.smiles) is not None
