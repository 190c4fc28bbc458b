"""gpt-nano training iterations/s and sampling throughput on one device.

The steps of ``polyhpc bench generator`` (:func:`polyhpc.generate.bench.run_generator_benchmark`:
train on the oversampled HTP-MD set exactly as ``generate train`` does, then draw unconstrained
samples in eval mode from the high-class prompt) with the device named: that function trains
on ``device: auto`` and loads the checkpoint onto the CPU, so it never samples on CUDA.
``iterations_per_s`` is the steady rate between steps; ``bench_iterations_per_s`` is what
``polyhpc bench generator`` reports (the whole loop, its one validation pass and checkpoint
included, which a short run does not amortize).
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path


def measure_generator(frame, device: str, iterations: int, n_samples: int,
                      preset: str = "gpt-nano") -> dict:
    """Train ``iterations`` steps and draw ``n_samples`` samples on ``device`` (cpu or cuda)."""
    import torch

    from polyhpc.generate.config import GeneratorConfig
    from polyhpc.generate.sample import sample_smiles
    from polyhpc.generate.train import load_checkpoint, train_generator

    base = GeneratorConfig()
    train = dataclasses.replace(base.train, preset=preset, max_iters=iterations,
                                eval_interval=max(iterations, 1),
                                checkpoint_interval=max(iterations, 1), device=device)
    config = dataclasses.replace(base, train=train)
    stamps: list[float] = []  # after each step; the loss is a float, so CUDA has synchronized
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "model.pt"
        report = train_generator(frame, config, out,
                                 on_step=lambda i, loss: stamps.append(time.perf_counter()))
        state = load_checkpoint(out, device)
    # steady rate: from the end of the first tenth (warm-up, CUDA kernel selection) to the
    # last step, leaving out the one validation pass and checkpoint that bench generator times
    first = min(len(stamps) - 1, max(1, len(stamps) // 10))
    steady = (len(stamps) - 1 - first) / (stamps[-1] - stamps[first]) \
        if len(stamps) > first + 1 and stamps[-1] > stamps[first] else None
    generator = torch.Generator(device=device).manual_seed(0)
    sample_smiles(state.model, state.tokenizer, "11111", 8, generator=generator)  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    sample_smiles(state.model, state.tokenizer, "11111", n_samples, generator=generator)
    if device == "cuda":
        torch.cuda.synchronize()
    sample_s = time.perf_counter() - start
    return {"device": device, "preset": preset, "iterations": iterations,
            "batch_size": train.batch_size, "threads": torch.get_num_threads(),
            "train_s": round(report.wall_s, 2),
            "iterations_per_s": round(steady, 2) if steady else None,
            "bench_iterations_per_s": round(report.iterations_per_s, 2),
            "projected_6000_s": round(6000 / steady, 1) if steady else None,
            "n_samples": n_samples, "sample_s": round(sample_s, 3),
            "samples_per_s": round(n_samples / sample_s, 1),
            "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None}
