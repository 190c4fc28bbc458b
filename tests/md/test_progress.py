"""Progress of a running LAMMPS stage: a bar on a terminal, the per-run lines everywhere.

The equilibrated smoke replica (tests/md/conftest.py) loses its production and runs it
again through ``polyhpc md run`` and ``md replicas``: once with output captured (not a
terminal: no bar) and once with stderr on a pseudo-terminal (a bar that reaches the
production's 4 ps).
"""

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from polyhpc.cli import main
from polyhpc.config import to_dict
from polyhpc.md.progress import ThermoProgress
from polyhpc.md.protocol import equilibration_stages
from tests.md.conftest import SMOKE_EVERY_STEP as PROTOCOL
from tests.terminal import on_a_terminal

pytestmark = pytest.mark.lammps

POLYHPC = str(Path(sys.executable).parent / "polyhpc")
BAR = re.compile(r"\d+%\|")


def _without_production(source, target):
    shutil.copytree(source, target)
    for path in [*target.glob("production*"), target / "traj.lammpstrj"]:
        path.unlink()
    return target


def _profile_file(tmp_path):
    path = tmp_path / "every-step.yaml"
    path.write_text(yaml.safe_dump(to_dict(PROTOCOL)))
    return path


def test_thermo_rows_give_the_simulated_time_of_each_stage(equilibrated):
    """Stage 13 starts at step 370 (the counter runs on from stage 5); its end is its total."""
    stages = {f"eq{s.index:02d}": s for s in equilibration_stages(PROTOCOL)}
    for name in ("eq02", "eq05", "eq13"):
        stage = stages[name]
        tracker = ThermoProgress(name, stage.index, 15, stage.kind,
                                 stage.steps * stage.timestep_fs / 1000, stage.timestep_fs)
        reports = [r for line in (equilibrated / f"{name}.log").read_text().splitlines()
                   if (r := tracker.feed(line)) is not None]
        assert reports[0].done == 0.0 and reports[0].unit == "ps"
        assert reports[-1].done == pytest.approx(stage.steps * stage.timestep_fs / 1000)
        assert reports[-1].fraction == pytest.approx(1.0)
        assert len(reports) == stage.steps + 1  # thermo every step, first and last included
    assert tracker.first_step == 370
    minimize = ThermoProgress("eq01", 1, 15, "minimize", PROTOCOL.minimize_max_iterations, None)
    last = [r for line in (equilibrated / "eq01.log").read_text().splitlines()
            if (r := minimize.feed(line)) is not None][-1]
    assert last.unit == "it" and 0 < last.done <= PROTOCOL.minimize_max_iterations


def test_md_run_off_a_terminal_prints_one_line_per_run_and_no_bar(equilibrated, tmp_path):
    rep = _without_production(equilibrated, tmp_path / "plain")
    result = CliRunner().invoke(main, ["md", "run", str(rep)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [[f"eq{k:02d}", "skipped"]
                                                    for k in range(1, 15)] + [["production",
                                                                               "ran"]]
    assert not BAR.search(result.output) and "ps [" not in result.output


def test_md_run_on_a_terminal_shows_a_bar_that_reaches_the_stage_total(equilibrated, tmp_path):
    rep = _without_production(equilibrated, tmp_path / "tty")
    rc, stdout, shown = on_a_terminal([POLYHPC, "md", "run", str(rep)])
    assert rc == 0, shown
    assert stdout.splitlines()[-1].split()[:2] == ["production", "ran"]  # lines stay
    frames = shown.split("\r")
    bars = [f for f in frames if f.startswith("production (15/15):")]
    assert bars and BAR.search(bars[0]) and "0/4 ps" in bars[0]
    assert re.search(r"100%\|[^|]*\| 4/4 ps \[", bars[-1]), bars[-1]
    assert not any(f.startswith("eq") for f in frames)  # skipped stages draw no bar


def test_md_replicas_shows_the_same_bar_and_keeps_its_lines(equilibrated, tmp_path):
    out = tmp_path / "peo"
    _without_production(equilibrated, out / "rep0")
    command = ["md", "replicas", "*CCO*", "-n", "1", "--seed", "5", "--profile",
               str(_profile_file(tmp_path)), "--out", str(out)]
    plain = CliRunner().invoke(main, [*command, "--json"])
    assert plain.exit_code == 0, plain.output
    assert json.loads(plain.stdout)["rows"][0]["ok"]
    assert "rep0 production     ran" in plain.stderr and "rep0 eq14           skipped" in \
        plain.stderr
    assert not BAR.search(plain.stderr)
    for path in [*(out / "rep0").glob("production*"), out / "rep0" / "traj.lammpstrj"]:
        path.unlink()
    rc, _, shown = on_a_terminal([POLYHPC, *command])
    assert rc == 0, shown
    assert "rep0 production     ran" in shown and "replica 0 finished: ok" in shown
    bars = [f for f in shown.split("\r") if f.startswith("rep0 production (15/15):")]
    assert bars and re.search(r"100%\|[^|]*\| 4/4 ps \[", bars[-1]), bars[-1:]
