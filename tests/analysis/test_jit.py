"""Numba's compiled kernels are cached, also for a read-only install, and a compile is announced.

A package installed read-only beside a read-only home leaves Numba no cache
folder, and Numba then refuses to decorate a ``cache=True`` kernel at all
(``RuntimeError: cannot cache function ...``): ``import polyhpc.analysis``
failed. The copies below make both folders unusable for every user, root
included: the package's ``__pycache__`` and the user cache (``XDG_CACHE_HOME``)
are plain files where Numba needs folders.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from polyhpc.analysis.jit import FALLBACK_PREFIX
from polyhpc.analysis.pipeline import analyze_path, kernels_to_compile
from polyhpc.analysis.synthetic import write_synthetic_dump

ROOT = Path(__file__).resolve().parents[2]
NOTICE = "compiling the analysis kernels with Numba (once: about a minute; cached in "


def _read_only_install(tmp_path) -> dict:
    """Environment of a polyhpc copy whose package and user cache folders cannot be written."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "polyhpc", site / "polyhpc",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (site / "polyhpc" / "analysis" / "__pycache__").write_text("not a folder")
    (tmp_path / "cache").write_text("not a folder")
    (tmp_path / "tmp").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1",
               XDG_CACHE_HOME=str(tmp_path / "cache"), TMPDIR=str(tmp_path / "tmp"))
    return env


def _python(env, *args, cwd):
    return subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=900)


def _analyze(env, path, cwd):
    return _python(env, "-c", "from polyhpc.cli import main; main()", "analyze", str(path),
                   "--json", cwd=cwd)


def test_the_kernels_of_an_analysis_run_here_are_cached(reference_trajectory):
    analyze_path(reference_trajectory)
    assert kernels_to_compile() == []


@pytest.mark.slow
def test_a_read_only_install_caches_its_kernels_in_a_private_temporary_folder_and_says_once(
        tmp_path):
    env = _read_only_install(tmp_path)
    path = write_synthetic_dump(tmp_path / "run" / "traj.lammpstrj", n_frames=6, n_atoms=240,
                                n_pairs=5)
    where = _python(env, "-c", "import polyhpc.analysis.pipeline as p; "
                    "print(p.__file__); print(p.kernel_cache_folder())", cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    module, folder = where.stdout.split()
    assert Path(module).is_relative_to(tmp_path / "site")
    fallback = tmp_path / "tmp" / f"{FALLBACK_PREFIX}{os.getuid()}"
    assert Path(folder).is_relative_to(fallback)
    assert oct(fallback.stat().st_mode & 0o777) == "0o700"

    first = _analyze(env, path, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    assert first.stderr.count(NOTICE) == 1, first.stderr
    assert any(fallback.rglob("*.nbi")) and any(fallback.rglob("*.nbc"))
    expected = analyze_path(path)
    assert json.loads(first.stdout)["replicas"][0]["conductivity"] == expected.conductivity
    # a new process loads the kernels from that folder: nothing to announce
    second = _analyze(env, path, tmp_path)
    assert second.returncode == 0, second.stderr
    assert NOTICE not in second.stderr
    assert json.loads(second.stdout)["replicas"][0]["conductivity"] == expected.conductivity


def test_a_fallback_folder_another_user_could_write_is_not_used(tmp_path):
    """Numba's cache files are pickles: a planted one would run code in the analysis."""
    env = _read_only_install(tmp_path)
    fallback = tmp_path / "tmp" / f"{FALLBACK_PREFIX}{os.getuid()}"
    fallback.mkdir(mode=0o777)
    fallback.chmod(0o777)
    probe = _python(env, "-c", "import logging; logging.basicConfig(); "
                    "import polyhpc.analysis.pipeline as p; print(p.kernel_cache_folder())",
                    cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["None"]
    assert probe.stderr.count("no writable folder for Numba's cache") == 1, probe.stderr
    assert list(fallback.iterdir()) == []
