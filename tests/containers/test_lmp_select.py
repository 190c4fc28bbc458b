"""The GPU image's `lmp` picks the LAMMPS build for the GPU it sees.

containers/lmp-select.sh runs here for real, on a copy of the image's /opt/lammps layout
whose builds are small scripts that name themselves. Only nvidia-smi, the CUDA seam that
cannot run on these machines, is replaced: a script that answers
`--query-gpu=compute_cap --format=csv,noheader [--id=N]` from FAKE_GPUS ("8.0,9.0" = GPU 0
is an A100, GPU 1 an H100).
"""

import os
import subprocess

import pytest

from tests.containers.defs import CONTAINERS

SELECTOR = CONTAINERS / "lmp-select.sh"

FAKE_NVIDIA_SMI = """#!/bin/bash
IFS=, read -r -a caps <<< "$FAKE_GPUS"
id=""
for arg in "$@"; do case "$arg" in --id=*) id=${arg#--id=} ;; esac; done
if [ -n "$id" ]; then echo "${caps[$id]}"; else printf '%s\\n' "${caps[@]}"; fi
"""

FAKE_LMP = """#!/bin/bash
echo "{variant} $* LD_LIBRARY_PATH=${{LD_LIBRARY_PATH:-}}"
"""


@pytest.fixture
def image(tmp_path):
    root = tmp_path / "opt-lammps"
    for variant in ("kokkos-sm80", "kokkos-sm90", "gpu"):
        binary = root / variant / "bin" / "lmp"
        binary.parent.mkdir(parents=True)
        binary.write_text(FAKE_LMP.format(variant=variant))
        binary.chmod(0o755)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text(FAKE_NVIDIA_SMI)
    smi.chmod(0o755)
    return root, bin_dir


def run(image, *args, gpus=None, **env):
    root, bin_dir = image
    environment = {"PATH": os.environ["PATH"], "POLYHPC_LAMMPS_ROOT": str(root), **env}
    if gpus is not None:
        environment["PATH"] = f"{bin_dir}:{environment['PATH']}"
        environment["FAKE_GPUS"] = gpus
    return subprocess.run(["bash", str(SELECTOR), *args], env=environment,
                          capture_output=True, text=True)


@pytest.mark.parametrize(("gpus", "variant"), [("8.0", "kokkos-sm80"), ("8.6", "kokkos-sm80"),
                                               ("8.9", "kokkos-sm80"), ("9.0", "kokkos-sm90")])
def test_kokkos_build_follows_the_compute_capability_major(image, gpus, variant):
    done = run(image, "-k", "on", "g", "1", "-sf", "kk", "-in", "in.lmp", gpus=gpus)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:8] == [variant, "-k", "on", "g", "1", "-sf", "kk", "-in"]


def test_the_gpu_a_worker_was_given_decides_not_gpu_zero(image):
    # a Parsl worker pinned to GPU 1 (an H100) on a node whose GPU 0 is an A100
    done = run(image, "-in", "in.lmp", gpus="8.0,9.0", CUDA_VISIBLE_DEVICES="1,0")
    assert done.stdout.split()[0] == "kokkos-sm90"
    done = run(image, "-in", "in.lmp", gpus="8.0,9.0")
    assert done.stdout.split()[0] == "kokkos-sm80"


@pytest.mark.parametrize("flags", [["-sf", "gpu", "-pk", "gpu", "2"], ["-suffix", "gpu"],
                                   ["-package", "gpu", "1"]])
def test_gpu_package_flags_select_the_gpu_package_build(image, flags):
    done = run(image, *flags, "-in", "in.lmp", gpus="9.0")
    assert done.stdout.split()[0] == "gpu"


def test_help_works_without_a_gpu_through_the_driver_stub(image):
    root, _ = image
    done = run(image, "-h")
    assert done.returncode == 0
    variant, _, library_path = done.stdout.split()
    assert variant == "kokkos-sm80"
    assert library_path.startswith(f"LD_LIBRARY_PATH={root}/stubs:")


def test_a_run_without_a_gpu_is_refused_with_one_line(image):
    done = run(image, "-in", "in.lmp")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("lmp: error: no NVIDIA GPU visible")
    assert "--nv" in done.stderr and "polyhpc-cpu.sif" in done.stderr


def test_an_architecture_without_a_build_is_refused(image):
    done = run(image, "-in", "in.lmp", gpus="12.0")
    assert done.returncode == 2
    assert done.stderr.startswith("lmp: error: GPU compute capability 12.0 has no KOKKOS build")


def test_variant_override_and_its_validation(image):
    done = run(image, "-in", "x", POLYHPC_LMP_VARIANT="kokkos-sm90")
    assert done.stdout.split()[0] == "kokkos-sm90"
    done = run(image, "-in", "x", POLYHPC_LMP_VARIANT="sm70")
    assert done.returncode == 2
    assert "POLYHPC_LMP_VARIANT 'sm70' is not one of" in done.stderr


def test_a_missing_gpu_package_build_is_named(image):
    root, _ = image
    (root / "gpu" / "bin" / "lmp").unlink()
    done = run(image, "-sf", "gpu", "-in", "x", gpus="8.0")
    assert done.returncode == 2
    assert f"{root}/gpu/bin/lmp is missing" in done.stderr
    assert "GPU_PACKAGE=no" in done.stderr
