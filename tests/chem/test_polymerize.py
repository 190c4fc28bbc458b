import json

import pytest
from rdkit import Chem

from polyhpc.chem import polymerize
from polyhpc.chem.polymerize import backbone_length
from polyhpc.chem.smiles import parse_repeat_unit


def test_peo_is_the_htpmd_chain_dp_51_with_two_methyl_caps(shared_data):
    chain = polymerize("*OCC*")
    # HTP-MD's own PEO example: DP 51 (its backbone is strictly longer than 150 atoms)
    example = json.loads((shared_data / "lammps" / "htpmd-peo-litfsi-protocol" / "production"
                          / "meta.json").read_text())
    assert chain.degree_of_polymerization == example["degree_of_polymerization"] == 51
    assert chain.backbone_atoms == 153
    # CH3-(O-CH2-CH2)51-CH3 : 104 C, 51 O
    assert chain.formula == "C104H210O51"
    assert chain.mol.GetNumHeavyAtoms() == 155
    assert chain.molar_mass_g_per_mol == pytest.approx(51 * 44.053 + 2 * 15.035, abs=0.05)
    terminal_methyls = Chem.MolFromSmarts("[CH3]")
    assert len(chain.mol.GetSubstructMatches(terminal_methyls)) == 2


def test_side_groups_do_not_count_towards_the_backbone():
    # 3 backbone atoms (C, C, O) and a hexyl side group of 6 carbons
    unit = "*CC(CCCCCC)O*"
    assert backbone_length(parse_repeat_unit(unit)) == 3
    chain = polymerize(unit)
    assert chain.degree_of_polymerization == 51
    assert chain.backbone_atoms == 153
    assert chain.mol.GetNumHeavyAtoms() == 51 * 9 + 2


def test_the_backbone_is_strictly_longer_than_the_bound():
    chain = polymerize("*CCCCCCCO*", backbone_atoms_above=150)  # 8 per unit: 150 // 8 + 1
    assert chain.degree_of_polymerization == 19
    assert chain.backbone_atoms == 152
    # a unit whose backbone divides 150 gets one unit more than 150 / n
    assert polymerize("*CCCCCO*").degree_of_polymerization == 150 // 6 + 1 == 26


def test_aromatic_backbone_counts_the_shortest_path_through_the_ring():
    assert backbone_length(parse_repeat_unit("*Oc1ccc(*)cc1")) == 5
    chain = polymerize("*Oc1ccc(*)cc1")
    assert chain.degree_of_polymerization == 31
    assert Chem.MolFromSmiles(chain.smiles) is not None
