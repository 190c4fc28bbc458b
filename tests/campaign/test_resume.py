"""kill -9 of the campaign driver while MD replicas run: nothing finished is lost or rerun."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from polyhpc.campaign.store import Ledger
from tests.campaign.conftest import ledger_results

pytestmark = [pytest.mark.lammps, pytest.mark.slow]


def _start(folder):
    polyhpc = Path(sys.executable).parent / "polyhpc"
    return subprocess.Popen([str(polyhpc), "campaign", "run", "smoke", "--dir", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def test_a_killed_campaign_continues_to_the_results_of_an_uninterrupted_one(tmp_path,
                                                                            smoke_campaign):
    folder = tmp_path / "killed"
    driver = _start(folder)
    deadline = time.time() + 900
    done_before = None
    while time.time() < deadline and driver.poll() is None:
        time.sleep(0.3)
        if not (folder / "ledger.sqlite").exists():
            continue
        try:
            ledger = Ledger.open(folder, readonly=True)
            md = ledger.tasks("md", iteration=1)
            done = [t for t in md if t["status"] == "done"]
            busy = [t for t in md if t["status"] in ("submitted", "running")]
            if done and busy:
                os.kill(driver.pid, signal.SIGKILL)
                driver.wait()
                done_before = {t["id"]: t for t in ledger.tasks() if t["status"] == "done"}
                busy_before = {t["id"] for t in busy}
                ledger.close()
                break
            ledger.close()
        except Exception:  # noqa: BLE001 - the ledger may not have its tables yet
            continue
    assert done_before, f"the driver was never caught with MD replicas running: " \
                        f"{driver.stderr.read() if driver.poll() is not None else ''}"
    rerun = _start(folder)
    _, err = rerun.communicate(timeout=1200)
    assert rerun.returncode == 0, err
    ledger = Ledger.open(folder, readonly=True)
    # no finished task ran twice: same submission, same start and end as before the kill
    for task_id, before in done_before.items():
        after = ledger.task(task_id)
        assert after["submissions"] == 1
        assert (after["started_at"], after["ended_at"]) == (before["started_at"],
                                                            before["ended_at"])
    # the replicas that were running were continued, and the ledger says so
    assert all(ledger.task(t)["submissions"] == 2 for t in busy_before)
    assert ledger.events("resume") and ledger.events("continuation")
    assert [r["status"] for r in ledger.runs()] == ["killed", "finished"]
    # the same seeds give the same numbers as the uninterrupted campaign
    assert ledger_results(folder) == ledger_results(smoke_campaign)
