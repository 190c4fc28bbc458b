"""Adaptive MD in a real-LAMMPS smoke campaign: decisions in the ledger, early stops, resume.

The smoke MD is a pipeline check (its conductivities are not results), which is what
these tests need: the decisions follow the numbers LAMMPS gives, whatever they mean. A
tight prior on the replica spread makes nearly every difference from the reference
decisive, so candidates stop after their first round; productions of 10 ps with a
checkpoint every 2 ps give the driver time to stop a running replica.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from polyhpc.campaign.store import Ledger

pytestmark = [pytest.mark.lammps, pytest.mark.slow]
POLYHPC = str(Path(sys.executable).parent / "polyhpc")

PROFILE = """name: smoke-long
eqfactor: 0.0002
production_ps: 10.0
dump_every_steps: 100
restart_every_steps: 500
thermo_every_steps: 100
replicas: 2
minimize_max_iterations: 50
deviations:
  - "durations scaled by 2e-4 and a 10 ps production: a pipeline check, not a result"
build: {backbone_atoms_above: 24, chains: 4, ion_pairs: 2}
"""


def _config(folder: Path) -> Path:
    from polyhpc.resources import resolve_yaml

    (folder / "md-smoke-long.yaml").write_text(PROFILE)
    data = yaml.safe_load(resolve_yaml("smoke", "campaign").read_text())
    data.update(name="smoke-adaptive",
                site={"kind": "local", "max_workers": 2, "heartbeat_period_s": 1,
                      "heartbeat_threshold_s": 4})
    data["md"] = {"profile": str(folder / "md-smoke-long.yaml"), "replicas": 2,
                  "min_replicas": 1, "retries": 1, "threads": 1,
                  "adaptive": {"first_round": 1, "error_rate": 0.45, "check_every_ps": 2.0,
                               "min_production_ps": 2.0, "prior_cv": 0.01,
                               "prior_dof": 1000}}
    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _decisions(folder: Path) -> list[tuple]:
    ledger = Ledger.open(folder, readonly=True)
    names = {c["id"]: (c["iteration"], c["canonical"]) for c in ledger.candidates()}
    rows = sorted((*names[d["candidate_id"]], d["round"], d["production_ps"], d["n_replicas"],
                   d["outcome"], round(d["statistic"], 9)) for d in ledger.decisions())
    ledger.close()
    return rows


@pytest.fixture(scope="module")
def adaptive_campaign(tmp_path_factory):
    """The adaptive smoke campaign, run once, uninterrupted."""
    folder = tmp_path_factory.mktemp("adaptive")
    config = _config(folder)
    done = subprocess.run([POLYHPC, "campaign", "run", str(config), "--dir",
                           str(folder / "c")], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr
    return config, folder / "c"


def test_racing_stops_candidates_after_their_first_round_and_a_production_early(
        adaptive_campaign):
    _, folder = adaptive_campaign
    ledger = Ledger.open(folder, readonly=True)
    decisions = ledger.decisions()
    stops = [d for d in decisions if d["outcome"] == "below"]
    # a candidate decided below the reference in its first round, with its why (a round is
    # looked at each checkpoint its replicas reached, then at its end)
    first = [d for d in stops if d["round"] == 1]
    assert first, decisions
    for d in first:
        candidate = ledger.candidate(d["candidate_id"])
        assert candidate["status"] == "stopped early"
        assert candidate["reason"].startswith(f"{candidate['smiles']}: stopped: below the "
                                              "reference at 1 replicas")
        assert d["statistic"] < -d["threshold"] and d["md_ns_saved"] > 0
        # no replica beyond its first round was ever started
        assert {t["replica"] for t in ledger.tasks("md", candidate_id=candidate["id"])} == {0}
        assert ledger.aggregate(candidate["id"], "md")["status"] == "stopped"
    # a replica whose production was stopped at a checkpoint: "stopped early", not failed
    early = [t for t in ledger.tasks("md") if (t["info"] or {}).get("stopped_early")]
    assert early, [t["info"] for t in ledger.tasks("md")]
    for task in early:
        assert task["status"] == "done" and task["info"]["production_ps"] < 10.0
        assert (Path(task["workdir"]) / "STOP").is_file()
        assert not ledger.tasks("analyze", candidate_id=task["candidate_id"]) or all(
            t["replica"] != task["replica"] for t in ledger.tasks(
                "analyze", candidate_id=task["candidate_id"]))
        partial = [d for d in decisions if d["candidate_id"] == task["candidate_id"]
                   and d["outcome"] == "below" and d["production_ps"] < 10.0]
        assert partial and partial[0]["production_ps"] <= task["info"]["production_ps"]
    # the reference got every replica; status says how much MD the racing used
    reference = ledger.candidates(role="reference")[0]
    assert len(ledger.results(reference["id"], "md")) == 2
    ledger.close()
    status = subprocess.run([POLYHPC, "campaign", "status", str(folder)], capture_output=True,
                            text=True, timeout=120)
    assert "stopped early (below the reference)" in status.stdout
    assert "MD used" in status.stdout and "adaptive MD" in status.stdout


def test_a_killed_adaptive_campaign_resumes_mid_round_to_the_same_decisions(
        adaptive_campaign, tmp_path):
    config, uninterrupted = adaptive_campaign
    folder = tmp_path / "killed"
    driver = subprocess.Popen([POLYHPC, "campaign", "run", str(config), "--dir", str(folder)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    deadline = time.time() + 1200
    caught = False
    while time.time() < deadline and driver.poll() is None and not caught:
        time.sleep(0.5)
        try:
            ledger = Ledger.open(folder, readonly=True)
            decided = ledger.decisions()
            running = [t for t in ledger.tasks("md") if t["status"] in ("submitted", "running")]
            ledger.close()
        except Exception:  # noqa: BLE001 - the ledger may not have its tables yet
            continue
        if decided and running:  # in the middle of a round: some looks made, MD running
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
            caught = True
    assert caught, "the driver was never caught between decisions with MD running"
    before = _decisions(folder)
    rerun = subprocess.run([POLYHPC, "campaign", "run", str(config), "--dir", str(folder)],
                           capture_output=True, text=True, timeout=1800)
    assert rerun.returncode == 0, rerun.stderr
    after = _decisions(folder)
    assert set(before) <= set(after)  # nothing decided before the kill was redone or lost
    assert after == _decisions(uninterrupted)
