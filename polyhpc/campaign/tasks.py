"""What a campaign task does on a worker: one library stage on a typed spec, one result file.

Every task is ``run_task(kind, spec, task_dir) -> dict``: it rebuilds the
spec (:mod:`polyhpc.campaign.specs`), calls one library stage (generator
training, sampling, building a replica's system, its LAMMPS run, the
trajectory analysis, surrogate training or prediction), writes a
``started.json`` marker when it begins and its result as JSON (atomically)
when it ends, and returns the same dict: the encoded outcome and where and
when it ran (host, pid, SLURM job id, start and end times). Nothing here
touches the ledger, so a task runs the same under Parsl, inside a container
(``python -m polyhpc.campaign.tasks TASK.json``) or by hand.

Model and force-field files are checked against the sha256 the driver
recorded before they are loaded: a file that changed on disk is refused,
never loaded.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

from polyhpc.campaign import specs as s
from polyhpc.errors import PolyhpcError, StoppedFromOutside
from polyhpc.fileio import finite_json, sha256_file, write_json_atomic


class ChangedFileError(PolyhpcError):
    """A file a task must load differs from the one the campaign recorded."""


def _where() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID")}


def check_sha256(path: Path | str, expected: str, what: str) -> Path:
    """``path`` if its sha256 is ``expected``; refuse a missing or changed file."""
    path = Path(path)
    if not path.is_file():
        raise ChangedFileError(f"{what} {path} is missing")
    found = sha256_file(path)
    if found != expected:
        raise ChangedFileError(f"{what} {path} changed since the campaign recorded it "
                               f"(sha256 {found[:12]}, recorded {expected[:12]}); it is not "
                               "loaded")
    return path


def parse_time_left(text: str) -> float | None:
    """Seconds of a SLURM ``%L`` time (``[D-]HH:MM:SS``, ``MM:SS``); None if unlimited."""
    text = text.strip()
    if not text or text.upper() in ("UNLIMITED", "NOT_SET", "INVALID"):
        return None
    days, _, clock = text.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    hours, minutes, seconds = parts
    return float(((int(days or 0) * 24 + hours) * 60 + minutes) * 60 + seconds)


def slurm_time_left_s() -> float | None:
    """Seconds before this task's SLURM job reaches its walltime (None outside SLURM)."""
    import subprocess

    job = os.environ.get("SLURM_JOB_ID")
    if not job:
        return None
    try:
        done = subprocess.run(["squeue", "-h", "-j", job, "-o", "%L"], capture_output=True,
                              text=True, timeout=30)
        return parse_time_left(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def _train(spec: s.TrainSpec) -> s.TrainOutcome:
    from polyhpc.data.htpmd import LOADERS
    from polyhpc.generate.train import train_generator

    frame = LOADERS[spec.dataset]()[["smiles", "conductivity_mS_per_cm"]]
    out = Path(spec.out)
    init = check_sha256(spec.init, spec.init_sha256, "the generator checkpoint to fine-tune") \
        if spec.init else None
    # a checkpoint left by an interrupted training is not one the ledger recorded: it is set
    # aside, never loaded, and training starts over (same seed: the same model)
    if out.exists():
        os.replace(out, out.with_name(out.name + ".unrecorded"))
    report = train_generator(frame, spec.config, out, init=init, resume=False)
    return s.TrainOutcome(
        checkpoint=str(out), sha256=sha256_file(out), iterations=report.iterations,
        final_train_loss=report.final_train_loss,
        final_validation_loss=report.final_validation_loss, wall_s=report.wall_s,
        n_parameters=report.n_parameters, data_summary=report.data_summary)


def _sample(spec: s.SampleSpec) -> s.SampleOutcome:
    from polyhpc.chem.canonical import canonical_keys
    from polyhpc.generate.sample import generate_candidates
    from polyhpc.generate.train import load_checkpoint

    path = check_sha256(spec.checkpoint, spec.checkpoint_sha256, "the generator checkpoint")
    state = load_checkpoint(path)
    known = [line for line in Path(spec.known).read_text().splitlines() if line]
    keys = canonical_keys(known)
    report = generate_candidates(state.model, state.tokenizer, set(known),
                                 {k for k in keys if k is not None}, spec.sampling)
    data = report.to_dict()
    return s.SampleOutcome(
        candidates=tuple(s.SampledUnit(c["smiles"], c["canonical"], c["n_tokens"], c["draw"])
                         for c in data["candidates"]),
        draws=data["draws"], rejected=data["rejected"], reached=data["reached"],
        sampling=data["config"])


def _force_field(spec: s.ReplicaSpec) -> Path:
    return check_sha256(spec.frc, spec.frc_sha256, "the force-field file")


def _build(spec: s.ReplicaSpec) -> s.BuildOutcome:
    from polyhpc.md.lammps import build_replica

    built = build_replica(spec.smiles, Path(spec.workdir), spec.protocol, seed=spec.seed,
                          replica=spec.replica, frc=_force_field(spec),
                          lmp_prefix=spec.lmp_prefix)
    return s.BuildOutcome(built=built)


def _time_budget_s(spec: s.ReplicaSpec) -> float | None:
    """The wall-clock budget of one call: inside a SLURM block, what is left of the walltime."""
    left = slurm_time_left_s()
    slurm = None if left is None else max(left - spec.walltime_margin_s, 60.0)
    budgets = [b for b in (slurm, spec.time_budget_s) if b is not None]
    return min(budgets) if budgets else None


def _md(spec: s.ReplicaSpec) -> s.ReplicaOutcome:
    from polyhpc.md.lammps import evaluate

    workdir = Path(spec.workdir)
    watcher = None
    if spec.checkpoint_every_steps:
        watcher = PartialAnalysis(workdir, spec.protocol, spec.checkpoint_every_steps,
                                  spec.partial_from_steps)
    outcome = evaluate(spec.smiles, workdir, spec.protocol, seed=spec.seed,
                       replica=spec.replica, frc=_force_field(spec), threads=spec.threads,
                       mpi_ranks=spec.mpi_ranks, extra_args=spec.lmp_args,
                       lmp_prefix=spec.lmp_prefix, gpus=spec.gpus,
                       timeout_s=_time_budget_s(spec),
                       on_line=watcher, checkpoint_every_steps=spec.checkpoint_every_steps)
    status, production_ps = outcome["status"], None
    if status == "stopped from outside":  # the scheduler submits it again, same seeds
        raise StoppedFromOutside(f"{workdir.name}: {outcome['stage']}: {outcome['error']}")
    if status == "timed out" and (workdir / STOP_FILE).exists():
        # its candidate was decided at a checkpoint: the production ended there on purpose
        status = "stopped early"
        production_ps = watcher.last_ps if watcher else None
    elif status == "finished":
        production_ps = spec.protocol.production_ps
    return s.ReplicaOutcome(status=status, stage=outcome.get("stage"),
                            error=outcome.get("error"),
                            records=tuple(outcome.get("records") or ()),
                            ns_per_day=outcome.get("ns_per_day") or {},
                            seeds=outcome.get("seeds") or {}, production_ps=production_ps)


#: The file the driver writes into a replica's folder to end its production early.
STOP_FILE = "STOP"


def partial_file(workdir: Path, step: int) -> Path:
    """Where the analysis of a production's first ``step`` steps is written."""
    return Path(workdir) / f"partial-{step:012d}.json"


class PartialAnalysis:
    """Analyzes a running production at its checkpoints: ``partial-<step>.json`` each.

    Called with every line LAMMPS prints; on a checkpoint line (``CHECKPOINT_MARK step``)
    it analyzes the dump's frames up to that step with the campaign's analysis (waiting
    for the frame of that step to be written), and any earlier checkpoint that has no
    file yet (a production continued after a kill). Checkpoints before ``from_steps``
    are left out: their estimates are not used (``md.adaptive.min_production_ps``).
    """

    def __init__(self, workdir: Path, protocol, every_steps: int, from_steps: int):
        self.workdir = Path(workdir)
        self.protocol = protocol
        self.every = every_steps
        self.first = max(from_steps, every_steps)
        self.last_ps: float | None = None

    def __call__(self, line: str) -> None:
        """Follow one line of LAMMPS output (analyze at a checkpoint line)."""
        from polyhpc.md.runner import CHECKPOINT_MARK

        if not line.startswith(CHECKPOINT_MARK):
            return
        try:
            step = int(line[len(CHECKPOINT_MARK):].split()[0])
        except (IndexError, ValueError):
            return
        for checkpoint in range(self.first, step + 1, self.every):
            if not partial_file(self.workdir, checkpoint).exists():
                self._analyze(checkpoint)

    def _analyze(self, step: int) -> None:
        import logging

        from polyhpc.analysis.pipeline import analyze_path
        from polyhpc.md.meta import write_meta

        frames = step // self.protocol.dump_every_steps + 1
        production_ps = step * self.protocol.timestep_fs / 1000.0
        write_meta(self.workdir, self.protocol)  # the analysis reads the HTP-MD fields
        for _ in range(600):  # the dump writes the checkpoint's frame right after the print
            try:
                result = analyze_path(self.workdir, frames=slice(0, frames),
                                      allow_truncated=True)
            except PolyhpcError as exc:
                logging.getLogger(__name__).debug("partial analysis at %d: %s", step, exc)
                result = None
            if result is not None and result.n_frames == frames:
                break
            time.sleep(0.1)
        else:
            return
        write_json_atomic(partial_file(self.workdir, step), {
            "step": step, "production_ps": production_ps,
            "properties": finite_json(result.to_dict(arrays=False))})
        self.last_ps = production_ps


#: What an analysis outcome's provenance holds, from the run folder's ``meta.json``.
PROVENANCE_KEYS = ("protocol", "protocol_sha256", "deviations", "force_field",
                   "force_field_file", "system_sha256", "provenance")


def _analyze(spec: s.AnalyzeSpec) -> s.AnalysisOutcome:
    from polyhpc.analysis.pipeline import analyze_path
    from polyhpc.md.meta import read_meta

    workdir = Path(spec.workdir)
    result = analyze_path(workdir)
    write_json_atomic(workdir / "analysis.json", finite_json(result.to_dict()))
    meta = read_meta(workdir)
    return s.AnalysisOutcome(properties=finite_json(result.to_dict(arrays=False)),
                             provenance={k: meta.get(k) for k in PROVENANCE_KEYS})


def _surrogate_train(spec: s.SurrogateTrainSpec) -> s.SurrogateTrainOutcome:
    import pandas as pd

    from polyhpc.data import load_htpmd_properties
    from polyhpc.surrogate.model import train_surrogate

    frame = load_htpmd_properties()
    if spec.extra_csv:
        extra = pd.read_csv(spec.extra_csv)
        if len(extra):
            frame = pd.concat([frame, extra], ignore_index=True)
    model = train_surrogate(frame, spec.config)
    model.save(Path(spec.out))
    return s.SurrogateTrainOutcome(model=spec.out, sha256=sha256_file(spec.out),
                                   n_training=model.n_training, describe=model.describe())


def _surrogate_predict(spec: s.PredictSpec) -> s.PredictOutcome:
    from polyhpc.surrogate.model import SurrogateModel

    path = check_sha256(spec.model, spec.model_sha256, "the surrogate model")
    table = SurrogateModel.load(path).predict(list(spec.smiles))
    return s.PredictOutcome(rows=tuple(json.loads(table.to_json(orient="records"))))


def _noop(spec: s.NoopSpec) -> s.NoopOutcome:
    if spec.sleep_s:
        time.sleep(spec.sleep_s)
    return s.NoopOutcome(value=spec.value)


TASKS = {"train": _train, "sample": _sample, "build": _build, "md": _md, "analyze": _analyze,
         "surrogate_train": _surrogate_train, "surrogate_predict": _surrogate_predict,
         "noop": _noop}


def run_task(kind: str, spec: dict, task_dir: str | None = None) -> dict:
    """Run one task; write its markers and result file when it has a ``task_dir``.

    Parameters
    ----------
    kind : str
        One of :data:`TASKS`.
    spec : dict
        The task's spec as :func:`polyhpc.campaign.specs.encode` writes it.
    task_dir : str, optional
        ``started.json`` is written there at the start and ``result.json`` at the end
        (atomically).

    Returns
    -------
    dict
        ``kind``, ``outcome`` (encoded) and where and when the task ran.
    """
    started = time.time()
    folder = Path(task_dir) if task_dir else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "result.json").unlink(missing_ok=True)
        write_json_atomic(folder / "started.json", {**_where(), "started_at": started,
                                                     "kind": kind})
    outcome = TASKS[kind](s.decode_spec(kind, spec))
    result = {"kind": kind, "outcome": s.encode(outcome), **_where(), "started_at": started,
              "ended_at": time.time()}
    if folder is not None:
        write_json_atomic(folder / "result.json", result)
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m polyhpc.campaign.tasks TASK.json``: run a task from its file.

    ``TASK.json`` holds ``kind``, ``spec`` and ``task_dir``: the container route of the
    ``slurm-apptainer`` site, where the image's own Python runs the task and the host
    reads ``result.json``.
    """
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: python -m polyhpc.campaign.tasks TASK.json\n")
        return 2
    task = json.loads(Path(argv[0]).read_text())
    if task.get("kind") not in TASKS:
        sys.stderr.write(f"{argv[0]}: kind must be one of {', '.join(TASKS)}\n")
        return 2
    run_task(task["kind"], task["spec"], task.get("task_dir"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
