"""What a campaign task does on a worker: plain functions on a spec, one result file each.

Every task is ``run_task(kind, spec) -> dict``: it calls one library stage
(generator training, sampling, an MD replica, the trajectory analysis,
surrogate training or prediction), writes a ``started.json`` marker when it
begins and its result as JSON (atomically) when it ends, and returns the same
dict. The driver records the returned dict in the ledger; nothing here
touches the ledger, so a task runs the same under Parsl, inside a container
(``python -m polyhpc.campaign.tasks KIND SPEC.json``) or by hand.

Results carry where and when they ran (host, pid, SLURM job id, start and
end times) for the ledger's task table.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

from polyhpc.fileio import finite_json, sha256_file, write_json_atomic


def _where() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID")}


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


def _train(spec: dict) -> dict:
    from polyhpc.config import load_config
    from polyhpc.data.htpmd import LOADERS
    from polyhpc.generate.train import GeneratorConfig, train_generator

    config = load_config(spec["config"], GeneratorConfig)
    frame = LOADERS[spec["dataset"]]()[["smiles", "conductivity_mS_per_cm"]]
    out = Path(spec["out"])
    init = Path(spec["init"]) if spec.get("init") else None
    report = train_generator(frame, config, out, init=init, resume=True)
    return {"checkpoint": str(out), "sha256": sha256_file(out),
            "iterations": report.iterations, "final_train_loss": report.final_train_loss,
            "final_validation_loss": report.final_validation_loss, "wall_s": report.wall_s,
            "n_parameters": report.n_parameters, "data_summary": report.data_summary}


def _sample(spec: dict) -> dict:
    from polyhpc.chem.canonical import canonical_keys
    from polyhpc.config import load_config
    from polyhpc.generate.sample import SampleConfig, generate_candidates
    from polyhpc.generate.train import load_checkpoint

    state = load_checkpoint(Path(spec["checkpoint"]))
    known = [line for line in Path(spec["known"]).read_text().splitlines() if line]
    config = load_config(spec["sampling"], SampleConfig)
    keys = canonical_keys(known)
    report = generate_candidates(state.model, state.tokenizer, set(known),
                                 {k for k in keys if k is not None}, config)
    return report.to_dict()


def _md(spec: dict) -> dict:
    from polyhpc.md.lammps import evaluate
    from polyhpc.md.protocol import load_protocol

    protocol = load_protocol(spec["profile"])
    if spec.get("replicas"):
        import dataclasses

        protocol = dataclasses.replace(protocol, replicas=spec["replicas"])
    frc = Path(spec["frc"]) if spec.get("frc") else None
    # inside a SLURM block: stop cleanly (LAMMPS timer timeout + restart) before its walltime
    left = slurm_time_left_s()
    timeout_s = None if left is None else max(left - spec.get("walltime_margin_s", 300), 60.0)
    return evaluate(spec["smiles"], Path(spec["workdir"]), protocol, seed=spec["seed"],
                    replica=spec["replica"], frc=frc, threads=spec.get("threads", 1),
                    mpi_ranks=spec.get("mpi_ranks", 1),
                    extra_args=tuple(spec.get("lmp_args", ())),
                    lmp_prefix=tuple(spec.get("lmp_prefix", ())),
                    gpus=max(1, spec.get("gpus", 1)), timeout_s=timeout_s)


def _build(spec: dict) -> dict:
    from polyhpc.md.lammps import build_replica
    from polyhpc.md.protocol import load_protocol

    frc = Path(spec["frc"]) if spec.get("frc") else None
    built = build_replica(spec["smiles"], Path(spec["workdir"]), load_protocol(spec["profile"]),
                          seed=spec["seed"], replica=spec["replica"], frc=frc,
                          lmp_prefix=tuple(spec.get("lmp_prefix", ())))
    return {"built": built}


def _analyze(spec: dict) -> dict:
    from polyhpc.analysis.pipeline import analyze_path

    result = analyze_path(Path(spec["workdir"]))
    write_json_atomic(Path(spec["workdir"]) / "analysis.json", finite_json(result.to_dict()))
    return {"properties": finite_json(result.to_dict(arrays=False))}


def _surrogate_train(spec: dict) -> dict:
    import pandas as pd

    from polyhpc.config import load_config
    from polyhpc.data import load_htpmd_properties
    from polyhpc.surrogate.model import SurrogateConfig, train_surrogate

    frame = load_htpmd_properties()
    if spec.get("extra_csv"):
        extra = pd.read_csv(spec["extra_csv"])
        if len(extra):
            frame = pd.concat([frame, extra], ignore_index=True)
    model = train_surrogate(frame, load_config(spec["config"], SurrogateConfig))
    model.save(Path(spec["out"]))
    return {"model": spec["out"], "sha256": sha256_file(spec["out"]),
            "n_training": model.n_training, "describe": model.describe()}


def _surrogate_predict(spec: dict) -> dict:
    from polyhpc.surrogate.model import SurrogateModel

    table = SurrogateModel.load(Path(spec["model"])).predict(list(spec["smiles"]))
    return {"rows": json.loads(table.to_json(orient="records"))}


def _noop(spec: dict) -> dict:
    return {"value": spec.get("value")}


TASKS = {"train": _train, "sample": _sample, "build": _build, "md": _md, "analyze": _analyze,
         "surrogate_train": _surrogate_train, "surrogate_predict": _surrogate_predict,
         "noop": _noop}


def run_task(kind: str, spec: dict) -> dict:
    """Run one task; write its markers and result file when ``spec`` names a folder.

    Parameters
    ----------
    kind : str
        One of :data:`TASKS`.
    spec : dict
        The task's inputs (JSON-able). With ``task_dir``, ``started.json`` is written
        there at the start and ``result.json`` at the end (atomically).
    """
    started = time.time()
    folder = Path(spec["task_dir"]) if spec.get("task_dir") else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "result.json").unlink(missing_ok=True)
        write_json_atomic(folder / "started.json", {**_where(), "started_at": started,
                                                     "kind": kind})
    result = {"kind": kind, **TASKS[kind](spec), **_where(), "started_at": started,
              "ended_at": time.time()}
    if folder is not None:
        write_json_atomic(folder / "result.json", finite_json(result))
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m polyhpc.campaign.tasks KIND SPEC.json``: run a task from a spec file.

    The container route of the ``slurm-apptainer`` site: the image's own Python
    runs the task, the host reads ``result.json``.
    """
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] not in TASKS:
        sys.stderr.write(f"usage: python -m polyhpc.campaign.tasks {{{','.join(TASKS)}}} "
                         "SPEC.json\n")
        return 2
    run_task(argv[0], json.loads(Path(argv[1]).read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
