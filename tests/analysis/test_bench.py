import json
import math
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from polyhpc.analysis.bench import STAGES, AnalysisBenchmark, format_table
from polyhpc.analysis.pipeline import analyze_path
from polyhpc.analysis.results import PROPERTIES
from polyhpc.cli import main


def test_bench_analysis_reports_every_stage_for_the_requested_size(tmp_path):
    result = CliRunner().invoke(main, ["bench", "analysis", "--frames", "30", "--atoms", "400",
                                       "--workdir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report.pop("units") == {
        "file_MB": "MB", "parse_s": "s", "parse_MB_per_s": "MB/s", "clusters_s": "s",
        "clusters_frames_per_s": "frames/s", "msd_s": "s", "total_s": "s", "peak_memory_MB": "MB"}
    dump = tmp_path / "synthetic-30x400" / "traj.lammpstrj"
    assert report["n_frames"] == 30 and report["n_atoms"] == 400
    assert report["file_MB"] == os.path.getsize(dump) / 1e6  # unrounded
    # every stage is timed with nanosecond resolution: none rounds to 0.0 s
    for stage in STAGES:
        assert isinstance(report[stage], float) and 0 < report[stage] < 600, stage
    assert report["parse_MB_per_s"] == pytest.approx(report["file_MB"] / report["parse_s"])
    assert report["clusters_frames_per_s"] == pytest.approx(30 / report["clusters_s"])
    table = format_table(AnalysisBenchmark(**report))
    assert [line[:19].strip() for line in table.splitlines()] == [
        "trajectory", "parse", "clusters", "MSD (Li, TFSI, FFT)", "total, file to JSON",
        "peak memory", "threads"]
    # the end-to-end stage wrote what a direct analysis of the same dump gives
    written = json.loads(Path(report["result_file"]).read_text())
    direct = analyze_path(dump)
    assert written["n_frames"] == 30 and written["n_cations"] == direct.n_cations == 3
    for key in PROPERTIES:
        value = getattr(direct, key)
        if math.isnan(value):
            assert written[key] is None, key
        else:
            assert written[key] == pytest.approx(value, rel=1e-12), key


def test_bench_analysis_refuses_sizes_too_small_to_measure(tmp_path):
    from polyhpc.analysis.bench import run_analysis_benchmark
    from polyhpc.errors import PolyhpcError

    for frames, atoms in [(4, 6440), (2500, 99)]:
        with pytest.raises(PolyhpcError, match="benchmark needs >= 5 frames and >= 100 atoms, "
                                               f"got {frames} frames of {atoms} atoms"):
            run_analysis_benchmark(tmp_path, frames, atoms)
    assert not any(tmp_path.iterdir())
