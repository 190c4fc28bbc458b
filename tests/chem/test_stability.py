import json

import pytest
from click.testing import CliRunner
from rdkit import Chem

from polyhpc.chem import check_repeat_unit
from polyhpc.chem.stability import RULES, StabilityScreen, check_stability, rule_names
from polyhpc.cli import main
from polyhpc.errors import ConfigError, InvalidSmilesError

# One unit that breaks the rule (and nothing else) and a near miss that breaks nothing.
CASES = {
    "peroxide": ("*CCOO*", "*CCO*"),
    "n_o_single": ("*CCONCC*", "*CCNCCO*"),
    "s_o_single": ("*CCSOCC*", "*CCS(=O)(=O)OCC*"),  # sulfonate ester: S(VI) is exempt
    "s_n_single": ("*CCSNCC*", "*CCS(=O)(=O)NCC*"),  # sulfonamide, as in TFSI
    "n_n_chain": ("*CCNNCC*", "*C1CNNC1*"),  # N-N in a ring is not in the chain
    "azo_alkyl": ("*CN=NC*", "*CC=CC*"),
    "azo_aryl": ("*c1ccc(cc1)N=Nc1ccc(*)cc1", "*c1ccc(cc1)C=Nc1ccc(*)cc1"),  # imine: C=N
    "orthoester": ("*CCOC(C)(OC)O*", "*CCOC(=O)O*"),  # carbonate: three O on an sp2 C
    "hemiacetal": ("*CCC(O)O*", "*CCC(O)C*"),
    "anhydride": ("*CC(=O)OC(=O)C*", "*CC(=O)OCC*"),
    "acyl_fluoride": ("*CC(*)C(=O)F", "*CC(*)C(F)(F)F"),
    "heteroatom_fluoride": ("*CCN(F)CC*", "*CCN(CCF)CC*"),
    "disulfide": ("*CCSSCC*", "*CCSCCSCC*"),
    "strained_heterocycle": ("*CC1(*)CO1", "*CC1(*)CC1"),
    "enol": ("*CC(O)=CC*", "*CC(=O)CC*"),
    "aldehyde": ("*CC(*)C=O", "*CC(*)C(C)=O"),
    "acid": ("*CC(*)C(=O)O", "*CC(*)C(=O)OC"),
    "thiol": ("*CC(*)CS", "*CC(*)CSC"),  # thioether
    "nitroso": ("*CC(*)(C)N=O", "*CC(*)(C)NC(C)=O"),  # amide
    "isocyanate": ("*CC(*)CN=C=O", "*CC(*)CNC(=O)OC"),  # carbamate, its adduct with an alcohol
    # SA 7.40 (RDKit Contrib sascorer on the hydrogen-capped unit) against PEO's 1.98; a
    # methylthio group, as the free thiol (SA 7.48) of this cage also breaks thiol
    "sa_score": ("*OC1(C)C2(F)C3(P)C4(SC)C1(N)C2(C)C3(C)C4*", "*CCO*"),
}

# More units that break exactly one rule, and more near misses that break none.
MORE_POSITIVES = {
    "n_o_single": ["*CC(*)C=NO", "*CC(*)C(=O)NO", "*CC(*)CON=O"],  # oxime, hydroxamic acid, nitrite
    "azo_aryl": ["*CC(*)N=Nc1ccccc1"],  # aryl alkyl diazene: the aryl side decides
    "thiol": ["*CC(*)c1ccc(S)cc1"],
    "isocyanate": ["*CC(*)CN=C=S"],
}
MORE_NEAR_MISSES = {
    "aldehyde": ["*CCN(C=O)CC*", "*CC(*)COC=O"],  # formamide, formate: CHO on N and O
    # acetals are not orthoesters: poly(1,3-dioxolane) (the paper's 1-2) and a ketal
    "orthoester": ["*OCCOC*", "*OC(C)(C)OCC*"],
}


def _rule(name):
    return next(rule for rule in RULES if rule.name == name)


def _matches(name, smiles):
    """Whether rule ``name``'s SMARTS matches a plain molecule."""
    return Chem.MolFromSmiles(smiles).HasSubstructMatch(Chem.MolFromSmarts(_rule(name).smarts))


# Khajeh et al. 2025, Fig. 4: the 14 polymers that beat PEO, as the authors' data file
# spells them (TRI-AMDD/PolyGen iterative-polymer-discovery-framework/
# generated_polymers_in_two_iterations.csv; the figure's text layer garbles five of them).
WINNERS = {
    "1-1": "*ONCCOC*", "1-2": "*OCCOC*", "1-3": "*OCCOCCN*", "1-4": "*OCCOCCOC*",
    "1-5": "*COCC*", "1-6": "*OCCCOCCN*", "1-7": "*SCCOCCN*", "2-1": "*OCCCOC*",
    "2-2": "*OCCCON*", "2-3": "*SCCOC*", "2-4": "*OOCCOCCN*", "2-5": "*OCCCOCC*",
    "2-6": "*CCOCOCCN*", "2-7": "*OCCOCCSC*",
}


def test_every_rule_has_a_case_a_reason_and_a_citation():
    assert set(CASES) == set(rule_names())
    for rule in RULES:
        assert rule.reason and rule.citation


@pytest.mark.parametrize("name", list(CASES))
def test_rule_flags_its_positive_unit_and_passes_its_near_miss(name):
    positive, negative = CASES[name]
    assert check_stability(positive).broken == (name,)
    assert check_stability(positive, rules=[name]).broken == (name,)
    assert check_stability(negative).broken == ()


@pytest.mark.parametrize("name, unit", [(n, u) for n, units in MORE_POSITIVES.items()
                                        for u in units])
def test_more_units_break_exactly_their_rule(name, unit):
    assert check_stability(unit).broken == (name,)


@pytest.mark.parametrize("name, unit", [(n, u) for n, units in MORE_NEAR_MISSES.items()
                                        for u in units])
def test_more_near_misses_break_no_rule(name, unit):
    assert check_stability(unit).broken == ()


def test_formaldehyde_is_an_aldehyde_and_formamides_and_formates_are_not():
    assert _matches("aldehyde", "C=O") and _matches("aldehyde", "O=Cc1ccccc1")
    assert not _matches("aldehyde", "CN(C)C=O") and not _matches("aldehyde", "COC=O")


@pytest.mark.parametrize("smiles", ["C[N+](=O)[O-]", "C[N+](C)(C)[O-]", "[O-][n+]1ccccc1",
                                    "CO[N+](=O)[O-]"])
def test_nitro_n_oxide_and_nitrate_n_o_bonds_are_not_hydroxylamines(smiles):
    # nitromethane, trimethylamine N-oxide, pyridine N-oxide, methyl nitrate
    assert not _matches("n_o_single", smiles)
    assert StabilityScreen().match(Chem.MolFromSmiles(smiles)) == ()


@pytest.mark.parametrize("unit", ["*CC(*)N(=O)=O", "*CC(*)CN=N#N", "*CC(*)C=N#N",
                                  "*CC(*)CN=[N+]=[N-]", "*CC(*)ON(=O)=O"])
def test_nitro_azide_diazo_and_nitrate_units_never_reach_the_screen(unit):
    # written neutral or charged, RDKit gives them charged atoms, which validation refuses
    check = check_repeat_unit(unit)
    assert not check.valid and "charged atom N+1" in check.reason


def test_azo_reasons_say_which_azo_they_match():
    assert "non-aromatic" in _rule("azo_alkyl").reason
    assert "aromatic ring" in _rule("azo_aryl").reason
    assert _matches("azo_alkyl", "CC(C)(C#N)N=NC(C)(C)C#N")  # AIBN
    assert not _matches("azo_alkyl", "c1ccccc1N=Nc1ccccc1")
    assert _matches("azo_aryl", "c1ccccc1N=Nc1ccccc1")  # azobenzene
    assert not _matches("azo_aryl", "c1ccnnc1")  # pyridazine: an aromatic N=N is no azo group


def test_bonds_across_the_junction_between_units_count():
    # *OCCOCCN* writes no N-O bond, but its chain is ...CCN-OCC...
    assert check_stability("*OCCOCCN*").broken == ("n_o_single",)
    assert check_stability("*CCOCCN*").broken == ()  # ...CCN-CCO...
    assert check_stability("*NCCOCCN*").broken == ("n_n_chain",)  # ...CCN-NCC...
    # a one-atom unit: *O* is poly(peroxide)
    assert "peroxide" in check_stability("*O*").broken


def test_screen_flags_the_unstable_winners_the_paper_names():
    flagged = {key: check_stability(unit).broken for key, unit in WINNERS.items()}
    unstable = {key for key, broken in flagged.items() if broken}
    # the paper (section 4.2) names 1-1, 1-3, 1-6, 1-7, 2-2, 2-4 and 2-6; 2-6 as spelled in
    # the authors' data (*CCOCOCCN*) has no N-O, S-O, S-N or O-O bond, so it passes
    assert unstable == {"1-1", "1-3", "1-6", "1-7", "2-2", "2-4"}
    assert flagged["1-7"] == ("s_n_single",)  # ...CCN-SCC... across the junction
    assert flagged["2-4"] == ("peroxide", "n_o_single")  # the paper's O-O-NH
    assert all(check_stability(unit).sa_score < 5 for unit in WINNERS.values())


def test_sa_threshold_is_configurable_and_reported():
    check = check_stability("*CCOO*", rules=["sa_score"], sa_threshold=2.5)
    assert check.broken == ("sa_score",) and check.sa_score == pytest.approx(2.74, abs=0.01)
    assert check_stability("*CCOO*", rules=["sa_score"]).broken == ()
    # polyethylene: its canonical unit *C* scores 7.33 as methane, 1.75 as propane
    assert check_stability("*CC*").broken == ()
    assert check_stability("*CC*").sa_score == pytest.approx(1.75, abs=0.01)


def test_unknown_rules_and_invalid_units_give_clear_errors():
    with pytest.raises(ConfigError, match="unknown stability rule.*peroxyde.*known: peroxide"):
        StabilityScreen(["peroxyde"])
    with pytest.raises(InvalidSmilesError, match="expected exactly 2 end markers"):
        check_stability("CCO")


def test_cli_check_stability_names_broken_rules_and_exits_1():
    result = CliRunner().invoke(main, ["smiles", "check", "--stability", "--json",
                                       "*OCCOCCN*", "*CCO*"])
    assert result.exit_code == 1
    rows = json.loads(result.output)["rows"]
    assert rows[0]["broken"] == ["n_o_single"] and rows[0]["stable"] is False
    assert rows[1]["broken"] == [] and rows[1]["sa_score"] == pytest.approx(1.98, abs=0.01)
    text = CliRunner().invoke(main, ["smiles", "check", "--stability", "*CCSSCC*"]).output
    assert text.startswith("UNSTABLE") and "breaks disulfide" in text
    ok = CliRunner().invoke(main, ["smiles", "check", "--stability", "*CCO*"])
    assert ok.exit_code == 0 and ok.output.startswith("ok")


def test_cli_rules_lists_every_rule_with_its_smarts():
    rows = json.loads(CliRunner().invoke(main, ["smiles", "rules", "--json"]).output)["rows"]
    assert [r["name"] for r in rows] == list(rule_names())
    assert rows[0]["smarts"] == "[#8]-[#8]"
    # the SA cut of 5 is PolyGen's (minGPT/pipeline.py), not a number of the paper's text
    assert "minGPT/pipeline.py" in rows[-1]["citation"] and "3.2" not in rows[-1]["citation"]


def test_the_papers_four_unstable_bonds_keep_their_rule_names():
    # polyhpc.campaign.report maps these names to the paper's N-O, O-O, S-O and S-N bonds
    assert {"peroxide", "n_o_single", "s_o_single", "s_n_single"} <= set(rule_names())
