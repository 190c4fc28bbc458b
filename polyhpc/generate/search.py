"""Grid search over architecture x temperature x training iterations.

Khajeh et al. 2025, section 3.2: models are scored by the mean of the six
generation metrics. Each architecture is trained once to the largest
iteration count, with a checkpoint every ``interval`` iterations; every
checkpoint is then sampled at every temperature.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import torch

from polyhpc.generate.metrics import TrainingReference, compute_metrics
from polyhpc.generate.sample import sample_unconstrained
from polyhpc.generate.train import GeneratorConfig, load_checkpoint, train_generator


@dataclass(frozen=True)
class SearchConfig:
    """The grid."""

    presets: tuple[str, ...] = ("gpt-nano", "gpt-mini")
    temperatures: tuple[float, ...] = field(default=(0.1, 0.5, 1.0), metadata={"min": 1e-3})
    max_iters: int = field(default=6000, metadata={"min": 1})
    interval: int = field(default=1000, metadata={"min": 1})
    n_samples: int = field(default=500, metadata={"min": 2})
    prompt: str = "11111"
    seed: int = field(default=0, metadata={"min": 0})


def run_search(frame: pd.DataFrame, base: GeneratorConfig, search: SearchConfig, workdir: Path,
               on_row: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Train, sample and score every grid point; return one row per point.

    Finished architectures (their final checkpoint exists) are not retrained,
    so an interrupted search resumes where it stopped.
    """
    workdir = Path(workdir)
    reference = TrainingReference(frame["smiles"].tolist())
    rows = []
    for preset in search.presets:
        train = dataclasses.replace(base.train, preset=preset, max_iters=search.max_iters,
                                    checkpoint_interval=search.interval)
        config = dataclasses.replace(base, train=train)
        out = workdir / preset / "model.pt"
        final = out.with_name(f"model-{search.max_iters}.pt")
        if not final.is_file():
            train_generator(frame, config, out, resume=True)
        for iteration in range(search.interval, search.max_iters + 1, search.interval):
            checkpoint = load_checkpoint(out.with_name(f"model-{iteration}.pt"))
            for temperature in search.temperatures:
                generator = torch.Generator().manual_seed(search.seed)
                samples = sample_unconstrained(checkpoint.model, checkpoint.tokenizer,
                                               checkpoint.data_summary, search.prompt,
                                               search.n_samples, temperature,
                                               generator=generator)
                metrics = compute_metrics([s or "" for s in samples], reference)
                row = {"preset": preset, "iterations": iteration, "temperature": temperature,
                       **asdict(metrics)}
                rows.append(row)
                if on_row is not None:
                    on_row(row)
    table = pd.DataFrame(rows)
    table.to_csv(workdir / "search.csv", index=False)
    return table
