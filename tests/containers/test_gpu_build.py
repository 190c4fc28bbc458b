"""The GPU measurement's scripts: argument checks, CUDA absent, shellcheck, and the CPU dry run.

The dry run (``analysis/gpu/measure.sh --dry-run``) is the measurement end to end on a smoke
system with the venv's CPU ``lmp``: its rates are checked against each LAMMPS log's own
``Performance`` line, and ``polyhpc campaign plan`` must read the report as a measured rate.
"""

import json
import os
import re
import subprocess

import pytest

from tests.containers.defs import CONTAINERS, ROOT
from tests.containers.test_definitions import _shellcheck

MEASURE = ROOT / "analysis" / "gpu" / "measure.sh"
#: What `polyhpc bench md` writes (polyhpc/md/bench.py run_md_benchmark) for a built system.
BENCH_MD_KEYS = {"smiles", "steps", "threads", "protocol", "respa", "build_s", "system",
                 "data_file", "polyhpc", "by_hand"}


def run(script, *args, env=None):
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True,
                          timeout=60, env=env)


@pytest.mark.parametrize(("args", "message"), [
    (("sm_70", "src.tar.xz", "/out"), "ARCH 'sm_70' is not sm_90 (H100/H200) or sm_80 (A100)"),
    (("sm_90", "src.tar.xz", "/out", "0"), "JOBS '0' is not a positive integer"),
    (("sm_90", "/nonexistent/src.tar.xz", "/out"),
     "SRC_TARBALL /nonexistent/src.tar.xz is missing"),
    (("sm_90",), "usage: build-lammps-gpu-package.sh [--configure-only] ARCH SRC_TARBALL"),
])
def test_gpu_package_build_refuses_bad_arguments_with_one_line(args, message):
    done = run(CONTAINERS / "build-lammps-gpu-package.sh", *args)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("build-lammps-gpu-package.sh: ")
    assert message in done.stderr and done.stderr.count("\n") == 1


def test_gpu_package_configure_stops_with_one_line_when_nvcc_is_not_on_path(tmp_path):
    tarball = tmp_path / "lammps-gpu-src.tar.xz"
    tarball.write_bytes(b"")
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    env.pop("CUDA_HOME", None)
    done = run(CONTAINERS / "build-lammps-gpu-package.sh", "sm_90", str(tarball),
               str(tmp_path / "out"), env=env)
    assert done.returncode == 2
    assert done.stderr == ("build-lammps-gpu-package.sh: nvcc not found on PATH: the GPU package "
                           "(GPU_API=cuda) needs the CUDA toolkit (add its bin/ to PATH)\n")
    assert not (tmp_path / "out").exists()  # stopped before unpacking or configuring


def test_make_gpu_source_refuses_an_output_that_is_not_a_tar_xz(tmp_path):
    done = run(CONTAINERS / "make-lammps-gpu-source.sh", str(tmp_path / "src.tgz"))
    assert done.returncode == 2
    assert done.stderr == (f"make-lammps-gpu-source.sh: OUT_TARBALL '{tmp_path / 'src.tgz'}' "
                           "must end in .tar.xz\n")


def test_measure_script_passes_shellcheck_and_names_its_commands():
    done = subprocess.run([_shellcheck(), "-x", str(MEASURE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    refused = run(MEASURE, "measure")
    assert refused.returncode == 2
    assert refused.stderr == ("measure.sh: unknown command 'measure' (prepare, run, --dry-run)\n")


def test_measure_run_needs_out(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    done = run(MEASURE, "run", str(tmp_path), env=env)
    assert done.returncode == 2
    assert "OUT is not set" in done.stderr


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-dry-run")
    done = subprocess.run(["bash", str(MEASURE), "--dry-run", str(out)], capture_output=True,
                          text=True, timeout=1200, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return out, json.loads((out / "report.json").read_text())


def _performance(log):
    """ns/day of a LAMMPS log's Performance line (LAMMPS's own figure)."""
    return float(re.findall(r"Performance:\s+([0-9.eE+-]+)\s+ns/day", log.read_text())[-1])


@pytest.mark.lammps
def test_dry_run_report_is_a_bench_md_report_with_the_best_per_run_rate(dry_run):
    out, report = dry_run
    assert BENCH_MD_KEYS <= set(report)
    assert report["mode"] == "cpu-dry-run" and report["gpu"] is None
    data = (out / "carry" / "md" / "relaxed.lmp").read_text()
    atoms = int(re.search(r"^\s*(\d+)\s+atoms\s*$", data, re.MULTILINE).group(1))
    assert report["system"]["atoms"] == atoms
    plain = {p["runs"]: p for p in report["packing"] if not p["mps"]}
    assert sorted(plain) == [1, 2, 4, 8]
    for runs, packing in plain.items():
        assert packing["ok"], packing
        folder = out / "work" / f"runs{runs}-plain"
        logs = [_performance(folder / f"run{i}" / "production.log") for i in range(runs)]
        assert packing["per_run_ns_per_day"] == pytest.approx(logs)
        assert packing["aggregate_ns_per_day"] == pytest.approx(sum(logs), rel=1e-3)
        assert "-sf" not in packing["command"]  # the CPU lmp, no GPU flags
    rates = [r for p in plain.values() for r in p["per_run_ns_per_day"]]
    assert report["polyhpc"]["ok"] and report["polyhpc"]["ns_per_day"] == max(rates)
    # MPS packings are in the table, skipped on a CPU
    mps = [p for p in report["packing"] if p["mps"]]
    assert sorted(p["runs"] for p in mps) == [1, 2, 4, 8]
    assert all(p["skipped"] == "cpu dry run: no MPS" for p in mps)
    # the segment is polyhpc's production template at the gpu-package profile's time step
    production = (out / "carry" / "md" / "production.in").read_text()
    assert "run             50 upto" in production  # 0.1 ps at 2 fs
    assert "timer           timeout 20" in production
    assert report["segment"]["lmp_args"] == ["-sf", "gpu", "-pk", "gpu", "{gpus}"]
    assert report["segment"]["lmp_args_used"] == []
    assert report["generator"]["cpu"]["iterations_per_s"] > 0
    assert report["generator"]["cuda"]["skipped"] == "cpu dry run"
    assert report["by_hand"]["ok"] and report["by_hand"]["ns_per_day"] == pytest.approx(
        _performance(out / "work" / "by-hand" / "bench-hand.log"))
    assert "not an equilibrated state" in report["state"]["note"]


@pytest.mark.lammps
def test_campaign_plan_reads_the_dry_run_report_as_its_rate(dry_run):
    out, report = dry_run
    polyhpc = ROOT / ".venv" / "bin" / "polyhpc"
    done = subprocess.run([str(polyhpc), "campaign", "plan", "paper", "--rate",
                           str(out / "report.json"), "--json"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["ns_per_day_per_run"] == pytest.approx(report["polyhpc"]["ns_per_day"], rel=1e-2)
    # 11.05 ns per replica (6.05 equilibration + 5 production) at that rate
    assert plan["hours_per_replica"] == pytest.approx(
        11.05 / report["polyhpc"]["ns_per_day"] * 24, rel=1e-2)
