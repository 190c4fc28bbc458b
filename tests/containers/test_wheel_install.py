"""A regular polyhpc wheel, installed outside the source tree, renders and loads everything.

This is how the images install polyhpc (containers/install-polyhpc.sh): a wheel, not an
editable checkout. The wheel is built from a copy of the source tree, installed with
--no-deps into a fresh virtual environment under the test's temporary folder; the project
environment's dependencies are made visible through a plain path line in a .pth file, which
adds that site-packages folder to sys.path without running its own .pth files, so the
editable polyhpc there is never imported. Everything runs from a folder outside the tree.
"""

import json
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from polyhpc.md.lammps import protocol_jobs
from polyhpc.md.protocol import load_protocol, render_input
from tests.containers.defs import ROOT

pytestmark = pytest.mark.slow

SOURCES = ["pyproject.toml", "README.md", "LICENSE", "polyhpc", "lammps_templates", "workflows"]

CHECK = textwrap.dedent("""
    import importlib, json, pkgutil, sys
    import polyhpc
    import polyhpc.workflows.sites
    from polyhpc.config import load_config
    from polyhpc.generate.train import GeneratorConfig
    from polyhpc.md.lammps import protocol_jobs
    from polyhpc.md.protocol import load_protocol, render_input
    from polyhpc.resources import shipped, templates_dir, workflows_dir

    out = {"polyhpc": polyhpc.__file__, "sys_path": sys.path}
    paper = load_protocol(shipped("md")["paper"])
    out["paper"] = {name: render_input(template, paper, seed=1000, last_polymer_type=89,
                                       average_box_A=40.0, **context)
                    for name, template, _, context in protocol_jobs(paper)}
    out["md"] = {name: load_protocol(path).name for name, path in shipped("md").items()}
    out["generator"] = {name: load_config(path, GeneratorConfig).train.max_iters
                        for name, path in shipped("generator").items()}
    campaigns = shipped("campaign")
    out["campaign"] = {}
    if campaigns:
        from polyhpc.campaign.config import load_campaign_config
        out["campaign"] = {name: type(load_campaign_config(path)).__name__
                           for name, path in campaigns.items()}
    out["sites"] = {}
    for module in pkgutil.iter_modules(polyhpc.workflows.sites.__path__):
        site = importlib.import_module(f"polyhpc.workflows.sites.{module.name}")
        out["sites"][module.name] = callable(getattr(site, "make_config", None))
    out["files"] = sorted(
        [p.name for p in templates_dir().iterdir() if p.suffix == ".j2"]
        + [p.name for p in workflows_dir().glob("*.yaml")]
        + [p.name for p in (workflows_dir() / "sites").glob("*.py")])
    print(json.dumps(out))
""")


def _run(command, cwd, **kwargs):
    done = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True,
                          **kwargs)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def fresh_install(tmp_path_factory):
    work = tmp_path_factory.mktemp("wheel")
    assert not work.resolve().is_relative_to(ROOT)
    source = work / "source"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
          "--wheel-dir", work / "dist", source], cwd=work)
    [wheel] = (work / "dist").glob("polyhpc-*.whl")
    venv = work / "fresh"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=work)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
          "--quiet", wheel], cwd=work)
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                         "['purelib'])"], cwd=work).stdout.strip())
    (purelib / "_polyhpc_test_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n")
    environment = {"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1", "HOME": str(work)}
    done = _run([python, "-c", CHECK], cwd=work, env=environment)
    return venv, purelib, json.loads(done.stdout)


def test_polyhpc_is_imported_from_the_fresh_environment_not_the_tree(fresh_install):
    venv, purelib, out = fresh_install
    assert Path(out["polyhpc"]).is_relative_to(purelib)
    assert not any(Path(p).resolve() == ROOT for p in out["sys_path"] if p)


def test_paper_inputs_rendered_from_the_wheel_equal_the_source_tree_ones(fresh_install):
    _, _, out = fresh_install
    paper = load_protocol(ROOT / "workflows" / "md-paper.yaml")
    expected = {name: render_input(template, paper, seed=1000, last_polymer_type=89,
                                   average_box_A=40.0, **context)
                for name, template, _, context in protocol_jobs(paper)}
    assert out["paper"] == expected
    assert "run_style       respa 2 4" in out["paper"]["production"]


def test_every_shipped_config_loads_from_the_wheel(fresh_install):
    _, _, out = fresh_install
    tree = ROOT / "workflows"
    md = {p.stem.removeprefix("md-") for p in tree.glob("md-*.yaml")}
    assert set(out["md"]) == md and {"paper", "gpu", "gpu-package"} <= md
    assert out["md"]["paper"] == "paper"
    assert set(out["generator"]) == {p.stem.removeprefix("generator-")
                                     for p in tree.glob("generator-*.yaml")}
    assert out["generator"]["paper"] == 6000  # the paper's 6,000 iterations
    assert set(out["campaign"]) == {p.stem.removeprefix("campaign-")
                                    for p in tree.glob("campaign-*.yaml")}
    assert set(out["campaign"].values()) <= {"CampaignConfig"}
    assert set(out["sites"]) == {p.stem for p in (tree / "sites").glob("*.py")} - {"__init__"}
    assert all(out["sites"].values()), out["sites"]


def test_the_wheel_ships_every_template_profile_config_and_site(fresh_install):
    _, _, out = fresh_install
    tree = sorted([p.name for p in (ROOT / "lammps_templates").glob("*.j2")]
                  + [p.name for p in (ROOT / "workflows").glob("*.yaml")]
                  + [p.name for p in (ROOT / "workflows" / "sites").glob("*.py")])
    assert out["files"] == tree


def test_the_console_script_runs_from_the_fresh_environment(fresh_install):
    venv, _, _ = fresh_install
    done = _run([venv / "bin" / "polyhpc", "md", "--help"], cwd=venv,
                env={"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"})
    assert "MD evaluation" in done.stdout or "Usage: polyhpc md" in done.stdout
