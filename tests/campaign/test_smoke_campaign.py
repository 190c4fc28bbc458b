"""The smoke campaign end to end: real minGPT, RDKit, Parsl and LAMMPS, two iterations."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from polyhpc.campaign.store import Ledger
from polyhpc.chem.canonical import canonical_repeat_unit
from polyhpc.cli import main

pytestmark = [pytest.mark.lammps, pytest.mark.slow]


def test_two_iterations_train_sample_evaluate_and_feed_back(smoke_campaign):
    ledger = Ledger.open(smoke_campaign, readonly=True)
    assert [i["status"] for i in ledger.iterations()] == ["done", "done"]
    # the class threshold is the HTP-MD 95th percentile, fixed at iteration 1 for both
    thresholds = {i["training"]["threshold_mS_per_cm"] for i in ledger.iterations()}
    assert len(thresholds) == 1 and thresholds.pop() == pytest.approx(0.1253, abs=5e-5)
    first, second = (i["training"] for i in ledger.iterations())
    assert first["extra_copies"] == {"*CCO*": 4000}
    fed_back = [f for f in ledger.feedback() if f["iteration"] == 1]
    assert fed_back[0]["role"] == "reference" and fed_back[0]["smiles"] == "*CCO*"
    assert sum(second["extra_copies"].values()) == 4000
    assert len(second["extra_copies"]) == len({f["canonical"] for f in fed_back})
    for it in (1, 2):
        row = ledger.iteration(it)
        assert row["accepted"] == 2 and row["draws"] >= 2
        assert row["draws_per_candidate"] == pytest.approx(row["draws"] / 2)
        checkpoint = ledger.checkpoint(it, "generator")
        digest = hashlib.sha256(Path(checkpoint["path"]).read_bytes()).hexdigest()
        assert checkpoint["sha256"] == digest
    # novelty against every earlier candidate of the campaign, and the training set
    keys = [canonical_repeat_unit(c["smiles"]) for c in ledger.candidates(role="candidate")]
    assert len(keys) == len(set(keys)) == 4
    known = (smoke_campaign / "iter02" / "sample" / "known.txt").read_text().split()
    assert {c["smiles"] for c in ledger.candidates(1)} <= set(known)


def test_peo_is_evaluated_once_with_the_same_protocol_and_replicas(smoke_campaign):
    ledger = Ledger.open(smoke_campaign, readonly=True)
    [reference] = ledger.candidates(role="reference")
    assert reference["smiles"] == "*CCO*"
    tasks = ledger.tasks("md", candidate_id=reference["id"])
    assert sorted(t["replica"] for t in tasks) == [0, 1] and {t["iteration"] for t in tasks} == {1}
    candidate_tasks = [t for t in ledger.tasks("md") if t["candidate_id"] != reference["id"]]
    assert {t["seed"] for t in candidate_tasks}.isdisjoint({t["seed"] for t in tasks})
    for t in ledger.tasks():
        assert t["status"] in ("done", "failed") and t["submissions"] == 1
        assert t["host"] and t["ended_at"] >= t["started_at"]


def test_recorded_results_equal_an_independent_analysis_and_their_aggregate(smoke_campaign):
    from tests import naive

    ledger = Ledger.open(smoke_campaign, readonly=True)
    reference = ledger.candidates(role="reference")[0]
    results = ledger.results(reference["id"], "md")
    assert [r["replica"] for r in results] == [0, 1]
    for r in results:
        workdir = Path(ledger.task(r["task_id"])["workdir"])
        meta = json.loads((workdir / "meta.json").read_text())
        # the strict pure-Python twin of the reader and the reference's own conventions
        twin = naive.conductivity_S_per_cm(workdir / "traj.lammpstrj", meta)
        assert r["properties"]["conductivity"] == pytest.approx(twin, rel=1e-9, abs=1e-15)
        assert r["properties"]["units"]["conductivity"] == "S/cm"
    agg = ledger.aggregate(reference["id"], "md")
    values = np.array([r["objective"] for r in results])
    assert agg["n_finished"] == 2 and agg["objective_mean"] == pytest.approx(values.mean())
    assert agg["objective_std"] == pytest.approx(values.std(ddof=1))


def test_status_reads_the_ledger(smoke_campaign):
    result = CliRunner().invoke(main, ["campaign", "status", str(smoke_campaign), "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["driver"] == "finished" and status["iteration"] == 2
    ledger = Ledger.open(smoke_campaign, readonly=True)
    assert status["replicas"]["done"] == len(ledger.tasks("md", status="done"))
    text = CliRunner().invoke(main, ["campaign", "status", str(smoke_campaign)]).output
    assert "iteration 1 (done): 2 sampled" in text


def test_report_writes_the_papers_figures_and_a_self_contained_page(smoke_campaign, tmp_path):
    result = CliRunner().invoke(main, ["campaign", "report", str(smoke_campaign), "--out",
                                       str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["training_mean_mS_per_cm"] == pytest.approx(0.06211, abs=1e-5)
    for name in ("distribution", "replicas"):
        assert Path(report["figures"][name]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in page and 'src="http' not in page
    assert "Polymers above the reference" in (tmp_path / "report.md").read_text()
    ledger = Ledger.open(smoke_campaign, readonly=True)
    assert sum(r["winners"] for r in report["iterations"]) == len(
        [f for f in ledger.feedback() if f["role"] == "winner"])
