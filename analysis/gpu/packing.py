"""Several LAMMPS runs on one GPU at once, with and without NVIDIA MPS, and what the GPU did.

Each run is polyhpc's own runner (:func:`polyhpc.md.runner.run_lammps`) on the
rendered production segment in its own folder; the runs of one packing start
together from threads and their ns/day come from each LAMMPS log's
``Performance`` line (loop time only, so start-up is not counted). While they
run, ``nvidia-smi`` is read every half second for utilisation and memory.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from polyhpc.md.runner import find_lmp, run_lammps

_LOOP = re.compile(r"Loop time of ([0-9.eE+-]+) on \d+ procs for (\d+) steps")


def gpu_info() -> dict | None:
    """Name, driver, memory and compute capability of GPU 0 (``None`` without nvidia-smi)."""
    if shutil.which("nvidia-smi") is None:
        return None
    done = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,"
                           "compute_cap", "--format=csv,noheader,nounits"],
                          capture_output=True, text=True, timeout=30)
    if done.returncode != 0 or not done.stdout.strip():
        return {"error": done.stderr.strip() or f"nvidia-smi exited {done.returncode}"}
    name, driver, memory, cap = (v.strip() for v in done.stdout.splitlines()[0].split(","))
    return {"name": name, "driver": driver, "memory_total_MiB": float(memory),
            "compute_cap": cap}


class GpuSampler:
    """``nvidia-smi`` readings every ``interval_s`` in a thread: utilisation and memory."""

    def __init__(self, interval_s: float = 0.5):
        self.interval_s = interval_s
        self.gpu: list[tuple[float, float]] = []  # (utilization %, memory used MiB)
        self.apps: list[list[float]] = []  # used memory of each compute process, MiB
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.available = shutil.which("nvidia-smi") is not None

    def _query(self, what: str) -> list[list[str]]:
        done = subprocess.run(["nvidia-smi", what, "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=10)
        return [[v.strip() for v in line.split(",")] for line in done.stdout.splitlines()
                if line.strip()]

    def _loop(self) -> None:
        tick = 0
        while not self._stop.is_set():
            try:
                for util, memory in self._query("--query-gpu=utilization.gpu,memory.used")[:1]:
                    self.gpu.append((float(util), float(memory)))
                if tick % 4 == 0:
                    rows = self._query("--query-compute-apps=pid,used_memory")
                    self.apps.append([float(r[1]) for r in rows if len(r) == 2
                                      and r[1].replace(".", "").isdigit()])
            except (subprocess.SubprocessError, ValueError, OSError):
                pass  # a missed reading is a missed reading
            tick += 1
            self._stop.wait(self.interval_s)

    def __enter__(self) -> GpuSampler:
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.available:
            self._thread.join(timeout=15)

    def summary(self) -> dict:
        """Mean and peak utilisation, peak memory, processes seen on the GPU."""
        if not self.gpu:
            return {"samples": 0}
        util = [u for u, _ in self.gpu]
        return {"samples": len(self.gpu), "util_mean_pct": round(statistics.fmean(util), 1),
                "util_max_pct": max(util),
                "memory_max_MiB": max(m for _, m in self.gpu),
                "processes_max": max((len(a) for a in self.apps), default=0),
                "process_memory_max_MiB": max((max(a) for a in self.apps if a), default=None)}


class Mps:
    """An NVIDIA MPS control daemon of our own (pipe and log folders in a temporary folder)."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="polyhpc-mps-"))
        self.env = {"CUDA_MPS_PIPE_DIRECTORY": str(self.folder / "pipe"),
                    "CUDA_MPS_LOG_DIRECTORY": str(self.folder / "log")}
        self.started = False
        self.error: str | None = None

    def start(self) -> bool:
        """Start ``nvidia-cuda-mps-control -d``; the runs started after it are its clients."""
        if shutil.which("nvidia-cuda-mps-control") is None:
            self.error = "nvidia-cuda-mps-control is not on PATH"
            return False
        for path in self.env.values():
            Path(path).mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["nvidia-cuda-mps-control", "-d"], env={**os.environ, **self.env},
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            self.error = (f"nvidia-cuda-mps-control -d exited {done.returncode}: "
                          f"{(done.stderr or done.stdout).strip()[:300]}")
            return False
        os.environ.update(self.env)  # run_lammps passes os.environ to lmp: the clients
        self.started = True
        return True

    def evidence(self) -> str:
        """What the daemon's control log says about servers and clients."""
        log = Path(self.env["CUDA_MPS_LOG_DIRECTORY"]) / "control.log"
        if not log.is_file():
            return "no control.log"
        text = log.read_text(errors="replace")
        return (f"control.log: {text.count('Starting new server')} server start(s), "
                f"{text.count('New client')} client connection(s)")

    def stop(self) -> None:
        """Ask the daemon to quit and take its variables out of the environment."""
        if self.started:
            subprocess.run(["nvidia-cuda-mps-control"], input="quit\n", text=True,
                           env={**os.environ, **self.env}, capture_output=True, timeout=60)
            for key in self.env:
                os.environ.pop(key, None)
            self.started = False


def _loop_steps(log: Path) -> int | None:
    found = _LOOP.findall(log.read_text(errors="replace")) if log.is_file() else []
    return int(found[-1][1]) if found else None


def run_packed(runs: int, root: Path, production_in: Path, restart: Path,
               lmp_args: tuple[str, ...]) -> dict:
    """``runs`` copies of the production segment at once; per-run and aggregate ns/day.

    Parameters
    ----------
    runs : int
        Concurrent LAMMPS runs.
    root : Path
        Folder of this packing; run ``i`` runs in ``root/run<i>``.
    production_in : Path
        Rendered production input (reads ``relaxed.restart`` from its run folder).
    restart : Path
        The relaxed restart file, linked into every run folder.
    lmp_args : tuple of str
        Accelerator flags (the profile's ``lmp_args``; ``{gpus}`` becomes 1).
    """
    folders = []
    for i in range(runs):
        folder = root / f"run{i}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        (folder / "relaxed.restart").symlink_to(restart)
        folders.append(folder)
    start = time.perf_counter()
    with GpuSampler() as sampler, ThreadPoolExecutor(runs) as pool:
        records = list(pool.map(lambda f: run_lammps(
            "production", production_in, f, threads=1, extra_args=lmp_args, gpus=1), folders))
    wall = time.perf_counter() - start
    per_run = [{"ok": r.ok, "timed_out": r.timed_out, "error": r.error,
                "wall_s": round(r.wall_s, 1), "ns_per_day": r.ns_per_day,
                "steps": _loop_steps(Path(r.workdir) / "production.log")} for r in records]
    rates = [r["ns_per_day"] for r in per_run if r["ok"] and r["ns_per_day"]]
    ok = len(rates) == runs
    return {"runs": runs, "ok": ok, "wall_s": round(wall, 1),
            "command": " ".join(records[0].command).replace(str(root), "RUN") if records else "",
            "per_run": per_run,
            "per_run_ns_per_day": rates,
            "mean_ns_per_day": round(statistics.fmean(rates), 3) if rates else None,
            "aggregate_ns_per_day": round(sum(rates), 3) if ok else None,
            "gpu": sampler.summary()}


def lmp_path() -> str:
    """The ``lmp`` that :func:`run_lammps` will run."""
    return str(find_lmp())
