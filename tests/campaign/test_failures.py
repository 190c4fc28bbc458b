"""Failures never stop a campaign: retried with new seeds in real LAMMPS, or recorded with why."""

import pytest

from polyhpc.campaign.config import load_campaign_config
from polyhpc.campaign.loop import Campaign
from polyhpc.campaign.md_evaluator import MdEvaluator
from polyhpc.config import to_dict

pytestmark = [pytest.mark.lammps]

# The smoke protocol at 10^6 K and 5 fs steps: LAMMPS itself stops ("Bond atoms missing").
BLOWUP = """name: blowup
eqfactor: 0.0002
production_ps: 2.0
dump_every_steps: 100
thermo_every_steps: 100
replicas: 1
initial_timestep_fs: 5.0
timestep_fs: 5.0
temperature_K: 1000000.0
anneal_temperature_K: 1000000.0
minimize_max_iterations: 50
build: {backbone_atoms_above: 24, chains: 4, ion_pairs: 2}
"""
SULFONE = "*CCS(=O)(=O)CC*"  # public PCFF has no c2-sf bond increment


def test_failed_replicas_are_retried_with_new_seeds_and_untypeable_units_recorded(tmp_path):
    (tmp_path / "blowup.yaml").write_text(BLOWUP)
    smoke = to_dict(load_campaign_config("smoke"))
    config = load_campaign_config({**smoke, "md": {**smoke["md"], "profile": str(
        tmp_path / "blowup.yaml"), "replicas": 1, "retries": 1}})
    campaign = Campaign(config, tmp_path / "c")
    ledger = campaign.ledger
    ledger.set_iteration(1)
    ledger.record_sampling(1, [{"smiles": "*OCCOC*", "canonical": "*CCOCO*"},
                               {"smiles": SULFONE, "canonical": SULFONE}], draws=2, accepted=2)
    with campaign.session() as context:
        MdEvaluator(context).run(1, ledger.candidates(1))  # returns: the campaign goes on
    blown, sulfone = ledger.candidates(1)
    # the untypeable unit: recorded with the reason, never queued, never retried
    assert sulfone["status"] == "unbuildable"
    assert "missing PCFF parameters" in sulfone["reason"] and "c2-sf" in sulfone["reason"]
    assert ledger.tasks(candidate_id=sulfone["id"]) == []
    # the unit whose LAMMPS run fails: attempt 0, then attempt 1 with a new seed, then failed
    attempts = ledger.tasks("md", candidate_id=blown["id"])
    assert [t["attempt"] for t in attempts] == [0, 1]
    assert all(t["status"] == "failed" for t in attempts)
    assert attempts[0]["seed"] != attempts[1]["seed"]
    assert attempts[1]["workdir"].endswith("rep0-retry1")
    for t in attempts:
        assert t["error_class"].startswith("md:eq") and "ERROR" in t["error_message"]
    assert [e["kind"] for e in ledger.events() if e["task_id"]] == ["retry", "replica failed"]
    aggregate = ledger.aggregate(blown["id"], "md")
    assert aggregate["status"] == "failed" and aggregate["n_finished"] == 0
    assert blown["status"] == "failed" and blown["reason"].startswith("0 of 1 replicas finished")
    assert ledger.tasks("analyze") == []


def test_the_md_budget_stops_new_replicas_and_leaves_the_iteration_open(tmp_path):
    smoke = to_dict(load_campaign_config("smoke"))
    config = load_campaign_config({**smoke, "md": {**smoke["md"], "replicas": 1},
                                   "budget": {"max_md_replicas": 1}})
    campaign = Campaign(config, tmp_path / "c")
    ledger = campaign.ledger
    ledger.set_iteration(1)
    ledger.record_sampling(1, [{"smiles": "*OCCOC*", "canonical": "*CCOCO*"},
                               {"smiles": "*CCCO*", "canonical": "*CCCO*"}], draws=2, accepted=2)
    with campaign.session() as context:
        MdEvaluator(context).run(1, ledger.candidates(1))
    assert campaign.out_of_budget
    assert len(ledger.tasks("build")) == 1 and len(ledger.tasks("md", status="done")) == 1
    first, second = ledger.candidates(1)
    assert ledger.aggregate(first["id"], "md")["n_finished"] == 1
    assert ledger.aggregate(second["id"]) is None  # never evaluated: no aggregate, no failure
    assert "MD budget of 1 replica runs spent" in ledger.events("budget")[0]["message"]
