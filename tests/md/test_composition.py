"""Chain length, chain count, ion pairs and molality against the HTP-MD data set."""

import json

import pandas as pd
import pytest
from rdkit import Chem, RDLogger
from rdkit.Chem import Descriptors

from polyhpc.errors import InvalidSmilesError
from polyhpc.md.composition import degree_of_polymerization, fewest_chains, plan_composition
from polyhpc.md.settings import BuildSettings

PROPERTIES = "htpmd/htpmd-properties.csv"


def _htpmd_system(row) -> tuple[int, int, float] | None:
    """HTP-MD's DP, chain count and molality of one row, read off its own columns.

    DP: heavy atoms of the built chain (``poly_smiles``, two methyl caps) over the
    unit's; chains: 50 pairs / (molality x chain mass); molality: ``molarity``.
    """
    unit = Chem.MolFromSmiles(row.mol_smiles)
    chain = Chem.MolFromSmiles(row.poly_smiles)
    if unit is None or chain is None:
        return None
    body = sum(a.GetAtomicNum() not in (29, 79) for a in unit.GetAtoms())
    degree = (chain.GetNumHeavyAtoms() - 2) / body
    chains = round(50 / (row.molarity * Descriptors.MolWt(chain) / 1000.0))
    return degree, chains, row.molarity


@pytest.fixture(scope="module")
def sample(shared_data):
    frame = pd.read_csv(shared_data / PROPERTIES)
    assert set(frame["s3_prefix"].str.extract(r"(poly_9_nion_50_conc_1\.5)")[0]) == {
        "poly_9_nion_50_conc_1.5"}
    return frame.sample(200, random_state=0)


def test_dp_chains_pairs_and_molality_equal_htpmd_for_200_random_units(sample):
    RDLogger.DisableLog("rdApp.*")
    compared = matches = 0
    for row in sample.itertuples():
        unit = row.mol_smiles.replace("[Cu]", "*").replace("[Au]", "*")
        try:
            plan = plan_composition(unit)
        except InvalidSmilesError:  # Cl, Si, ... outside polyhpc's chemistry
            continue
        theirs = _htpmd_system(row)
        compared += 1
        degree, chains, molality = theirs
        ours = (plan.degree_of_polymerization, plan.chains, plan.ion_pairs)
        if ours == (degree, chains, 50) and abs(plan.molality_mol_per_kg - molality) <= 1e-3:
            matches += 1
        else:
            pytest.fail(f"{row.mol_smiles}: polyhpc {ours}, {plan.molality_mol_per_kg:.4f} "
                        f"mol/kg; HTP-MD {degree}, {chains}, 50, {molality:.4f}")
    assert compared >= 195 and matches == compared


def test_peo_is_dp_51_in_15_chains_with_50_pairs_as_the_htpmd_peo_files():
    plan = plan_composition("*CCO*")
    # the shared PEO example: 15 chains of DP 51, 5,475 polymer atoms (DP 50 would be 150 atoms)
    assert plan.degree_of_polymerization == 51 and plan.backbone_atoms == 153
    assert plan.chains == 15 and plan.ion_pairs == 50
    # 50 / (15 x 2,276.8 g/mol) = 1.464 mol/kg (the htp_md PEO test data: 50 pairs, 1.46)
    assert plan.molality_mol_per_kg == pytest.approx(50 / (15 * 2.2767730), abs=1e-4)


def test_the_shared_htpmd_trajectory_has_the_planned_atom_count(reference_trajectory):
    meta = json.loads((reference_trajectory / "meta.json").read_text())
    unit = meta["mol_smiles"].replace("[Cu]", "*").replace("[Au]", "*")
    plan = plan_composition(unit)
    chain = Chem.AddHs(Chem.MolFromSmiles(meta["poly_smiles"]))
    header = (reference_trajectory / "traj.lammpstrj").read_text().split("\n", 4)[3]
    # 6,440 atoms = chains x atoms per chain + 50 Li + 50 TFSI (15 atoms each)
    assert plan.chains * chain.GetNumAtoms() + 50 * 16 == int(header) == 6440
    body = Chem.MolFromSmiles(meta["mol_smiles"]).GetNumHeavyAtoms() - 2  # [Cu], [Au]
    chain_heavy = Chem.MolFromSmiles(meta["poly_smiles"]).GetNumHeavyAtoms()
    assert plan.degree_of_polymerization == (chain_heavy - 2) / body == 14


@pytest.mark.parametrize("per_unit, expected", [(3, 51), (4, 38), (5, 31), (6, 26), (150, 2),
                                                (151, 1), (1, 151)])
def test_chain_backbone_is_strictly_longer_than_150_atoms(per_unit, expected):
    degree = degree_of_polymerization(per_unit, 150)
    assert degree == expected
    assert degree * per_unit > 150 >= (degree - 1) * per_unit


def test_fewest_chains_keep_the_molality_at_or_below_the_bound():
    # 2,000 g/mol chains, 50 pairs: 16 chains give 1.5625, 17 give 1.4706 mol/kg
    assert fewest_chains(50, 2000.0, 1.5) == 17
    assert fewest_chains(50, 2000.0, 1.5625) == 16
    # exactly at the bound is allowed: 50 / (20 x 2.5 kg) = 1.0 mol/kg
    assert fewest_chains(50, 2500.0, 1.0) == 20


def test_explicit_chains_and_pairs_override_the_rule():
    plan = plan_composition("*CCO*", BuildSettings(backbone_atoms_above=24, chains=4,
                                                   ion_pairs=2))
    assert (plan.degree_of_polymerization, plan.chains, plan.ion_pairs) == (9, 4, 2)


@pytest.mark.parametrize("mol_smiles", ["CC(C)N(CCCCCO[Cu])CCNC(=O)[Au]",
                                        "O=C(CCCCOC(=O)[Au])NCC#CCO[Cu]",
                                        "CC(=O)NC(CO[Cu])COC(=O)[Au]"])
def test_the_molality_bound_is_the_one_the_htpmd_data_shows(shared_data, mol_smiles):
    """Units whose chain count at a bound of exactly 1.5 mol/kg would be one short.

    HTP-MD built one more chain (molality 1.33-1.39) than a bound of 1.5 allows
    (1.4996-1.49995): its largest molality is 1.4994, so the bound is 1.4995.
    """
    frame = pd.read_csv(shared_data / PROPERTIES)
    row = next(frame[frame["mol_smiles"] == mol_smiles].itertuples())
    degree, chains, molality = _htpmd_system(row)
    unit = mol_smiles.replace("[Cu]", "*").replace("[Au]", "*")
    ours = plan_composition(unit)
    assert (ours.degree_of_polymerization, ours.chains) == (degree, chains)
    assert ours.molality_mol_per_kg == pytest.approx(molality, abs=1e-3)
    at_1_5 = plan_composition(unit, BuildSettings(max_molality_mol_per_kg=1.5))
    assert at_1_5.chains == chains - 1 and 1.4995 < at_1_5.molality_mol_per_kg <= 1.5
    assert frame["molarity"].max() == pytest.approx(1.49935, abs=1e-5)


def test_a_chain_larger_than_polyhpc_builds_is_refused_at_once_with_the_limit():
    import pytest

    from polyhpc.errors import PolyhpcError
    from polyhpc.md.composition import MAX_CHAIN_HEAVY_ATOMS, plan_composition

    # a comb: a 2-atom backbone under 14-atom side groups gets DP 76, 1,218 heavy atoms
    with pytest.raises(PolyhpcError, match=r"a chain of 76 units holds 1218 heavy atoms; "
                                           r"polyhpc builds chains of at most 1000"):
        plan_composition("*CC(*)COCCOCCOCCOCCC")
    # HTP-MD's largest chain (498 heavy atoms) fits twice; PEO, 15 chains of DP 51
    assert MAX_CHAIN_HEAVY_ATOMS >= 2 * 498
    assert plan_composition("*CCO*").degree_of_polymerization == 51
