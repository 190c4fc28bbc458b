"""Running the HTP-MD protocol in a run folder: equilibration stages, then production.

Every LAMMPS run (14 equilibration stages, production) is rendered from
``lammps_templates/``, run by :func:`polyhpc.md.runner.run_lammps` and
appended to ``records.json``; the production folder gets a ``meta.json`` in
the HTP-MD schema for ``polyhpc analyze``. A folder holds one run: its lock
keeps a second process out (:mod:`polyhpc.md.lock`), and :func:`run_protocol`
refuses stage outputs of another system, protocol or seed
(:func:`polyhpc.md.meta.prepare_run`).

Interruptions: an equilibration stage that was killed or stopped by its time
budget runs again from the previous stage's restart (so a resumed replica is
bit-identical to an uninterrupted one with the same seeds and threads); a
production continues from its newest complete restart file and appends to
its dump (:mod:`polyhpc.md.restart`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from polyhpc.errors import PolyhpcError
from polyhpc.fileio import write_json_atomic
from polyhpc.md.lock import run_folder_lock
from polyhpc.md.meta import (
    HTPMD_TYPES,
    prepare_run,
    provenance,
    read_meta,
    read_records,
    write_meta,
)
from polyhpc.md.progress import Progress, ThermoProgress
from polyhpc.md.protocol import (
    Protocol,
    box_average_window,
    equilibration_stages,
    production_steps,
    render_input,
)
from polyhpc.md.restart import PRODUCTION_RESTARTS, latest_restart, restart_timestep, truncate_dump
from polyhpc.md.runner import RunRecord, finished_before, run_lammps
from polyhpc.md.settings import check_lmp_args

__all__ = ["HTPMD_TYPES", "evaluate", "protocol_jobs", "provenance", "replica_seeds",
           "run_protocol", "run_replicas", "stage_name", "write_meta"]

log = logging.getLogger(__name__)

#: A LAMMPS run is not started with less budget than this (seconds).
MIN_BUDGET_S = 1.0


def _record(workdir: Path, record: RunRecord) -> None:
    records = read_records(workdir)
    records.append(record.to_dict())
    write_json_atomic(Path(workdir) / "records.json", records)


def stage_name(index: int) -> str:
    """Run-folder name of equilibration stage ``index`` (logs, inputs, restarts)."""
    return f"eq{index:02d}"


def protocol_jobs(protocol: Protocol) -> list[tuple[str, str, tuple[str, ...], dict]]:
    """``(name, template, outputs, context)`` of every LAMMPS run: 14 stages, production.

    Stage 14 also needs ``average_box_A``, known only once stage 13 has run.
    """
    stages = equilibration_stages(protocol)
    jobs = []
    for s in stages:
        last = s.index == stages[-1].index
        jobs.append((stage_name(s.index), "equilibration_stage.in.j2",
                     ("relaxed.restart", "relaxed.lmp") if last
                     else (f"{stage_name(s.index)}.restart",),
                     {"s": s, "loop_last": last, "data_file": "system.lmp",
                      "previous_restart": f"{stage_name(s.index - 1)}.restart"
                      if s.index > 1 else "",
                      "restart_out": f"{stage_name(s.index)}.restart"}))
    jobs.append(("production", "production.in.j2", ("traj.lammpstrj", "production.restart"),
                 {"restart_file": "relaxed.restart"}))
    return jobs


def _continue_production(workdir: Path, protocol: Protocol) -> str | None:
    """Prepare a killed or timed-out production to continue; the restart it continues from.

    ``None`` means a fresh start from ``relaxed.restart``: no complete production
    restart, or a dump that does not hold every frame before it.
    """
    found = latest_restart(workdir)
    if found is None:
        return None
    name, step = found
    kept = truncate_dump(workdir / "traj.lammpstrj", step)
    if kept != list(range(0, step, protocol.dump_every_steps)):
        log.warning("%s: the dump lacks frames before step %d; production starts over",
                    workdir, step)
        (workdir / "traj.lammpstrj").unlink(missing_ok=True)
        for stale in (*PRODUCTION_RESTARTS, *workdir.glob("production.part*.log")):
            (workdir / stale).unlink(missing_ok=True)
        return None
    segments = sorted(workdir.glob("production.part*.log"))
    if (workdir / "production.log").is_file():
        (workdir / "production.log").rename(workdir / f"production.part{len(segments) + 1}.log")
    return name


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()


def _tracker(protocol: Protocol, name: str, context: dict, index: int,
             count: int) -> ThermoProgress:
    """What follows one run's thermo output: ps of a stage or the production, iterations."""
    stage = context.get("s")
    if stage is None:
        return ThermoProgress(name, index, count, "production", protocol.production_ps,
                              protocol.timestep_fs, first_step=0)
    if stage.kind == "minimize":
        return ThermoProgress(name, index, count, stage.kind,
                              protocol.minimize_max_iterations, None)
    return ThermoProgress(name, index, count, stage.kind,
                          stage.steps * stage.timestep_fs / 1000.0, stage.timestep_fs)


def _follow(tracker: ThermoProgress, on_line: Callable[[str], None] | None,
            on_progress: Callable[[Progress], None] | None) -> Callable[[str], None] | None:
    """The ``on_line`` of one run: the caller's, and progress reports from thermo rows."""
    if on_progress is None:
        return on_line

    def handle(line: str) -> None:
        if on_line is not None:
            on_line(line)
        report = tracker.feed(line)
        if report is not None:
            on_progress(report)
    return handle


def _production_stop(workdir: Path, protocol: Protocol, continued: str | None,
                     budget_steps: int | None) -> int:
    """The step this call's production runs up to: its end, or the step budget's end."""
    end = production_steps(protocol)
    if budget_steps is None:
        return end
    start = restart_timestep(workdir / continued) if continued else 0
    return min(end, start + budget_steps)


def run_protocol(workdir: Path, protocol: Protocol, seed: int = 1000, threads: int = 1,
                 mpi_ranks: int = 1, extra_args: tuple[str, ...] = (),
                 last_polymer_type: int = 89,
                 on_line: Callable[[str], None] | None = None,
                 on_record: Callable[[RunRecord], None] | None = None,
                 lmp_prefix: tuple[str, ...] = (), gpus: int = 1,
                 timeout_s: float | None = None,
                 on_progress: Callable[[Progress], None] | None = None,
                 production_step_budget: int | None = None,
                 checkpoint_every_steps: int | None = None) -> list[RunRecord]:
    """Equilibrate (unless ``relaxed.restart`` exists) and run production in ``workdir``.

    Each of the 14 equilibration stages is its own LAMMPS run that starts
    from the previous stage's restart file (``eq01`` from ``system.lmp``).
    Returns the records of this call; a failed stage stops the run and is
    recorded, never raised. Seeds: velocities of stages 2 and 5 use
    ``seed + 2`` and ``seed + 5`` (recorded in ``meta.json``); production
    continues the relaxed state's velocities.

    Parameters
    ----------
    lmp_prefix : tuple of str
        Command prefix for ``lmp`` (``apptainer exec --nv IMAGE``).
    gpus : int
        Fills ``{gpus}`` in the profile's ``lmp_args``.
    timeout_s : float, optional
        Time budget of this call in seconds: the running stage stops cleanly when it is
        spent (LAMMPS ``timer timeout``; production writes a restart) and its record says
        timed out; calling again continues.
    on_progress : callable, optional
        Called with a :class:`polyhpc.md.progress.Progress` when a run starts and at each
        thermo row it prints (simulated ps of the stage, minimizer iterations).
    production_step_budget : int, optional
        At most this many production MD steps in this call: the production then stops
        as on a spent time budget (restart written, record timed out) and the next call
        continues. A budget in steps, not seconds: production in chunks of a fixed
        simulated time, the same on any machine.

    checkpoint_every_steps : int, optional
        Adaptive MD: the production prints ``CHECKPOINT_MARK step`` this often (a
        multiple of the dump interval: the dump then holds every frame up to it) and
        ends cleanly at the next one once a ``STOP`` file is in ``workdir``.

    Raises
    ------
    PolyhpcError
        Nothing to run in ``workdir``; a folder that holds another system, protocol or
        seed (:class:`polyhpc.md.meta.RunFolderError`); a ``system.lmp`` edited since it
        was built; lmp arguments that are not accelerator options; no ``lmp``.
    """
    workdir = Path(workdir)
    check_lmp_args("--lmp-args/md.lmp_args", extra_args)
    if production_step_budget is not None and production_step_budget < 1:
        raise PolyhpcError(f"production_step_budget: {production_step_budget} is below 1")
    if checkpoint_every_steps is not None and (
            checkpoint_every_steps < 1 or checkpoint_every_steps % protocol.dump_every_steps):
        raise PolyhpcError(f"checkpoint_every_steps: {checkpoint_every_steps} is not a "
                           f"multiple of dump_every_steps ({protocol.dump_every_steps})")
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    if not (workdir / "relaxed.restart").is_file() and not (workdir / "system.lmp").is_file():
        raise PolyhpcError(f"{workdir} has neither system.lmp nor relaxed.restart: "
                           "build one with `polyhpc md build SMILES --out DIR`")
    stages = equilibration_stages(protocol)
    box_average_window(protocol)  # refuses a profile whose stage 13 averages nothing
    run = {"threads": threads, "mpi_ranks": mpi_ranks, "on_line": on_line,
           "extra_args": (*protocol.lmp_args, *extra_args), "lmp_prefix": lmp_prefix,
           "gpus": gpus}
    with run_folder_lock(workdir):
        velocity_stages = {stage_name(s.index): seed + s.index for s in stages
                           if s.new_velocities}
        system = prepare_run(workdir, protocol, seed, velocity_stages)
        jobs = protocol_jobs(protocol)
        equilibrated_elsewhere = (workdir / "relaxed.restart").is_file() and not any(
            (workdir / f"{name}.log").is_file() for name, *_ in jobs[:-1])
        if equilibrated_elsewhere:
            jobs = jobs[-1:]
        call = _Call(seed, last_polymer_type, run, on_progress, production_step_budget,
                     checkpoint_every_steps, deadline, system)
        records = []
        for index, job in enumerate(jobs, start=1):
            record = _run_job(workdir, protocol, job, index, len(jobs), call)
            records.append(record)
            _record(workdir, record)
            if on_record is not None:
                on_record(record)
            if not record.finished:
                return records
        _finish_production(workdir)
        write_meta(workdir, protocol)
        return records


@dataclass(frozen=True)
class _Call:
    """What every LAMMPS run of one :func:`run_protocol` call shares."""

    seed: int
    last_polymer_type: int
    run: dict
    on_progress: Callable[[Progress], None] | None
    production_step_budget: int | None
    checkpoint_every_steps: int | None
    deadline: float | None
    system: str | None


def _run_job(workdir: Path, protocol: Protocol, job: tuple, index: int, total: int,
             call: _Call) -> RunRecord:
    """Render and run one job (a stage or the production), or skip it without budget."""
    name, template, outputs, context = job
    continued = None
    if name == "production" and not finished_before(workdir, name, outputs):
        continued = _continue_production(workdir, protocol)
    budget = _remaining(call.deadline)
    if budget is not None and budget < MIN_BUDGET_S and not finished_before(
            workdir, name, outputs):
        return RunRecord(name, (), str(workdir), None, True, None, 0.0, None,
                         timed_out=True, system_sha256=call.system)
    if context.get("s") is not None and context["s"].set_average_box:
        context["average_box_A"] = _average_box(workdir)
    if name == "production":
        context = {**context, "stop_step": _production_stop(
            workdir, protocol, continued, call.production_step_budget),
            "checkpoint_every_steps": call.checkpoint_every_steps}
    text = render_input(template, protocol, seed=call.seed,
                        last_polymer_type=call.last_polymer_type,
                        timeout_s=None if budget is None else int(budget),
                        continue_from=continued or "", **context)
    (workdir / f"{name}.in").write_text(text)
    tracker = _tracker(protocol, name, context, index, total)
    if call.on_progress is not None and not finished_before(workdir, name, outputs):
        call.on_progress(tracker.report())
    return run_lammps(name, workdir / f"{name}.in", workdir, outputs, continued_from=continued,
                      system_sha256=call.system,
                      **{**call.run, "on_line": _follow(tracker, call.run["on_line"],
                                                        call.on_progress)})


def _finish_production(workdir: Path) -> None:
    """Drop the intermediate production restarts once ``production.restart`` is written."""
    for name in PRODUCTION_RESTARTS:
        (workdir / name).unlink(missing_ok=True)


def _average_box(workdir: Path) -> float:
    """The box length stage 13 averaged (``box_average.txt``)."""
    path = workdir / "box_average.txt"
    try:
        value = float(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        value = 0.0
    if not value > 0.0:
        raise PolyhpcError(f"{path} is missing or holds no box length: stage 13 of the "
                           "equilibration did not finish; delete eq13.restart and run again")
    return value


def replica_seeds(seed: int, replica: int) -> dict[str, int]:
    """Independent seeds of one replica: building (chains, ions) and LAMMPS velocities."""
    build, velocities = np.random.SeedSequence([seed, replica]).generate_state(2)
    return {"build": int(build % 2**31), "velocities": int(velocities % (2**31 - 100)) + 1}


def build_replica(smiles: str, workdir: Path, protocol: Protocol, seed: int = 1,
                  replica: int = 0, frc: Path | None = None,
                  lmp_prefix: tuple[str, ...] = ()) -> bool:
    """Build one replica's system in ``workdir`` unless it is built; True when it built it.

    The same system :func:`evaluate` builds (seeds from :func:`replica_seeds`), so a campaign
    can build on CPU workers and run LAMMPS on GPU workers. Holds the folder's lock.

    Raises
    ------
    PolyhpcError
        The folder holds another unit's system, or the build failed (with the reason).
    """
    from polyhpc.md.build import build_system, write_system
    from polyhpc.md.meta import protocol_record

    workdir = Path(workdir)
    with run_folder_lock(workdir):
        built = read_meta(workdir).get("build")
        if built is not None and built.get("unit_smiles") not in (None, smiles):
            raise PolyhpcError(f"{workdir} holds a system of {built['unit_smiles']}, not "
                               f"{smiles}: use another folder")
        if built is not None or (workdir / "relaxed.restart").is_file():
            return False
        seeds = replica_seeds(seed, replica)
        system = build_system(smiles, protocol.build, seeds["build"], frc)
        write_system(workdir, system, {"provenance": provenance(seeds, protocol, replica,
                                                                lmp_prefix),
                                       **protocol_record(protocol)})
        return True


def evaluate(smiles: str, workdir: Path, protocol: Protocol, seed: int = 1, replica: int = 0,
             frc: Path | None = None, threads: int = 1, mpi_ranks: int = 1,
             extra_args: tuple[str, ...] = (),
             on_line: Callable[[str], None] | None = None,
             on_record: Callable[[RunRecord], None] | None = None,
             lmp_prefix: tuple[str, ...] = (), gpus: int = 1,
             timeout_s: float | None = None,
             on_progress: Callable[[Progress], None] | None = None,
             production_step_budget: int | None = None,
             checkpoint_every_steps: int | None = None) -> dict:
    """Build (unless built) and run one replica in ``workdir``; holds the folder's lock.

    Never raises for a failed build or run: the outcome is returned and saved
    as ``outcome.json``: ``status`` is ``finished``, ``failed`` (``stage`` and
    ``error`` say where and why) or ``timed out`` (call again to continue),
    ``ok`` is true only when finished, ``records`` lists what each LAMMPS run of
    this call did (ran, skipped, continued from a restart, timed out).
    ``on_progress``, ``production_step_budget`` and ``checkpoint_every_steps`` are those
    of :func:`run_protocol`.
    """
    workdir = Path(workdir)
    start = time.monotonic()
    seeds = replica_seeds(seed, replica)
    outcome = {"smiles": smiles, "replica": replica, "workdir": str(workdir), "seeds": seeds,
               "protocol": protocol.name, "ok": False, "status": "failed",
               "timed_out": False, "error": None, "stage": None, "records": []}
    with run_folder_lock(workdir):
        def finish(**changes) -> dict:
            outcome.update(changes)
            write_json_atomic(workdir / "outcome.json", outcome)
            return outcome

        try:
            build_replica(smiles, workdir, protocol, seed, replica, frc, lmp_prefix)
        except PolyhpcError as exc:
            return finish(stage="build", error=str(exc))
        budget = None if timeout_s is None else timeout_s - (time.monotonic() - start)
        try:
            records = run_protocol(workdir, protocol, seeds["velocities"], threads, mpi_ranks,
                                   extra_args, on_line=on_line, on_record=on_record,
                                   lmp_prefix=lmp_prefix, gpus=gpus, timeout_s=budget,
                                   on_progress=on_progress,
                                   production_step_budget=production_step_budget,
                                   checkpoint_every_steps=checkpoint_every_steps)
        except PolyhpcError as exc:  # e.g. no lmp executable: recorded like a crash
            return finish(stage="run", error=str(exc))
        summary = [{"name": r.name, "status": r.status, "continued_from": r.continued_from}
                   for r in records]
        last = records[-1] if records else None
        if last is not None and last.stopped_by is not None:
            # not the run's fault: the same call continues it (finished stages are kept)
            return finish(status="stopped from outside", stage=last.name, error=last.error,
                          records=summary)
        if last is not None and not last.ok:
            return finish(stage=last.name, error=last.error, records=summary)
        if last is not None and last.timed_out:
            return finish(status="timed out", timed_out=True, stage=last.name, records=summary,
                          ns_per_day={r.name: r.ns_per_day for r in records})
        return finish(ok=True, status="finished", records=summary,
                      ns_per_day={r.name: r.ns_per_day for r in records})


def run_replicas(smiles: str, outdir: Path, protocol: Protocol, replicas: int | None = None,
                 seed: int = 1, on_outcome: Callable[[dict], None] | None = None,
                 **run) -> list[dict]:
    """Independent replicas ``outdir/rep<k>`` of one unit; a failed one is recorded, not fatal.

    ``replicas.json`` is rewritten after every replica, and finished stages
    are skipped by the runner, so calling this again after an interruption
    resumes where it stopped.
    """
    n = replicas or protocol.replicas
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for k in range(n):
        outcomes.append(evaluate(smiles, outdir / f"rep{k}", protocol, seed, k, **run))
        write_json_atomic(outdir / "replicas.json", outcomes)
        if on_outcome is not None:
            on_outcome(outcomes[-1])
    return outcomes
