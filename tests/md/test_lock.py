"""One run per folder: a second process waits for the folder's lock."""

import subprocess
import sys
import time

from polyhpc.md.lock import LOCK_NAME, run_folder_lock

HOLD = """
import sys, time
from polyhpc.md.lock import run_folder_lock
with run_folder_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_second_process_waits_until_the_first_releases_the_folder(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path), "1.5"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    start = time.monotonic()
    with run_folder_lock(tmp_path):
        waited = time.monotonic() - start
    holder.wait()
    assert waited > 1.0  # the holder kept it for 1.5 s after saying "locked"
    assert (tmp_path / LOCK_NAME).is_file()


def test_the_lock_is_reentrant_in_one_thread_and_freed_when_its_holder_dies(tmp_path):
    with run_folder_lock(tmp_path), run_folder_lock(tmp_path):  # evaluate -> run_protocol
        pass
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path), "60"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()
    start = time.monotonic()
    with run_folder_lock(tmp_path):  # the kernel dropped the dead holder's lock
        assert time.monotonic() - start < 5


def test_md_build_force_never_deletes_a_folder_that_is_running(tmp_path):
    from click.testing import CliRunner

    from polyhpc.cli import main

    out = tmp_path / "run"
    build = ["md", "build", "*CCO*", "--profile", "smoke", "--out", str(out)]
    assert CliRunner().invoke(main, build).exit_code == 0
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out), "60"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"  # a run in progress
        result = CliRunner().invoke(main, [*build, "--force"])
        assert result.exit_code == 2 and "in use by another polyhpc run" in result.output
        assert (out / "system.lmp").is_file()
    finally:
        holder.kill()
        holder.wait()
