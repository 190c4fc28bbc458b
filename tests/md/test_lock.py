"""One run per folder: a second process waits for the folder's lock.

No test here times anything: the holder releases the lock only once the kernel lists
the second process as blocked on it (``/proc/locks`` shows a waiter as ``->``).
"""

import subprocess
import sys

from polyhpc.md.lock import LOCK_NAME, run_folder_lock

HOLD = """
import os, sys, time
from polyhpc.md.lock import run_folder_lock

def waiter_blocked(inode):
    for line in open("/proc/locks"):
        words = line.split()
        if "->" in words and words[-3].endswith(f":{inode}"):
            return True
    return False

with run_folder_lock(sys.argv[1]) as path:
    print("locked", flush=True)
    if sys.argv[2] == "until-a-waiter-blocks":
        inode, end = os.stat(path).st_ino, time.monotonic() + 600  # a guard against a hang
        while not waiter_blocked(inode) and time.monotonic() < end:
            time.sleep(0.01)
        print("releasing after a waiter blocked" if waiter_blocked(inode) else "no waiter",
              flush=True)
    else:
        time.sleep(float(sys.argv[2]))
"""


def test_a_second_process_waits_until_the_first_releases_the_folder(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path),
                               "until-a-waiter-blocks"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with run_folder_lock(tmp_path):  # blocks: the holder sees it waiting, then lets go
        said = holder.stdout.readline().strip()
    holder.wait()
    assert said == "releasing after a waiter blocked"
    assert (tmp_path / LOCK_NAME).is_file()


def test_the_lock_is_reentrant_in_one_thread_and_freed_when_its_holder_dies(tmp_path):
    with run_folder_lock(tmp_path), run_folder_lock(tmp_path):  # evaluate -> run_protocol
        pass
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path), "600"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()
    with run_folder_lock(tmp_path, wait=False):  # the kernel dropped the dead holder's lock
        pass


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
