import json

from click.testing import CliRunner

from polyhpc.cli import main


def test_bench_analysis_reports_every_stage_for_the_requested_size(tmp_path):
    result = CliRunner().invoke(main, ["bench", "analysis", "--frames", "30", "--atoms", "400",
                                       "--workdir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["n_frames"] == 30 and report["n_atoms"] == 400
    for key in ["parse_s", "clusters_s", "msd_s", "total_s", "peak_memory_MB"]:
        assert report[key] > 0
    assert report["file_MB"] > 0.5
    # the analysis wrote its JSON result beside the dump
    written = json.loads((tmp_path / "synthetic-30x400" / "traj.json").read_text())
    assert written["n_frames"] == 30 and written["n_cations"] == 3


def test_bench_analysis_refuses_sizes_too_small_to_measure(tmp_path):
    result = CliRunner().invoke(main, ["bench", "analysis", "--frames", "2", "--workdir",
                                       str(tmp_path)])
    assert result.exit_code == 2
    assert "benchmark needs >= 5 frames and >= 100 atoms, got 2 frames" in result.output
