"""Throughput benchmark of the trajectory analysis (``polyhpc bench analysis``).

Writes (or reuses) a synthetic dump of HTP-MD size, then analyzes it in a
fresh child process so that peak memory is the analysis' own. The child first
analyzes a two-frame file so that Numba compilation (cached on disk after the
first run) is not counted. Stage times are taken with ``perf_counter_ns`` and
reported unrounded (seconds, nanosecond resolution); only the table rounds.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

#: The timed stages, in the order they run.
STAGES = ("parse_s", "clusters_s", "msd_s", "total_s")


@dataclass(frozen=True)
class AnalysisBenchmark:
    """Timings (s, unrounded), throughput and peak memory of one benchmark run.

    ``result_file`` is the JSON result the end-to-end stage wrote beside the
    dump (what ``polyhpc analyze --save`` would write).
    """

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
    result_file: str = ""

    def to_dict(self) -> dict:
        """Plain-data form."""
        return asdict(self)


def _child(path: str, warmup: str, queue) -> None:
    from polyhpc.analysis import kernels
    from polyhpc.analysis.io import read_lammps_dump, read_meta
    from polyhpc.analysis.pipeline import analyze_path, ion_cluster_labels
    from polyhpc.fileio import finite_json, write_json_atomic

    analyze_path(Path(warmup))
    meta = read_meta(Path(path).parent / "meta.json")
    clock = time.perf_counter_ns
    start = clock()
    trajectory = read_lammps_dump(Path(path), meta)
    parse = clock() - start
    start = clock()
    labels, is_cation, is_anion = ion_cluster_labels(trajectory)
    kernels.cluster_populations(labels, is_cation, is_anion).mean(axis=0)
    clusters = clock() - start
    start = clock()
    for mask in (trajectory.types == meta.cation_type, trajectory.types == meta.anion_type):
        kernels.msd_fft(trajectory.positions[:, mask])
    msd = clock() - start
    del trajectory, labels
    start = clock()
    result = analyze_path(Path(path))
    result_file = Path(path).with_suffix(".json")
    write_json_atomic(result_file, finite_json(result.to_dict()))
    total = clock() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    import numba

    queue.put({"parse_s": parse * 1e-9, "clusters_s": clusters * 1e-9, "msd_s": msd * 1e-9,
               "total_s": total * 1e-9, "peak_memory_MB": peak,
               "threads": numba.get_num_threads(), "n_frames": result.n_frames,
               "result_file": str(result_file)})


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
        n_frames=figures["n_frames"], n_atoms=n_atoms, file_MB=size_MB,
        parse_s=figures["parse_s"], parse_MB_per_s=size_MB / figures["parse_s"],
        clusters_s=figures["clusters_s"],
        clusters_frames_per_s=figures["n_frames"] / figures["clusters_s"],
        msd_s=figures["msd_s"], total_s=figures["total_s"],
        peak_memory_MB=figures["peak_memory_MB"], threads=figures["threads"],
        result_file=figures["result_file"],
    )


def format_table(bench: AnalysisBenchmark) -> str:
    """Human-readable table of a benchmark."""
    rows = [
        ("trajectory", f"{bench.n_frames} frames x {bench.n_atoms} atoms, "
                       f"{bench.file_MB:.1f} MB"),
        ("parse", f"{bench.parse_s:.3g} s  ({bench.parse_MB_per_s:.0f} MB/s)"),
        ("clusters", f"{bench.clusters_s:.3g} s  ({bench.clusters_frames_per_s:.0f} frames/s)"),
        ("MSD (Li, TFSI, FFT)", f"{bench.msd_s:.3g} s"),
        ("total, file to JSON", f"{bench.total_s:.3g} s"),
        ("peak memory", f"{bench.peak_memory_MB:.0f} MB"),
        ("threads", str(bench.threads)),
    ]
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


__all__ = ["STAGES", "AnalysisBenchmark", "format_table", "run_analysis_benchmark"]
