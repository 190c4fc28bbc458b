"""The campaign on a real single-node SLURM: blocks, job ids, a cancelled block survived."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from polyhpc.campaign.store import Ledger

pytestmark = [pytest.mark.slurm, pytest.mark.lammps, pytest.mark.slow]

SITE = {"kind": "slurm", "partition": "debug", "walltime": "00:30:00", "exclusive": False,
        "init_blocks": 1, "min_blocks": 0, "max_blocks": 1, "max_workers": 2,
        "heartbeat_period_s": 2, "heartbeat_threshold_s": 8, "cmd_timeout_s": 60}


@pytest.fixture(scope="module")
def cancelled_campaign(tmp_path_factory, slurm_cluster):
    """The smoke campaign through the slurm site; its block is scancelled mid-equilibration."""
    from polyhpc.resources import resolve_yaml

    folder = tmp_path_factory.mktemp("slurm-campaign")
    config = yaml.safe_load(resolve_yaml("smoke", "campaign").read_text())
    config["site"] = SITE
    (folder / "slurm.yaml").write_text(yaml.safe_dump(config))
    polyhpc = Path(sys.executable).parent / "polyhpc"
    driver = subprocess.Popen([str(polyhpc), "campaign", "run", str(folder / "slurm.yaml"),
                               "--dir", str(folder / "c")], env=slurm_cluster.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    cancelled = None
    deadline = time.time() + 900
    while cancelled is None and time.time() < deadline and driver.poll() is None:
        time.sleep(0.5)
        for workdir in (folder / "c" / "reference").glob("rep*"):
            if (workdir / "eq04.log").exists() and not (workdir / "relaxed.restart").exists():
                jobs = slurm_cluster.jobs()
                for job in jobs:
                    slurm_cluster.run("scancel", job)
                cancelled = {"at": time.time(), "workdir": workdir, "jobs": jobs}
                break
    _, err = driver.communicate(timeout=1800)
    assert driver.returncode == 0, err
    assert cancelled, "no MD replica was caught in its equilibration"
    return folder / "c", cancelled


def test_a_two_iteration_campaign_runs_under_slurm_job_ids(cancelled_campaign, smoke_campaign):
    folder, cancelled = cancelled_campaign
    ledger = Ledger.open(folder, readonly=True)
    assert [i["status"] for i in ledger.iterations()] == ["done", "done"]
    tasks = ledger.tasks()
    assert all(t["slurm_job_id"] for t in tasks if t["status"] == "done")
    ids = {t["slurm_job_id"] for t in tasks if t["slurm_job_id"]}
    assert set(cancelled["jobs"]) & ids  # tasks ran in the block that was cancelled ...
    assert ids - set(cancelled["jobs"])  # ... and in a block SLURM started after it
    # the Parsl config and the batch scripts it submitted are kept with the campaign
    run_dir = next((folder / "parsl").glob("0*"))
    assert "SlurmProvider" in (run_dir / "config.txt").read_text()
    scripts = [p for p in (run_dir / "submit_scripts").glob("parsl.*")
               if p.suffix not in (".stdout", ".stderr")]
    assert len(scripts) >= 2  # the first block and the one after the cancel
    assert all("#SBATCH --partition=debug" in p.read_text() for p in scripts)
    # the same seeds give the numbers of the uninterrupted local campaign
    from tests.campaign.conftest import ledger_results

    assert ledger_results(folder) == ledger_results(smoke_campaign)


def test_a_cancelled_block_continues_the_replica_at_its_stage(cancelled_campaign):
    folder, cancelled = cancelled_campaign
    ledger = Ledger.open(folder, readonly=True)
    workdir = str(cancelled["workdir"])
    [task] = [t for t in ledger.tasks("md") if t["workdir"] == workdir]
    assert task["status"] == "done" and task["infra_retries"] >= 1
    assert task["attempt"] == 0  # an infrastructure loss is not a failed simulation
    assert "infrastructure" in {e["kind"] for e in ledger.events() if e["task_id"] == task["id"]}
    # stages finished before the cancel were not run again: the ledger says where it resumed
    [continuation] = task["continuations"]
    assert continuation["skipped"][:3] == ["eq01", "eq02", "eq03"]
    assert continuation["resumed_at"] not in continuation["skipped"]
    assert (cancelled["workdir"] / "eq01.log").stat().st_mtime < cancelled["at"]
