"""Benchmark of generator training and sampling (``polyhpc bench generator``)."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from polyhpc.generate.sample import sample_smiles
from polyhpc.generate.train import GeneratorConfig, load_checkpoint, train_generator


@dataclass(frozen=True)
class GeneratorBenchmark:
    """Training and sampling speed of one preset."""

    preset: str
    iterations: int
    batch_size: int
    threads: int
    train_s: float
    iterations_per_s: float
    projected_6000_s: float
    n_samples: int
    sample_s: float
    samples_per_s: float

    def to_dict(self) -> dict:
        """Plain-data form."""
        return asdict(self)


def run_generator_benchmark(frame, iterations: int = 6000, preset: str = "gpt-nano",
                            n_samples: int = 500, on_step=None) -> GeneratorBenchmark:
    """Time ``iterations`` training steps at batch 64 and ``n_samples`` unconstrained samples.

    Sampling runs in eval mode at temperature 1 with the high-class prompt and
    no length limit (every row runs to its end token).
    """
    base = GeneratorConfig()
    train = dataclasses.replace(base.train, preset=preset, max_iters=iterations,
                                eval_interval=max(iterations, 1),
                                checkpoint_interval=max(iterations, 1))
    config = dataclasses.replace(base, train=train)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "model.pt"
        report = train_generator(frame, config, out, on_step=on_step)
        state = load_checkpoint(out)
    generator = torch.Generator().manual_seed(0)
    sample_smiles(state.model, state.tokenizer, "11111", 8, generator=generator)  # warm-up
    start = time.perf_counter()
    sample_smiles(state.model, state.tokenizer, "11111", n_samples, generator=generator)
    sample_s = time.perf_counter() - start
    return GeneratorBenchmark(
        preset=preset, iterations=iterations, batch_size=train.batch_size,
        threads=torch.get_num_threads(), train_s=round(report.wall_s, 2),
        iterations_per_s=round(report.iterations_per_s, 2),
        projected_6000_s=round(6000 / report.iterations_per_s, 1),
        n_samples=n_samples, sample_s=round(sample_s, 3),
        samples_per_s=round(n_samples / sample_s, 1))
