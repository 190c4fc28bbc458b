"""Throughput benchmark of the trajectory analysis (``polyhpc bench analysis``).

Writes (or reuses) a synthetic dump of HTP-MD size, then analyzes it in a
fresh child process so that peak memory is the analysis' own. The child first
analyzes a two-frame file so that Numba compilation (cached on disk after the
first run) is not counted.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class AnalysisBenchmark:
    """Timings (s), throughput and peak memory of one benchmark run."""

    n_frames: int
    n_atoms: int
    file_MB: float
    parse_s: float
    parse_MB_per_s: float
    clusters_s: float
    clusters_frames_per_s: float
    msd_s: float
    total_s: float
    peak_memory_MB: float
    threads: int

    def to_dict(self) -> dict:
        """Plain-data form."""
        return asdict(self)


def _child(path: str, warmup: str, queue) -> None:
    from polyhpc.analysis import kernels
    from polyhpc.analysis.analyze import analyze_path, compute_transport, ion_cluster_labels
    from polyhpc.analysis.io import read_lammps_dump, read_meta

    analyze_path(Path(warmup))
    meta = read_meta(Path(path).parent / "meta.json")
    start = time.perf_counter()
    trajectory = read_lammps_dump(Path(path), meta)
    parse = time.perf_counter() - start
    start = time.perf_counter()
    labels, is_cation, is_anion = ion_cluster_labels(trajectory)
    kernels.cluster_populations(labels, is_cation, is_anion).mean(axis=0)
    clusters = time.perf_counter() - start
    start = time.perf_counter()
    for mask in (trajectory.types == 90, trajectory.types == 93):
        kernels.msd_fft(trajectory.positions[:, mask])
    msd = time.perf_counter() - start
    del trajectory, labels
    start = time.perf_counter()
    trajectory = read_lammps_dump(Path(path), meta)
    result = compute_transport(trajectory)
    Path(path).with_suffix(".json").write_text(json.dumps(result.to_dict(), default=float))
    total = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    import numba

    queue.put({"parse_s": parse, "clusters_s": clusters, "msd_s": msd, "total_s": total,
               "peak_memory_MB": peak, "threads": numba.get_num_threads(),
               "n_frames": trajectory.n_frames})


def run_analysis_benchmark(workdir: Path, n_frames: int = 2500, n_atoms: int = 6440,
                           reuse: bool = True,
                           progress: Callable[[int], None] | None = None) -> AnalysisBenchmark:
    """Benchmark the whole analysis, file to JSON, on a synthetic dump.

    Parameters
    ----------
    workdir : Path
        Where the synthetic dump is written (or found, when ``reuse``).
    n_frames, n_atoms : int
        Size of the dump (HTP-MD replica: 2,500 frames x 6,440 atoms, ~0.9 GB).
    reuse : bool
        Keep an existing dump of the same size instead of rewriting it.
    progress : callable, optional
        Called with frames written while the dump is generated.
    """
    from polyhpc.analysis.synthetic import write_synthetic_dump

    if n_frames < 5 or n_atoms < 100:
        from polyhpc.errors import PolyhpcError

        raise PolyhpcError(f"benchmark needs >= 5 frames and >= 100 atoms, got {n_frames} "
                           f"frames of {n_atoms} atoms")
    # Salt scales with system size: 50 LiTFSI pairs in 6,440 atoms as in HTP-MD.
    n_pairs = max(2, round(50 * n_atoms / 6440))
    workdir = Path(workdir)
    path = workdir / f"synthetic-{n_frames}x{n_atoms}" / "traj.lammpstrj"
    if not (reuse and path.is_file()):
        write_synthetic_dump(path, n_frames=n_frames, n_atoms=n_atoms, n_pairs=n_pairs,
                             progress=progress)
    warmup = workdir / "warmup" / "traj.lammpstrj"
    if not warmup.is_file():
        write_synthetic_dump(warmup, n_frames=5, n_atoms=1000, n_pairs=8)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_child, args=(str(path), str(warmup), queue))
    child.start()
    child.join()
    if child.exitcode != 0:
        from polyhpc.errors import PolyhpcError

        raise PolyhpcError(f"benchmark child process failed with exit code {child.exitcode}")
    figures = queue.get()
    size_MB = os.path.getsize(path) / 1e6
    return AnalysisBenchmark(
        n_frames=figures["n_frames"], n_atoms=n_atoms, file_MB=round(size_MB, 1),
        parse_s=round(figures["parse_s"], 3),
        parse_MB_per_s=round(size_MB / figures["parse_s"], 1),
        clusters_s=round(figures["clusters_s"], 3),
        clusters_frames_per_s=round(figures["n_frames"] / figures["clusters_s"], 1),
        msd_s=round(figures["msd_s"], 3), total_s=round(figures["total_s"], 3),
        peak_memory_MB=round(figures["peak_memory_MB"], 1), threads=figures["threads"],
    )


def format_table(bench: AnalysisBenchmark) -> str:
    """Human-readable table of a benchmark."""
    rows = [
        ("trajectory", f"{bench.n_frames} frames x {bench.n_atoms} atoms, {bench.file_MB} MB"),
        ("parse", f"{bench.parse_s:.2f} s  ({bench.parse_MB_per_s:.0f} MB/s)"),
        ("clusters", f"{bench.clusters_s:.2f} s  ({bench.clusters_frames_per_s:.0f} frames/s)"),
        ("MSD (Li, TFSI, FFT)", f"{bench.msd_s:.2f} s"),
        ("total, file to JSON", f"{bench.total_s:.2f} s"),
        ("peak memory", f"{bench.peak_memory_MB:.0f} MB"),
        ("threads", str(bench.threads)),
    ]
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


__all__ = ["AnalysisBenchmark", "format_table", "run_analysis_benchmark"]
