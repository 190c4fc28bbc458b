"""The package as a user meets it: one version, license and citation, and the notebook API.

The notebook tests call each entry point the way docs/notebook.rst shows it, on small real
inputs, and check the results against references that do not come from the code under test:
the HTP-MD reference trajectory's results, spellings of one polymer, a generator's own
training units, the HTP-MD chain and ion counts.
"""

import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import polyhpc

ROOT = Path(__file__).resolve().parents[1]
SEED_PAPER_DOI = "10.1039/d4dd00293h"


@pytest.fixture(scope="module")
def pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_version_has_one_source_that_the_build_and_the_installed_metadata_read(pyproject):
    project = pyproject["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "polyhpc.__version__"}
    # a stale install (metadata of an older version) needs `make setup` again
    assert importlib.metadata.version("polyhpc") == polyhpc.__version__
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert "version" not in citation
    # the changelog's newest section is the release this version leads to
    newest = re.search(r"^## \[(\d+\.\d+\.\d+)\]", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert newest is not None
    assert polyhpc.__version__.split(".dev")[0] == newest.group(1)


def test_the_license_text_is_the_mit_license_that_pyproject_declares_and_ships(pyproject):
    project = pyproject["project"]
    assert project["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    assert (ROOT / "polyhpc" / "py.typed").is_file()
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["polyhpc"]
    assert any(SEED_PAPER_DOI in url for url in project["urls"].values())


def test_citation_names_polyhpc_and_cites_the_seed_paper_as_its_method():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["type"] == "software"
    assert citation["title"].startswith("polyhpc") and citation["license"] == "MIT"
    (paper,) = [r for r in citation["references"] if r.get("doi") == SEED_PAPER_DOI]
    # Khajeh et al., Digital Discovery 2025, 4, 11 (the paper's own "Cite this" line)
    assert paper["authors"][0] == {"given-names": "Arash", "family-names": "Khajeh"}
    assert (paper["journal"], paper["year"], paper["volume"], paper["start"]) == (
        "Digital Discovery", 2025, 4, 11)
    assert SEED_PAPER_DOI in citation["message"]


def test_importing_the_cli_and_the_notebook_packages_loads_no_torch_rdkit_numba_or_parsl():
    code = (
        "import json, sys\n"
        "import polyhpc.cli, polyhpc.analysis, polyhpc.generate, polyhpc.md\n"
        "names = dir(polyhpc.generate) + dir(polyhpc.md) + polyhpc.analysis.__all__\n"
        "heavy = [m for m in ('torch', 'rdkit', 'numba', 'parsl') if m in sys.modules]\n"
        "print(json.dumps({'heavy': heavy, 'names': names}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    report = json.loads(done.stdout)
    assert report["heavy"] == []
    # dir() and __all__ list the exports without importing them
    assert {"load_checkpoint", "generate_candidates", "build_system", "analyze"} <= set(
        report["names"])


def test_an_unknown_name_of_a_notebook_package_is_an_import_error_naming_it():
    with pytest.raises(ImportError, match="sample_everything"):
        from polyhpc.generate import sample_everything  # noqa: F401
    with pytest.raises(AttributeError, match="'polyhpc.md' has no attribute 'build'"):
        import polyhpc.md

        polyhpc.md.__getattr__("build")


def test_analyze_export_gives_the_htpmd_reference_results_of_the_shared_trajectory(
        reference_trajectory, expected):
    from polyhpc.analysis import analyze

    result = analyze(str(reference_trajectory))
    assert result.li_diffusivity == pytest.approx(expected["li_diffusivity"], rel=1e-6)
    excerpt = json.loads((reference_trajectory / "expected-excerpt.json").read_text())
    assert result.conductivity == pytest.approx(excerpt["conductivity"], rel=1e-6)
    payload = result.to_dict()
    assert payload["units"]["conductivity"] == "S/cm"
    assert payload["units"]["li_diffusivity"] == "cm^2/s"


def test_canonical_identity_export_gives_every_spelling_of_a_polymer_one_key():
    from polyhpc.chem import canonical_repeat_unit

    # PEO translated, reversed and repeated; poly(propylene oxide) written both ways
    assert {canonical_repeat_unit(s) for s in ("*OCCOCC*", "*COC*", "*OCC*", "*CCO*")} == {
        "*CCO*"}
    assert canonical_repeat_unit("*COC*") == canonical_repeat_unit("*OCC*")
    assert canonical_repeat_unit("*OC(C)C*") == canonical_repeat_unit("*CC(C)O*") != "*CCO*"


#: A generator trained on these until it reproduces them (class 1 = high conductivity).
LEARNED = {1: ["*CCO*", "*CC(C)O*", "*CC(F)O*"], 0: ["*CCN(C)CCCCS*"]}


@pytest.fixture
def tiny_checkpoint(tmp_path):
    """A checkpoint file of a small GPT overfit on LEARNED (seconds on one thread)."""
    import torch

    from polyhpc.generate.config import GeneratorConfig
    from polyhpc.generate.dataset import SequenceBatches
    from polyhpc.generate.model import GPT, GPTConfig
    from polyhpc.generate.tokenizer import SmilesTokenizer
    from polyhpc.generate.train import Checkpoint, TrainConfig, run_training, save_checkpoint

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        smiles = [s for label in LEARNED for s in LEARNED[label]]
        labels = [label for label in LEARNED for _ in LEARNED[label]]
        tokenizer = SmilesTokenizer.from_corpus(smiles)
        model = GPT(GPTConfig(len(tokenizer), block_size=24, n_layer=1, n_head=2, n_embd=32,
                              dropout=0.0))
        batches = SequenceBatches(tokenizer, smiles, labels, 5, 24)
        loss = run_training(model, batches, TrainConfig(max_iters=150, batch_size=16,
                                                        learning_rate=1e-2),
                            torch.device("cpu"))
    finally:
        torch.set_num_threads(threads)
    assert loss < 0.5
    path = tmp_path / "model.pt"
    save_checkpoint(path, Checkpoint(model, tokenizer, GeneratorConfig(), 150, None, None, [],
                                     {}))
    return path


def test_sampling_exports_load_a_checkpoint_and_draw_candidates_from_what_it_learned(
        tiny_checkpoint):
    from polyhpc.generate import SampleConfig, generate_candidates, load_checkpoint

    state = load_checkpoint(str(tiny_checkpoint))
    report = generate_candidates(state.model, state.tokenizer, set(), set(),
                                 SampleConfig(n=3, batch_size=100, max_draws=2000))
    assert report.reached
    # the three high-class polymers it was trained on, each once
    assert sorted(c.smiles for c in report.candidates) == sorted(LEARNED[1])
    assert len({c.canonical for c in report.candidates}) == 3
    assert report.draws == len(report.candidates) + sum(report.rejected.values())


def test_md_exports_build_and_write_a_system_with_the_htpmd_chain_and_ion_counts(tmp_path):
    from polyhpc.md import BuildSettings, Protocol, build_system, load_protocol, write_system
    from polyhpc.resources import resolve_yaml

    settings = BuildSettings(backbone_atoms_above=24, chains=4, ion_pairs=2)
    built = build_system("*CCO*", settings)
    counts = write_system(str(tmp_path / "peo"), built)
    # HTP-MD's rule: more backbone atoms than the bound, DP = 24 // 3 + 1; a methyl-capped
    # PEO chain has 7 DP + 8 atoms (HTP-MD's PEO: 365 at DP 51); Li+ 1 and TFSI- 15 atoms
    dp = 24 // 3 + 1
    atoms = 4 * (7 * dp + 8) + 2 * (1 + 15)
    assert built.summary["degree_of_polymerization"] == dp
    header = (tmp_path / "peo" / "system.lmp").read_text().splitlines()[:6]
    assert f"{atoms} atoms" in header
    meta = json.loads((tmp_path / "peo" / "meta.json").read_text())
    assert meta["mol_smiles"] == "[Cu]CCO[Au]" and meta["build"]["atoms"] == atoms
    assert counts["bonds"] > 0
    assert isinstance(load_protocol(resolve_yaml("smoke", "md")), Protocol)


def test_campaign_ledger_frames_export_is_documented():
    import polyhpc.campaign

    if not hasattr(polyhpc.campaign, "ledger_frames"):
        pytest.skip("polyhpc.campaign.ledger_frames is not in this version yet")
    assert callable(polyhpc.campaign.ledger_frames)
    assert "Parameters" in (polyhpc.campaign.ledger_frames.__doc__ or "")
