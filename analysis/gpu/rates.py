"""The GPU measurement's runs and its report (``analysis/gpu/measure.sh run`` and ``--dry-run``).

Reads the carry folder that ``prepare.py`` wrote, turns the relaxed data file into a restart
file with the ``lmp`` it measures, then, most important first and each only while the time
budget lasts: 1, 2, 4 and 8 concurrent production segments without MPS, 2, 4 and 8 under
MPS, gpt-nano training and sampling on CUDA and on the CPU, one segment under MPS, and the
bare ``lmp -in`` control of ``polyhpc bench md``. The report is ``polyhpc bench md``'s
(``report["polyhpc"]["ns_per_day"]`` is the best per-run rate, so ``polyhpc campaign plan
--rate report.json`` reads it) with the tables added; it is rewritten after every step, so
a run stopped by its time limit leaves what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

from generator import measure_generator
from packing import Mps, gpu_info, lmp_path, run_packed

from polyhpc.fileio import finite_json, write_json_atomic
from polyhpc.md.runner import _ns_per_day, lammps_environment, lmp_header, run_lammps

#: Seconds a packing needs beyond its segment's LAMMPS timeout (start-up, restart reads).
PACKING_MARGIN_S = 15.0
GENERATOR_S = 60.0


class Budget:
    """Seconds left of the run's budget."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def convert_state(carry: Path, work: Path) -> Path:
    """``relaxed.restart`` written by the measured ``lmp`` from the carried data file."""
    state = work / "state"
    state.mkdir(parents=True, exist_ok=True)
    for name in ("relaxed.lmp", "convert.in"):
        target = state / name
        target.unlink(missing_ok=True)
        target.symlink_to(carry / "md" / name)
    record = run_lammps("convert", state / "convert.in", state)
    if not record.ok:
        raise RuntimeError(f"converting relaxed.lmp failed: {record.error} ({state}/convert.log)")
    return state / "relaxed.restart"


def by_hand(work: Path, production_in: Path, restart: Path, lmp_args: tuple[str, ...]) -> dict:
    """The control of ``polyhpc bench md``: the same segment as a bare ``lmp -in`` call."""
    folder = work / "by-hand"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "relaxed.restart").unlink(missing_ok=True)
    (folder / "relaxed.restart").symlink_to(restart)
    command = [lmp_path(), "-in", str(production_in), "-log", "bench-hand.log",
               *(a.replace("{gpus}", "1") for a in lmp_args)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=folder, env=lammps_environment(1), capture_output=True,
                          text=True)
    return {"ok": done.returncode == 0, "command": " ".join(command).replace(str(work), "WORK"),
            "wall_s": round(time.perf_counter() - start, 1),
            "ns_per_day": _ns_per_day(folder / "bench-hand.log")}


def skipped(why: str) -> dict:
    return {"ok": False, "skipped": why}


def best_rate(report: dict) -> tuple[float | None, dict | None]:
    """The best per-run ns/day of every packing, and the packing with the best aggregate."""
    done = [p for p in report["packing"] if p.get("ok")]
    rates = [r for p in done for r in p["per_run_ns_per_day"]]
    best_aggregate = max(done, key=lambda p: p["aggregate_ns_per_day"], default=None)
    return (max(rates) if rates else None), best_aggregate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--carry", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder of report.json")
    parser.add_argument("--mode", choices=("gpu", "cpu"), required=True,
                        help="gpu: the profile's GPU flags, MPS, CUDA; cpu: the dry run")
    parser.add_argument("--budget-s", type=float, default=480.0)
    parser.add_argument("--build-json", type=Path, help="build.json of the GPU lmp build")
    parser.add_argument("--build-error", help="why there is no GPU lmp (the build failed)")
    parser.add_argument("--packings", default="1,2,4,8")
    parser.add_argument("--generator-iters", type=int, default=300)
    parser.add_argument("--generator-samples", type=int, default=500)
    parser.add_argument("--command", default="", help="the command line, for the report")
    args = parser.parse_args()
    budget = Budget(args.budget_s)
    carry = args.carry.resolve()
    manifest = json.loads((carry / "manifest.json").read_text())
    segment = manifest["segment"]
    gpu_mode = args.mode == "gpu"
    lmp_args = tuple(segment["lmp_args"]) if gpu_mode else ()
    work = Path(os.environ.get("POLYHPC_GPU_WORK", "/tmp/polyhpc-gpu-measure"))
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    state = manifest["state"]
    report: dict = {
        "smiles": manifest["smiles"], "steps": segment["steps"], "threads": 1,
        "protocol": segment["profile"], "respa": segment["respa"],
        "build_s": state["build_s"], "system": state["system"],
        "data_file": "md/relaxed.lmp (carried; converted to relaxed.restart by the measured lmp)",
        "polyhpc": {"ok": False, "error": "not measured yet", "wall_s": None, "ns_per_day": None},
        "by_hand": skipped("not run yet"),
        "mode": "gpu" if gpu_mode else "cpu-dry-run",
        "command": args.command,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": {"machine": platform.machine(), "cpus": os.cpu_count(),
                 "python": platform.python_version()},
        "gpu": gpu_info() if gpu_mode else None,
        "lammps_build": json.loads(args.build_json.read_text())
        if args.build_json and args.build_json.is_file()
        else {"error": args.build_error or "no GPU build: the CPU dry run uses the venv's lmp"},
        "state": state, "segment": segment | {"lmp_args_used": list(lmp_args)},
        "packing": [], "mps": {"available": False, "reason": "not tried yet"},
        "generator": {"cuda": skipped("not run yet"), "cpu": skipped("not run yet")},
        "notes": [
            "ns/day is each LAMMPS log's Performance line (loop time; start-up not counted)",
            "a segment stops at its timer timeout: its rate is over the steps it ran",
            "each run is one lmp process with 1 OpenMP thread (the GPU build has no OPENMP "
            "package, and polyhpc's runner adds -sf omp only for threads > 1)",
        ],
    }
    saved = out / "report.json"

    def save() -> None:
        best, packing = best_rate(report)
        single = next((p for p in report["packing"] if p["runs"] == 1 and p.get("ok")), None)
        report["polyhpc"] = {
            "ok": best is not None, "error": None if best else "no packing measured",
            "wall_s": single["wall_s"] if single else None, "ns_per_day": best,
            "best_aggregate": None if packing is None else {
                k: packing[k] for k in ("runs", "mps", "aggregate_ns_per_day",
                                        "mean_ns_per_day")}}
        report["wall_s"] = round(args.budget_s - budget.left(), 1)
        write_json_atomic(saved, finite_json(report))

    save()
    md_ready = not gpu_mode or report["lammps_build"].get("lmp") is not None
    production_in = carry / "md" / "production.in"
    restart = None
    if md_ready:
        report["lmp"] = {"path": lmp_path(), "header": lmp_header()}
        built = report["lammps_build"].get("lmp")
        try:
            if gpu_mode and Path(built).resolve() != Path(lmp_path()).resolve():
                raise RuntimeError(f"polyhpc's runner would run {lmp_path()}, not the GPU build "
                                   f"{built}: put its folder first on PATH")
            restart = convert_state(carry, work)
        except RuntimeError as exc:
            report["lmp"]["error"] = str(exc)
            md_ready = False
    packings = [int(n) for n in args.packings.split(",")]
    # most important first: plain packings, the generator (before MPS is up), MPS packings
    plan = [("md", n, False) for n in packings] + [("generator", 0, False)]
    plan += [("md", n, True) for n in packings if n > 1] + [("md", 1, True), ("by_hand", 1, False)]
    mps = Mps()
    for kind, runs, with_mps in plan:
        if kind == "generator":
            run_generators(report, gpu_mode, budget, args.generator_iters, args.generator_samples,
                           save)
            continue
        if not md_ready:
            continue
        needed = segment["timeout_s"] + PACKING_MARGIN_S
        if kind == "by_hand":
            mps.stop()
            report["by_hand"] = by_hand(work, production_in, restart, lmp_args) \
                if budget.left() > needed else skipped("time budget spent")
            save()
            continue
        label = {"runs": runs, "mps": with_mps}
        if with_mps and not gpu_mode:
            report["packing"].append(label | skipped("cpu dry run: no MPS"))
            report["mps"] = {"available": False, "reason": "cpu dry run"}
        elif budget.left() < needed:
            report["packing"].append(label | skipped("time budget spent"))
        elif with_mps and not mps.started and (mps.error is not None or not mps.start()):
            report["mps"] = {"available": False, "reason": mps.error}
            report["packing"].append(label | skipped(f"MPS: {mps.error}"))
        else:
            result = run_packed(runs, work / f"runs{runs}-{'mps' if with_mps else 'plain'}",
                                production_in, restart, lmp_args)
            if with_mps:
                report["mps"] = {"available": True, "evidence": mps.evidence()}
            report["packing"].append(label | result)
        save()
    mps.stop()
    save()
    print(f"wrote {saved}: best per-run {report['polyhpc']['ns_per_day']} ns/day, "
          f"{len([p for p in report['packing'] if p.get('ok')])} packings measured")


def run_generators(report: dict, gpu_mode: bool, budget: Budget, iterations: int,
                   n_samples: int, save) -> None:
    """gpt-nano on CUDA (GPU mode) and on the CPU; the CPU trains a third of the iterations."""
    from polyhpc.data import load_htpmd_train

    devices = ("cuda", "cpu") if gpu_mode else ("cpu",)
    if not gpu_mode:
        report["generator"]["cuda"] = skipped("cpu dry run")
    for device in devices:
        if budget.left() < GENERATOR_S / len(devices):
            report["generator"][device] = skipped("time budget spent")
            continue
        try:
            report["generator"][device] = measure_generator(
                load_htpmd_train(), device,
                iterations if device == "cuda" else max(1, iterations // 3), n_samples)
        except Exception as exc:  # a report line, never a lost run
            report["generator"][device] = {"ok": False, "error": repr(exc)[:500]}
        save()
    cpu, cuda = report["generator"]["cpu"], report["generator"]["cuda"]
    if "iterations_per_s" in cpu and "iterations_per_s" in cuda:
        report["generator"]["cuda_over_cpu"] = {
            "training": round(cuda["iterations_per_s"] / cpu["iterations_per_s"], 2),
            "sampling": round(cuda["samples_per_s"] / cpu["samples_per_s"], 2)}
    save()


if __name__ == "__main__":
    main()
