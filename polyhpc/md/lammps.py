"""Run the HTP-MD protocol in a run folder: equilibration, then production.

A run folder holds ``system.lmp`` (a LAMMPS data file with ions, HTP-MD type
numbering) or an already equilibrated ``relaxed.restart``. Each stage is
rendered from ``lammps_templates/`` and run by :func:`run_lammps`; finished
stages are skipped, every record is appended to ``records.json``, and the
production folder gets a ``meta.json`` in the HTP-MD schema for
``polyhpc analyze``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from polyhpc.errors import PolyhpcError
from polyhpc.fileio import write_json_atomic
from polyhpc.md.protocol import Protocol, equilibration_stages, render_input
from polyhpc.md.runner import RunRecord, run_lammps

#: HTP-MD type numbering: polymer 1-89, Li 90, TFSI 91-95 (93 = N).
HTPMD_TYPES = {"cation_raw_type": 90, "anion_raw_type": 93, "polymer_raw_type_range": [0, 89],
               "polymer_solvate_types": [7, 8, 16], "salt_cation": "Li", "salt_anion": "TFSI"}


def _record(workdir: Path, record: RunRecord) -> None:
    path = workdir / "records.json"
    records = json.loads(path.read_text()) if path.is_file() else []
    records.append(record.to_dict())
    write_json_atomic(path, records)


def write_meta(workdir: Path, protocol: Protocol) -> Path:
    """``meta.json`` for the production trajectory (existing fields are kept)."""
    path = workdir / "meta.json"
    meta = json.loads(path.read_text()) if path.is_file() else {}
    meta = {**HTPMD_TYPES, "material_group": "polymer", "force_field": "PCFF", **meta,
            "temperature": protocol.temperature_K,
            "time_step": protocol.dump_every_steps * protocol.timestep_fs / 1000.0,
            "protocol": protocol.name, "deviations": list(protocol.deviations)}
    write_json_atomic(path, meta)
    return path


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


def run_protocol(workdir: Path, protocol: Protocol, seed: int = 1000, threads: int = 1,
                 mpi_ranks: int = 1, extra_args: tuple[str, ...] = (),
                 last_polymer_type: int = 89,
                 on_line: Callable[[str], None] | None = None,
                 on_record: Callable[[RunRecord], None] | None = None) -> list[RunRecord]:
    """Equilibrate (unless ``relaxed.restart`` exists) and run production in ``workdir``.

    Each of the 14 equilibration stages is its own LAMMPS run that starts
    from the previous stage's restart file (``eq01`` from ``system.lmp``),
    so a run killed by a scheduler resumes at the stage it was in. Returns
    the stage records; a failed stage stops the run and is recorded, never
    raised. Seeds: velocities of stage k use ``seed + k``, production ``seed``.
    """
    workdir = Path(workdir)
    if not (workdir / "relaxed.restart").is_file() and not (workdir / "system.lmp").is_file():
        raise PolyhpcError(f"{workdir} has neither system.lmp nor relaxed.restart: "
                           "build one with `polyhpc md build SMILES --out DIR`")
    run = {"threads": threads, "mpi_ranks": mpi_ranks,
           "extra_args": (*protocol.lmp_args, *extra_args), "on_line": on_line}
    jobs = protocol_jobs(protocol)
    equilibrated_elsewhere = (workdir / "relaxed.restart").is_file() and not any(
        (workdir / f"{name}.log").is_file() for name, *_ in jobs[:-1])
    if equilibrated_elsewhere:
        jobs = jobs[-1:]
    records = []
    for name, template, outputs, context in jobs:
        if context.get("s") is not None and context["s"].set_average_box:
            context["average_box_A"] = _average_box(workdir)
        text = render_input(template, protocol, seed=seed, last_polymer_type=last_polymer_type,
                            **context)
        (workdir / f"{name}.in").write_text(text)
        record = run_lammps(name, workdir / f"{name}.in", workdir, outputs, **run)
        records.append(record)
        _record(workdir, record)
        if on_record is not None:
            on_record(record)
        if not record.ok:
            return records
    write_meta(workdir, protocol)
    return records


def _average_box(workdir: Path) -> float:
    """The box length stage 13 averaged (``box_average.txt``)."""
    path = workdir / "box_average.txt"
    try:
        return float(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        raise PolyhpcError(f"{path} is missing or unreadable: stage 13 of the equilibration "
                           "did not finish; delete eq13.restart and run again") from None


def replica_seeds(seed: int, replica: int) -> dict[str, int]:
    """Independent seeds of one replica: building (chains, ions) and LAMMPS velocities."""
    build, velocities = np.random.SeedSequence([seed, replica]).generate_state(2)
    return {"build": int(build % 2**31), "velocities": int(velocities % (2**31 - 100)) + 1}


def evaluate(smiles: str, workdir: Path, protocol: Protocol, seed: int = 1, replica: int = 0,
             frc: Path | None = None, threads: int = 1, mpi_ranks: int = 1,
             extra_args: tuple[str, ...] = (),
             on_line: Callable[[str], None] | None = None,
             on_record: Callable[[RunRecord], None] | None = None) -> dict:
    """Build (unless ``system.lmp`` exists) and run one replica in ``workdir``.

    Never raises for a failed build or run: the outcome is returned and saved
    as ``outcome.json`` with the reason, so a campaign records it and moves on.
    """
    from polyhpc.md.build import build_system, write_system

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    seeds = replica_seeds(seed, replica)
    outcome = {"smiles": smiles, "replica": replica, "workdir": str(workdir), "seeds": seeds,
               "ok": False, "error": None, "stage": None}

    def finish(**changes) -> dict:
        outcome.update(changes)
        write_json_atomic(workdir / "outcome.json", outcome)
        return outcome

    if not _built(workdir) and not (workdir / "relaxed.restart").is_file():
        try:
            built = build_system(smiles, protocol.build, seeds["build"], frc)
            write_system(workdir, built, {"provenance": provenance(seeds, protocol, replica)})
        except PolyhpcError as exc:
            return finish(stage="build", error=str(exc))
    try:
        records = run_protocol(workdir, protocol, seeds["velocities"], threads, mpi_ranks,
                               extra_args, on_line=on_line, on_record=on_record)
    except PolyhpcError as exc:  # e.g. no lmp executable: recorded like a crash
        return finish(stage="run", error=str(exc))
    failed = next((r for r in records if not r.ok), None)
    return finish(ok=failed is None, stage=failed.name if failed else None,
                  error=failed.error if failed else None,
                  ns_per_day={r.name: r.ns_per_day for r in records})


def _built(workdir: Path) -> bool:
    """A finished build: ``system.lmp`` plus the ``meta.json`` written after it."""
    meta = workdir / "meta.json"
    if not (workdir / "system.lmp").is_file() or not meta.is_file():
        return False
    try:
        return "build" in json.loads(meta.read_text())
    except ValueError:
        return False


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


def provenance(seeds: dict, protocol: Protocol, replica: int | None = None) -> dict:
    """Versions, seeds and the LAMMPS build that a run folder records in ``meta.json``."""
    import rdkit

    from polyhpc import __version__
    from polyhpc.md.runner import lmp_header

    return {"polyhpc": __version__, "rdkit": rdkit.__version__, "numpy": np.__version__,
            "lammps": lmp_header(), "seeds": seeds, "replica": replica,
            "protocol": protocol.name}
