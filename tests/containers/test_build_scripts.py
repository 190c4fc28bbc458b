"""The build scripts refuse bad arguments before they download or build anything."""

import subprocess

import pytest

from tests.containers.defs import CONTAINERS


def run(script, *args):
    return subprocess.run(["bash", str(CONTAINERS / script), *args], capture_output=True,
                          text=True, timeout=30)


@pytest.mark.parametrize(("args", "message"), [
    (("fetch", "22Jul2025", "0" * 64, "/nonexistent"),
     "VERSION '22Jul2025' is not a LAMMPS release tag"),
    (("fetch", "stable_22Jul2025_update4", "abc", "/nonexistent"), "SHA256 'abc' is not 64 hex"),
    (("kokkos", "VOLTA70", "/src", "/prefix", "8"), "ARCH 'VOLTA70' is not AMPERE80 or HOPPER90"),
    (("kokkos", "HOPPER90", "/src", "/prefix", "0"), "JOBS '0' is not a positive integer"),
    (("gpu", "/src", "/prefix"), "usage: gpu SRC PREFIX JOBS"),
    (("install",), "unknown command 'install'"),
])
def test_build_lammps_refuses_bad_arguments_with_one_line(args, message):
    done = run("build-lammps.sh", *args)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("build-lammps.sh: ")
    assert message in done.stderr and done.stderr.count("\n") == 1


def test_apt_install_refuses_a_snapshot_that_is_not_a_date():
    done = run("apt-install.sh", "latest", "cmake")
    assert done.returncode == 2
    assert "SNAPSHOT 'latest' is not of the form 20261101T000000Z" in done.stderr


def test_install_polyhpc_names_a_missing_lock_file(tmp_path):
    done = run("install-polyhpc.sh", "python3", str(tmp_path / "none.lock"), str(tmp_path),
               str(tmp_path / "venv"))
    assert done.returncode == 2
    assert f"lock file {tmp_path / 'none.lock'} is missing" in done.stderr
    assert not (tmp_path / "venv").exists()
