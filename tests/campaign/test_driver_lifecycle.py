"""The driver's life in real subprocesses: one per folder, Ctrl-C, copies and moves, failures.

- a second driver on a running campaign's folder is refused, naming the live one;
- Ctrl-C (SIGINT to the driver's process group, as a terminal sends it) stops the driver
  within 10 s, says what was kept, and leaves no process of the campaign behind;
- a copy and a move of the interrupted folder each resume to the results of an
  uninterrupted campaign (the ledger's paths are relative to the folder), the moved one on
  a user's own Parsl site (``--site`` with ``kind: parsl`` and a factory file);
- a campaign whose every LAMMPS run fails ends with exit code 3 and says why.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from polyhpc.campaign.store import Ledger
from polyhpc.resources import workflows_dir
from tests.campaign.conftest import ledger_results

pytestmark = [pytest.mark.lammps, pytest.mark.slow]
POLYHPC = str(Path(sys.executable).parent / "polyhpc")


def _config(tmp_path, **changes) -> Path:
    """The smoke campaign, one iteration, workers that notice a lost driver within 4 s."""
    from polyhpc.resources import resolve_yaml

    data = yaml.safe_load(resolve_yaml("smoke", "campaign").read_text())
    data.update(iterations=1, site={"kind": "local", "max_workers": 2,
                                    "heartbeat_period_s": 1, "heartbeat_threshold_s": 4})
    for key, value in changes.items():
        data[key] = {**data.get(key, {}), **value}
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _start(config: Path, folder: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([POLYHPC, "campaign", "run", str(config), "--dir", str(folder),
                             *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def _processes_in(folder: Path) -> list[str]:
    """Processes whose command line or working folder lies in ``folder``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if str(folder) in cmdline or cwd.startswith(str(folder)):
            found.append(f"{proc.name}: {cmdline[:120]}")
    return found


def _wait_for_md(folder: Path, driver: subprocess.Popen, timeout: float = 900) -> None:
    """Until one iteration-1 MD task is done and another is queued or running."""
    deadline = time.time() + timeout
    while time.time() < deadline and driver.poll() is None:
        time.sleep(0.5)
        try:
            ledger = Ledger.open(folder, readonly=True)
            md = ledger.tasks("md", iteration=1)
            ledger.close()
        except Exception:  # noqa: BLE001 - the ledger may not have its tables yet
            continue
        if any(t["status"] == "done" for t in md) and \
                any(t["status"] in ("submitted", "running") for t in md):
            return
    raise AssertionError(f"the driver was never caught with MD running: "
                         f"{driver.stderr.read() if driver.poll() is not None else ''}")


def test_ctrl_c_stops_cleanly_and_a_copy_and_a_move_resume_to_the_same_results(
        tmp_path, smoke_campaign):
    config = _config(tmp_path)
    first = tmp_path / "first"
    driver = _start(config, first)
    _wait_for_md(first, driver)

    second = subprocess.run([POLYHPC, "campaign", "run", str(config), "--dir", str(first)],
                            capture_output=True, text=True, timeout=120)
    assert second.returncode == 2
    assert f"another driver runs this campaign (pid {driver.pid} on" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1

    os.killpg(driver.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    began = time.monotonic()
    _, err = driver.communicate(timeout=60)
    assert time.monotonic() - began <= 10.0
    assert driver.returncode == 130, err
    assert "interrupted: the ledger keeps" in err and "Traceback" not in err
    deadline = time.time() + 15  # the grace period the README states
    while _processes_in(first) and time.time() < deadline:
        time.sleep(0.5)
    assert _processes_in(first) == []

    copy, moved = tmp_path / "copy", tmp_path / "moved"
    shutil.copytree(first, copy)
    first.rename(moved)
    # the moved one continues on a site of the user's own: a Parsl config from a factory file
    factory_site = tmp_path / "my-site.yaml"
    factory_site.write_text(f"kind: parsl\nfactory: {workflows_dir() / 'parsl_site_example.py'}\n")
    for folder, extra in ((copy, ()), (moved, ("--site", str(factory_site)))):
        rerun = _start(config, folder, *extra)
        _, err = rerun.communicate(timeout=1500)
        assert rerun.returncode == 0, err
        ledger = Ledger.open(folder, readonly=True)
        assert [r["status"] for r in ledger.runs()] == ["interrupted", "finished"]
        assert ledger.runs()[-1]["site"] == ("parsl" if extra else "local")
        assert all(t["workdir"] is None or t["workdir"].startswith(str(folder))
                   for t in ledger.tasks())
        ledger.close()
    # the same seeds: the uninterrupted campaign's numbers, in the copy and in the moved one
    expected = ledger_results(smoke_campaign, iterations={1})
    assert ledger_results(copy) == expected
    assert ledger_results(moved) == expected


def test_a_campaign_whose_every_lammps_run_fails_ends_with_exit_code_3(tmp_path):
    # every lmp run stops at once: "ERROR: Unknown package keyword: nonsense"
    config = _config(tmp_path, md={"lmp_args": ["-pk", "nonsense"], "replicas": 1,
                                   "retries": 0})
    done = subprocess.run([POLYHPC, "campaign", "run", str(config), "--dir",
                           str(tmp_path / "c")], capture_output=True, text=True, timeout=1200)
    assert done.returncode == 3, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: campaign stopped: the reference *CCO* has no md result")
    ledger = Ledger.open(tmp_path / "c", readonly=True)
    assert [r["status"] for r in ledger.runs()] == ["failed"]
    assert ledger.iteration(1)["status"] == "failed"
    assert "has no md result" in ledger.events("failed")[0]["message"]


def _in_own_mounts(tmp_path, script: str) -> subprocess.CompletedProcess:
    """Run ``script`` (sh) in a mount namespace of its own (root: tmpfs, read-only binds)."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is missing")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here: {probe.stderr.decode().strip()}")
    path = tmp_path / "script.sh"
    path.write_text(script)
    env = {**os.environ, "POLYHPC": POLYHPC}
    return subprocess.run(["unshare", "-m", "sh", str(path)], capture_output=True, text=True,
                          timeout=1200, env=env)


def test_a_full_disk_stops_the_campaign_with_one_line_and_loses_nothing(tmp_path):
    config = _config(tmp_path)
    disk = tmp_path / "disk"
    disk.mkdir()
    done = _in_own_mounts(tmp_path, f"""
mount -t tmpfs -o size=8M tmpfs {disk} || exit 99
"$POLYHPC" campaign run {config} --dir {disk}/c
""")
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr and "Logging error" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: campaign stopped: the disk is full")
    assert "run the same command again to continue" in last


def test_a_read_only_campaign_folder_is_read_and_refused_for_writing_in_one_line(tmp_path):
    from polyhpc.campaign.config import load_campaign_config
    from polyhpc.campaign.loop import Campaign

    folder = tmp_path / "ro" / "c"
    Campaign(load_campaign_config(_config(tmp_path)), folder).close()
    (folder / "report").mkdir()  # an earlier report's folder: it exists, but cannot be written
    done = _in_own_mounts(tmp_path, f"""
mount --bind {tmp_path / 'ro'} {tmp_path / 'ro'} && mount -o remount,ro,bind {tmp_path / 'ro'} \\
    || exit 99
"$POLYHPC" campaign status {folder}; echo "status=$?"
"$POLYHPC" campaign report {folder}; echo "report=$?"
"$POLYHPC" campaign report {folder} --out {tmp_path / 'elsewhere'} > /dev/null; echo "out=$?"
"$POLYHPC" campaign run {_config(tmp_path)} --dir {folder}; echo "run=$?"
""")
    assert "status=0" in done.stdout and "out=0" in done.stdout, done.stderr
    assert "report=2" in done.stdout and "run=2" in done.stdout, done.stderr
    assert "Traceback" not in done.stderr
    assert f"error: cannot write the report into {folder / 'report'} (Read-only file " \
           "system): give another --out" in done.stderr
    assert f"error: --dir {folder}: {folder} is not writable" in done.stderr
    assert (tmp_path / "elsewhere" / "report.html").is_file()
