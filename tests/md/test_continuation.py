"""Real LAMMPS on a tiny PEO/LiTFSI system: the stage-13 window, and runs that are cut short.

One smoke-size replica (316 atoms) is equilibrated once with the box length
logged every step, then copies of it lose their production and run it again:
killed in the middle, stopped by a budget, or started twice at once. No test here depends
on the machine's speed: budgets are counted in steps, and a kill waits for a restart file.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from polyhpc.cli import main
from polyhpc.md.lammps import evaluate
from polyhpc.md.meta import RunFolderError
from polyhpc.md.protocol import box_average_window, equilibration_stages
from polyhpc.md.restart import latest_restart, restart_complete, restart_timestep
from polyhpc.md.thermo import parse_thermo
from tests.md.conftest import SMOKE_EVERY_STEP as PROTOCOL

pytestmark = pytest.mark.lammps

FRAMES = list(range(0, 2001, 100))
POLYHPC = str(Path(sys.executable).parent / "polyhpc")
#: Only turns a hang into a failure: far above what any step takes (no test times a speed).
HANG_GUARD_S = 600


def _frame_steps(path):
    lines = Path(path).read_text().splitlines()
    return [int(lines[i + 1]) for i, line in enumerate(lines) if line == "ITEM: TIMESTEP"]


def _without_production(source, target):
    shutil.copytree(source, target)
    for path in target.glob("production*"):
        path.unlink()
    (target / "traj.lammpstrj").unlink()
    return target


def test_stage_13_averages_the_box_over_the_references_window(equilibrated):
    """LAMMPS' average equals the mean box length over the derived window, step by step."""
    columns, rows = parse_thermo((equilibrated / "eq13.log").read_text())
    step, lx = rows[:, columns.index("Step")], rows[:, columns.index("Lx")]
    # the counter runs on from the reset after stage 4, through stages 5-12
    stages = equilibration_stages(PROTOCOL)
    assert step[0] == sum(s.steps for s in stages[4:12]) == 370
    assert parse_thermo((equilibrated / "eq05.log").read_text())[1][0, 0] == 0
    start, end = box_average_window(PROTOCOL)
    assert (start, end) == (402, 450)  # 3,700-4,500 ps of the reference, x 2e-4
    window = (step >= start) & (step <= end)
    assert window.sum() == 49
    average = float((equilibrated / "box_average.txt").read_text())
    assert average == pytest.approx(lx[window].mean(), abs=2e-6)
    # the window of a counter reset at the stage start (what polyhpc did before) differs
    shifted = (step >= 422) & (step <= 470)
    assert abs(lx[shifted].mean() - average) > 1e-4
    assert f"x final 0.0 {average!r}" in (equilibrated / "eq14.in").read_text()


def _children(pid):
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_production_continues_from_its_last_restart(equilibrated, tmp_path):
    from polyhpc.analysis.pipeline import analyze_path

    rep = _without_production(equilibrated, tmp_path / "killed")
    driver = subprocess.Popen([POLYHPC, "md", "run", str(rep), "--threads", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lmp = []
    # the first restart (step 200 of 2,000) is the signal, whatever the machine's speed
    while latest_restart(rep) is None and driver.poll() is None:
        lmp = _children(driver.pid) or lmp
        time.sleep(0.02)
    lmp = _children(driver.pid) or lmp
    driver.send_signal(signal.SIGKILL)  # the driver dies; its lmp must not outlive it
    driver.wait()
    assert lmp
    for pid in lmp:
        _wait_gone(pid)
        assert not _alive(pid), f"lmp {pid} outlived the killed driver"
    cut = _frame_steps(rep / "traj.lammpstrj")
    assert cut and cut[-1] < 2000  # killed in the middle of the production
    restart_name, restart_step = latest_restart(rep)
    resumed = CliRunner().invoke(main, ["md", "run", str(rep), "--json"])
    assert resumed.exit_code == 0, resumed.output
    production = json.loads(resumed.stdout)["rows"][-1]
    assert production["status"] == "continued"
    assert production["continued_from"] == restart_name
    steps = _frame_steps(rep / "traj.lammpstrj")
    assert steps == FRAMES == _frame_steps(equilibrated / "traj.lammpstrj")
    # frames before the restart are the uninterrupted run's, byte for byte
    before = (rep / "traj.lammpstrj").read_text().split("ITEM: TIMESTEP\n")
    straight = (equilibrated / "traj.lammpstrj").read_text().split("ITEM: TIMESTEP\n")
    n = restart_step // 100 + 1
    assert before[1:n] == straight[1:n]
    result = analyze_path(rep)
    assert result.n_frames == 21 and result.n_cations == 2
    assert sorted(p.name for p in rep.glob("production*.log")) == ["production.log",
                                                                   "production.part1.log"]


def _lmp_processes() -> list[int]:
    """This process's lmp children (the wheel's wrapper) and theirs (the lmp binary)."""
    found = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():  # children of every thread
        for pid in map(int, (task / "children").read_text().split()):
            if b"lmp" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found += [pid, *_children(pid)]
    return found


def test_lmp_stopped_from_outside_is_not_a_failure_and_the_same_call_finishes_it(
        equilibrated, tmp_path):
    """A SIGTERM that reaches lmp (a batch system cancelling the block) is not a LAMMPS error.

    The outcome says so ("stopped from outside", the signal named), which the campaign's
    scheduler resubmits with the same seeds; the same call then finishes the run.
    """
    rep = _without_production(equilibrated, tmp_path / "cancelled")
    outcomes = []
    run = threading.Thread(target=lambda: outcomes.append(
        evaluate("*CCO*", rep, PROTOCOL, seed=5, replica=0, threads=1)))
    run.start()
    while latest_restart(rep) is None and run.is_alive():  # production is under way
        time.sleep(0.02)
    processes = _lmp_processes()
    assert processes
    for pid in processes:
        os.kill(pid, signal.SIGTERM)
    run.join(HANG_GUARD_S)
    (outcome,) = outcomes
    assert outcome["status"] == "stopped from outside" and not outcome["ok"]
    assert outcome["stage"] == "production"
    assert outcome["error"].startswith("lmp was stopped by SIGTERM from outside")
    again = evaluate("*CCO*", rep, PROTOCOL, seed=5, replica=0, threads=1)
    assert again["status"] == "finished", again
    assert _frame_steps(rep / "traj.lammpstrj") == FRAMES


def test_a_lammps_error_is_a_failure_not_a_stop_from_outside(tmp_path):
    from polyhpc.md.runner import run_lammps

    (tmp_path / "bad.in").write_text("units real\nnonsense_command 1\n")
    record = run_lammps("bad", tmp_path / "bad.in", tmp_path)
    assert not record.ok and record.stopped_by is None
    assert record.error.startswith("ERROR: Unknown command")


def _wait_gone(pid):
    """Until the process is gone (its SIGTERM comes at once; the guard only ends a hang)."""
    end = time.monotonic() + HANG_GUARD_S
    while _alive(pid) and time.monotonic() < end:
        time.sleep(0.05)


def test_a_budget_stops_production_cleanly_and_the_next_call_continues(equilibrated, tmp_path):
    """A budget of 750 steps: the same stop on any machine (a wall-clock budget was not)."""
    rep = _without_production(equilibrated, tmp_path / "budget")
    outcome = evaluate("*CCO*", rep, PROTOCOL, seed=5, replica=0, threads=1,
                       production_step_budget=750)
    assert (outcome["status"], outcome["ok"], outcome["timed_out"], outcome["error"]) == (
        "timed out", False, True, None)
    assert [r["status"] for r in outcome["records"]] == ["skipped"] * 14 + ["timed out"]
    stopped = rep / "production.timeout.restart"
    assert restart_complete(stopped) and restart_timestep(stopped) == 750
    assert _frame_steps(rep / "traj.lammpstrj") == FRAMES[:8]  # 0-700
    again = evaluate("*CCO*", rep, PROTOCOL, seed=5, replica=0, threads=1)
    assert again["status"] == "finished" and again["ok"]
    assert again["records"][-1] == {"name": "production", "status": "continued",
                                    "continued_from": "production.timeout.restart"}
    assert _frame_steps(rep / "traj.lammpstrj") == FRAMES
    assert json.loads((rep / "outcome.json").read_text()) == again
    assert not stopped.exists()  # intermediate restarts go once production.restart is written


def test_two_runs_started_in_one_folder_run_lammps_once(equilibrated, tmp_path):
    rep = _without_production(equilibrated, tmp_path / "twice")
    command = [POLYHPC, "md", "run", str(rep), "--json", "--threads", "1"]
    # either may take the folder's lock first: the other waits, then finds production done
    first = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    outputs = [json.loads(p.communicate(timeout=HANG_GUARD_S)[0])["rows"]
               for p in (first, second)]
    productions = sorted(out[-1]["status"] for out in outputs)
    assert productions == ["ran", "skipped"]  # the second waited, then found it done
    assert _frame_steps(rep / "traj.lammpstrj") == FRAMES


def test_outputs_of_another_system_are_refused(equilibrated, tmp_path):
    from polyhpc.md.build import build_system, write_system
    from polyhpc.md.lammps import run_protocol

    rep = _without_production(equilibrated, tmp_path / "swapped")
    other = build_system("*CCCO*", PROTOCOL.build, seed=1)
    write_system(tmp_path / "other", other)
    shutil.copy(tmp_path / "other" / "system.lmp", rep / "system.lmp")
    with pytest.raises(RunFolderError, match="another system"):
        run_protocol(rep, PROTOCOL, seed=json.loads((rep / "meta.json").read_text())[
            "velocity_seed"])
    assert not (rep / "traj.lammpstrj").exists()


def test_a_different_velocity_seed_is_refused_once_stages_ran(equilibrated, tmp_path):
    from polyhpc.md.lammps import run_protocol

    rep = _without_production(equilibrated, tmp_path / "seed")
    seed = json.loads((rep / "meta.json").read_text())["velocity_seed"]
    with pytest.raises(RunFolderError, match=f"run it with --seed {seed}"):
        run_protocol(rep, PROTOCOL, seed=seed + 1)
