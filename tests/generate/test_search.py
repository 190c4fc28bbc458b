import numpy as np
import pytest
import torch

from polyhpc.data import load_htpmd_train
from polyhpc.generate.config import ExtraUnits, TrainingSetConfig
from polyhpc.generate.metrics import TrainingReference, compute_metrics
from polyhpc.generate.sample import sample_smiles
from polyhpc.generate.search import SearchConfig, run_search
from polyhpc.generate.train import GeneratorConfig, TrainConfig, load_checkpoint

METRICS = ["validity", "uniqueness", "novelty", "synthesizability", "similarity", "diversity"]


def test_grid_search_scores_every_preset_iteration_and_temperature(tmp_path):
    frame = load_htpmd_train().iloc[:300]
    base = GeneratorConfig(data=TrainingSetConfig(extra=(ExtraUnits("*CCO*", 50, 1),)),
                           train=TrainConfig(eval_interval=10))
    search = SearchConfig(presets=("gpt-nano",), temperatures=(0.5, 1.0), max_iters=20,
                          interval=10, n_samples=16)
    table = run_search(frame, base, search, tmp_path)
    assert sorted(zip(table["iterations"], table["temperature"], strict=True)) == [
        (10, 0.5), (10, 1.0), (20, 0.5), (20, 1.0)]
    # each row scores samples of its own checkpoint at its own temperature ...
    reference = TrainingReference(frame["smiles"].tolist())
    for row in table.itertuples():
        state = load_checkpoint(tmp_path / "gpt-nano" / f"model-{row.iterations}.pt")
        assert state.iteration == row.iterations
        samples = sample_smiles(state.model, state.tokenizer, "11111", 16, row.temperature,
                                generator=torch.Generator().manual_seed(0))
        expected = compute_metrics([s or "" for s in samples], reference)
        for name in METRICS:
            assert getattr(row, name) == pytest.approx(getattr(expected, name))
        # ... and the score is the paper's: the mean of the six metrics
        assert row.score == pytest.approx(np.mean([getattr(row, m) for m in METRICS]))
    saved = (tmp_path / "search.csv").read_text().splitlines()
    assert len(saved) == 5 and saved[0].startswith("preset,iterations,temperature")
    # an interrupted search resumes: the finished preset is not retrained
    stamp = (tmp_path / "gpt-nano" / "model-20.pt").stat().st_mtime_ns
    run_search(frame, base, search, tmp_path)
    assert (tmp_path / "gpt-nano" / "model-20.pt").stat().st_mtime_ns == stamp
