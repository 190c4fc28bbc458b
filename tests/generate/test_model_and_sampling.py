import json

import pytest
import torch
from click.testing import CliRunner

from polyhpc.cli import main
from polyhpc.errors import ModelError
from polyhpc.generate.dataset import SequenceBatches
from polyhpc.generate.model import GPT, GPTConfig
from polyhpc.generate.sample import SampleConfig, generate_candidates, sample_smiles
from polyhpc.generate.tokenizer import SmilesTokenizer
from polyhpc.generate.train import TrainConfig, run_training

TINY = {1: ["*CCO*", "*OCC*", "*CC(C)O*", "*CC(C)O*", "*CCCCCCCCCCCCCO*", "*CC(F)O*"],
        0: ["*CCN(C)CCCCS*"]}


@pytest.fixture(scope="module")
def overfit():
    """A small GPT trained to memorize a handful of sequences."""
    torch.manual_seed(0)
    smiles = [s for label in TINY for s in TINY[label]]
    labels = [label for label in TINY for _ in TINY[label]]
    tokenizer = SmilesTokenizer.from_corpus(smiles)
    model = GPT(GPTConfig(len(tokenizer), block_size=32, n_layer=2, n_head=2, n_embd=32,
                          dropout=0.0))
    batches = SequenceBatches(tokenizer, smiles, labels, 5, 32)
    config = TrainConfig(max_iters=400, batch_size=32, learning_rate=3e-3)
    loss = run_training(model, batches, config, torch.device("cpu"))
    return model, tokenizer, loss


def test_a_model_overfit_on_a_tiny_set_reproduces_its_sequences(overfit):
    model, tokenizer, loss = overfit
    assert loss < 0.5
    generator = torch.Generator().manual_seed(1)
    low = sample_smiles(model, tokenizer, "00000", 20, temperature=0.01, generator=generator)
    assert set(low) == {"*CCN(C)CCCCS*"}
    high = sample_smiles(model, tokenizer, "11111", 200, temperature=1.0, generator=generator)
    # at temperature 1 a memorizing model still mixes its sequences now and then (how often
    # depends on the platform's float kernels): nearly every draw is one it learned, and most
    # of the class's sequences come back
    learned = [s for s in high if s in TINY[1]]
    assert len(learned) >= 0.9 * len(high)
    assert len(set(learned)) >= 4


def test_sampling_respects_the_length_limit_and_never_returns_known_or_duplicate_polymers(
        overfit):
    model, tokenizer, _ = overfit
    known_exact = {"*CCO*", "*CC(F)O*"}
    known_canonical = {"*CCO*", "*CC(F)O*"}
    # the model writes fewer than ten novel short polymers: the draw budget runs out
    report = generate_candidates(model, tokenizer, known_exact, known_canonical,
                                 SampleConfig(n=10, max_tokens=10, batch_size=64, max_draws=640))
    assert not report.reached and report.draws == 640
    canonicals = [c.canonical for c in report.candidates]
    assert "*CC(C)O*" in canonicals and len(set(canonicals)) == len(canonicals)
    assert not set(canonicals) & (known_canonical | {"*CCO*"})  # *OCC* is PEO too
    assert all(c.n_tokens <= 10 for c in report.candidates)
    assert report.rejected["in training set (exact string)"] > 0  # *CCO*, *CC(F)O*
    assert report.rejected["in training set (same polymer)"] > 0  # *OCC* is PEO
    assert report.rejected["too long"] > 0  # *CCCCCCCCCCCCCO*
    assert report.rejected["duplicate in this batch (exact string)"] > 0  # *CC(C)O* again
    assert report.draws == sum(report.rejected.values()) + len(report.candidates)


def test_cli_trains_and_resumes_saying_from_where(tmp_path):
    runner = CliRunner()
    out = tmp_path / "model.pt"
    config = tmp_path / "gen.yaml"
    config.write_text("data:\n  extra: [{smiles: '*CCO*', copies: 100, label: 1}]\n"
                      "train:\n  max_iters: 20\n  checkpoint_interval: 10\n  eval_interval: 10\n")
    result = runner.invoke(main, ["generate", "train", "--config", str(config), "--out", str(out),
                                  "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["units"]["wall_s"] == "s" and report["units"]["iterations_per_s"] == "it/s"
    assert report["iterations"] == 20 and report["data_summary"]["extra_copies"] == {"*CCO*": 100}
    assert report["resumed_from"] is None and report["start_iteration"] == 0
    assert (tmp_path / "model-10.pt").is_file() and (tmp_path / "model-20.pt").is_file()
    result = runner.invoke(main, ["generate", "train", "--config", str(config), "--out", str(out),
                                  "--resume", "--iters", "30"])
    assert result.exit_code == 0, result.output
    assert f"resumed from {out} at iteration 20" in result.output
    state = torch.load(out, weights_only=True)
    assert state["iteration"] == 30 and len(state["history"]) == 3


def _save_overfit(model, tokenizer, path):
    from polyhpc.generate.train import Checkpoint, GeneratorConfig, save_checkpoint

    # PEO is one of the training units, as the paper's extra unit
    save_checkpoint(path, Checkpoint(model, tokenizer, GeneratorConfig(), 400, None, None, [],
                                     {"extra_copies": {"*CCO*": 1}}))


def test_cli_sample_reports_draws_per_candidate(overfit, tmp_path):
    model, tokenizer, _ = overfit
    _save_overfit(model, tokenizer, tmp_path / "m.pt")
    result = CliRunner().invoke(main, ["generate", "sample", str(tmp_path / "m.pt"), "-n", "2",
                                       "--eval", "--max-draws", "500", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["units"] == {}  # counts and shares only
    # PEO (written *CCO* or *OCC*) is known; what is left are novel short units
    canonicals = [c["canonical"] for c in report["candidates"]]
    assert len(set(canonicals)) == 2 and "*CCO*" not in canonicals
    assert all(c["n_tokens"] <= 10 for c in report["candidates"])
    assert report["accepted"] == 2 and report["reached"]
    assert report["draws_per_candidate"] == pytest.approx(report["draws"] / 2)
    assert report["draws"] == sum(report["rejected"].values()) + 2
    text = CliRunner().invoke(main, ["generate", "sample", str(tmp_path / "m.pt"), "-n", "2",
                                     "--eval", "--max-draws", "500"]).output
    assert f"# 2 candidates from {report['draws']} draws " \
           f"({report['draws'] / 2:.1f} draws per candidate)" in text


def test_cli_sample_out_of_draws_exits_2_and_keeps_what_it_found(overfit, tmp_path):
    model, tokenizer, _ = overfit
    _save_overfit(model, tokenizer, tmp_path / "m.pt")
    # twenty novel short units are asked for; the model knows seven units in all
    result = CliRunner().invoke(main, ["generate", "sample", str(tmp_path / "m.pt"), "-n", "20",
                                       "--max-draws", "300", "--out", str(tmp_path / "c.csv")])
    assert result.exit_code == 2
    report = json.loads((tmp_path / "c.json").read_text())
    found = report["accepted"]
    assert report["draws"] == 300 and not report["reached"] and 1 <= found < 20
    assert result.output.strip().splitlines()[-1] == \
        f"error: only {found} of 20 candidates after 300 draws (--max-draws); results so far " \
        "are shown above"
    assert len((tmp_path / "c.csv").read_text().splitlines()) == found + 1  # and a header


@pytest.mark.parametrize("args, message", [
    (["generate", "train", "--out", "x.pt", "--config", "{cfg}"],
     "train.preset: 'gpt-huge' is not one of"),
    (["generate", "sample", "{bad}"], "is corrupt or not a torch file"),
])
def test_bad_generator_input_gives_one_line_errors(tmp_path, args, message):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("train:\n  preset: gpt-huge\n")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    args = [a.format(cfg=cfg, bad=bad) for a in args]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0]


def test_unknown_preset_and_vocabulary_mismatch_are_model_errors(tmp_path):
    import pandas as pd

    from polyhpc.generate.config import ExtraUnits, TrainingSetConfig
    from polyhpc.generate.train import GeneratorConfig, train_generator

    with pytest.raises(ModelError, match="unknown model preset 'gpt-huge'"):
        GPTConfig.from_preset("gpt-huge", 10)
    frame = pd.DataFrame({"smiles": ["*CCO*", "*CCN*", "*CCS*", "*CC(F)O*"] * 5,
                          "conductivity_mS_per_cm": [0.1, 0.2, 0.3, 0.4] * 5})
    config = GeneratorConfig(data=TrainingSetConfig(extra=(), high_fraction=0.25),
                             train=TrainConfig(max_iters=2, checkpoint_interval=1))
    train_generator(frame, config, tmp_path / "m.pt")
    config = GeneratorConfig(data=TrainingSetConfig(extra=(ExtraUnits("*CC(Cl)O*", 3, 1),),
                                                    high_fraction=0.25),
                             train=TrainConfig(max_iters=2))
    with pytest.raises(ModelError, match="vocabulary mismatch: .*Cl"):
        train_generator(frame, config, tmp_path / "n.pt", init=tmp_path / "m.pt")
