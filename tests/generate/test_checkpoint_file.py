"""Generator checkpoints are data only: crafted, damaged and old files are refused in one line.

Issue 21: a checkpoint loaded with ``torch.load(weights_only=False)`` ran the
code a crafted file names (section 1); damaged metadata gave tracebacks
(section 3); a reordered vocabulary sampled garbage with exit 0 (section 4).
"""

import pickle

import pytest
import torch
from click.testing import CliRunner

from polyhpc.cli import main
from polyhpc.errors import ModelError
from polyhpc.generate.config import GeneratorConfig
from polyhpc.generate.model import GPT, GPTConfig
from polyhpc.generate.tokenizer import SmilesTokenizer
from polyhpc.generate.train import Checkpoint, load_checkpoint, save_checkpoint

UNITS = ["*CCO*", "*CCN*", "*CC(F)O*", "*CCS*"]


class _Payload:
    """Unpickling this creates ``marker``: what a crafted model file could do instead."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


def _only_error_line(result, fragment: str) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def checkpoint(tmp_path):
    """A small valid checkpoint (random weights) and its payload as torch reads it."""
    torch.manual_seed(0)
    tokenizer = SmilesTokenizer.from_corpus(UNITS)
    model = GPT(GPTConfig(len(tokenizer), block_size=16, n_layer=1, n_head=1, n_embd=8))
    path = tmp_path / "model.pt"
    save_checkpoint(path, Checkpoint(model, tokenizer, GeneratorConfig(), 5, None, None, [],
                                     {"extra_copies": {"*CCO*": 4}}))
    return path, torch.load(path, weights_only=True)


def _crafted(tmp_path, checkpoint, marker):
    """A checkpoint of the current format with the payload among its metadata."""
    _, payload = checkpoint
    evil = tmp_path / "evil.pt"
    torch.save({**payload, "data_summary": {"note": _Payload(marker)}}, evil)
    return evil


@pytest.mark.parametrize("command", [
    ["generate", "sample", "{evil}"],
    ["generate", "metrics", "{evil}"],
    ["generate", "convert", "{evil}", "{tmp}/new.pt"],
    ["generate", "train", "--out", "{evil}", "--resume", "--iters", "1"],
    ["generate", "train", "--out", "{tmp}/new.pt", "--init", "{evil}", "--iters", "1"],
])
def test_a_crafted_checkpoint_is_refused_and_its_payload_never_runs(tmp_path, checkpoint,
                                                                   command):
    marker = tmp_path / "payload-ran"
    evil = _crafted(tmp_path, checkpoint, marker)
    args = [a.format(evil=evil, tmp=tmp_path) for a in command]
    line = _only_error_line(CliRunner().invoke(main, args), "holds a Python object")
    assert "(exec)" in line and "could run code" in line
    assert not marker.exists()
    assert not (tmp_path / "new.pt").exists()
    # the payload is live: the loader polyhpc used before (weights_only=False) runs it
    torch.load(evil, weights_only=False)
    assert marker.exists()


def test_a_crafted_plain_pickle_is_refused_and_its_payload_never_runs(tmp_path):
    marker = tmp_path / "payload-ran"
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"format": "polyhpc-generator-3", "x": _Payload(marker)}))
    _only_error_line(CliRunner().invoke(main, ["generate", "sample", str(evil)]),
                     "is corrupt or not a torch file")
    assert not marker.exists()


def test_a_reordered_vocabulary_is_refused_instead_of_sampling_garbage(tmp_path, checkpoint):
    path, payload = checkpoint
    vocabulary = payload["vocabulary"]
    # swap two SMILES tokens: same length, same weights, every id now spells another atom
    i, j = vocabulary.index("C"), vocabulary.index("O")
    vocabulary[i], vocabulary[j] = vocabulary[j], vocabulary[i]
    torch.save(payload, path)
    with pytest.raises(ModelError, match="do not match the signature it was saved with"):
        load_checkpoint(path)
    _only_error_line(CliRunner().invoke(main, ["generate", "sample", str(path), "-n", "1"]),
                     "refusing to use it")


def _edit(payload: dict, edit: str) -> dict:
    payload = dict(payload)
    if edit == "vocabulary shorter":
        payload["vocabulary"] = payload["vocabulary"][:-1]
    elif edit == "vocabulary longer":
        payload["vocabulary"] = [*payload["vocabulary"], "Br"]
    elif edit == "vocabulary missing":
        del payload["vocabulary"]
    elif edit == "iteration a string":
        payload["iteration"] = "7"
    elif edit == "vocabulary not a list":
        payload["vocabulary"] = 12
    elif edit == "embedding missing":
        payload["state_dict"] = {k: v for k, v in payload["state_dict"].items()
                                 if k != "transformer.wte.weight"}
    elif edit == "config invalid":
        payload["config"] = {"train": {"preset": "gpt-huge"}}
    elif edit == "extra copies not a mapping":
        payload["data_summary"] = {"extra_copies": 3}
    elif edit == "optimizer of another model":
        payload["optimizer"] = {"state": {}, "param_groups": [{"params": [0]}]}
    return payload


@pytest.mark.parametrize("edit, message", [
    ("vocabulary shorter", "its vocabulary has 11 tokens but its embedding has 12 rows"),
    ("vocabulary longer", "its vocabulary has 13 tokens but its embedding has 12 rows"),
    ("vocabulary missing", "lacks its vocabulary; the file is damaged"),
    ("iteration a string", "iteration is str '7', expected a whole number"),
    ("vocabulary not a list", "vocabulary is int 12, expected a list"),
    ("embedding missing", "has no token embedding (transformer.wte.weight)"),
    ("config invalid", "its training config is invalid: train.preset: 'gpt-huge'"),
    ("extra copies not a mapping", "data_summary.extra_copies is int 3, expected a mapping"),
    ("optimizer of another model", "its optimizer state does not fit the model"),
])
def test_a_damaged_checkpoint_gives_one_line_naming_what_is_wrong(tmp_path, checkpoint, edit,
                                                                 message):
    path, payload = checkpoint
    assert len(payload["vocabulary"]) == 12  # <pad> <eos>, 2 classes, ( ) * C F N O S
    torch.save(_edit(payload, edit), path)
    _only_error_line(CliRunner().invoke(main, ["generate", "sample", str(path)]), message)


def _old_format(checkpoint, tmp_path, version: int):
    """The file polyhpc wrote before format 3: no signature; format 1 had no length field."""
    _, payload = checkpoint
    old = {k: v for k, v in payload.items() if k != "signature"}
    old["format"] = f"polyhpc-generator-{version}"
    if version == 1:
        old["model_config"] = {k: v for k, v in old["model_config"].items()
                               if k != "length_embedding"}
    path = tmp_path / f"v{version}.pt"
    torch.save(old, path)
    return path


@pytest.mark.parametrize("version", [1, 2])
def test_an_old_checkpoint_is_refused_with_the_command_that_converts_it(tmp_path, checkpoint,
                                                                       version):
    old = _old_format(checkpoint, tmp_path, version)
    _only_error_line(CliRunner().invoke(main, ["generate", "sample", str(old)]),
                     f"{old} has the old checkpoint format 'polyhpc-generator-{version}' (no "
                     f"vocabulary signature); convert it with `polyhpc generate convert {old} "
                     "NEW.pt` or retrain")
    new = tmp_path / "new.pt"
    result = CliRunner().invoke(main, ["generate", "convert", str(old), str(new)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (f"converted {old} (iteration 5, 12 tokens) to {new} "
                                     "(polyhpc-generator-3)")
    state, payload = load_checkpoint(new), checkpoint[1]
    assert state.iteration == 5 and state.tokenizer.itos == payload["vocabulary"]
    assert not state.model.length_conditioned
    for name, tensor in state.model.state_dict().items():
        assert torch.equal(tensor, payload["state_dict"][name]), name
    assert state.data_summary == {"extra_copies": {"*CCO*": 4}}


def test_a_checkpoint_of_a_newer_polyhpc_asks_for_an_upgrade(tmp_path, checkpoint):
    path, payload = checkpoint
    torch.save({**payload, "format": "polyhpc-generator-9"}, path)
    result = CliRunner().invoke(main, ["generate", "metrics", str(path)])
    assert result.output.strip() == (
        f"error: {path} has checkpoint format 'polyhpc-generator-9'; this polyhpc reads "
        "polyhpc-generator-3 (upgrade polyhpc or retrain)")
    assert result.exit_code == 2


@pytest.mark.parametrize(("extra", "fragment"), [
    # one entry above the field's range: the config refuses it as it is read
    ("[{smiles: '*CCO*', copies: 1000000000000, label: 1}]",
     "gen.yaml: data.extra[0].copies: 1000000000000 is above the maximum 1000000"),
    # entries each in range whose sum is not: refused before the training set is built
    ("[{smiles: '*CCO*', copies: 600000, label: 1}, {smiles: '*CCN*', copies: 600000, label: 1}]",
     "data.extra[1].copies: 600000 would bring the extra copies to 1200000; at most 1,000,000 "
     "in all"),
])
def test_training_refuses_a_huge_number_of_extra_copies_before_any_work(tmp_path, extra,
                                                                        fragment):
    config = tmp_path / "gen.yaml"
    config.write_text(f"data:\n  extra: {extra}\ntrain:\n  max_iters: 1\n")
    out = tmp_path / "model.pt"
    result = CliRunner().invoke(main, ["generate", "train", "--config", str(config), "--out",
                                       str(out)])
    _only_error_line(result, fragment)
    assert not out.exists()
