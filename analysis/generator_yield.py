"""Candidate yield and the six metrics of generator checkpoints (issue 15, part 1).

For each checkpoint and each sampling setting, draws candidates at the
paper's settings (prompt 11111, T = 1.0, <= 10 tokens) until 50 are found or
``--max-draws`` draws are spent, and reports draws per accepted candidate
with the rejection counts. ``--metrics`` adds the six generation metrics on
500 unconstrained samples at T = 1.0, top-k 40, in eval and dropout mode (the
settings of PolyGen's published figures); a length-conditioned model is
asked for lengths drawn from its training distribution there.

The five models of the issue-15 ablation, each ``polyhpc generate train
--config C --out runs/gen15/NAME/model.pt`` (6,000 iterations, ~5 min on an
idle core, ~15 min on a shared one):

- ``paper``: ``workflows/generator-paper.yaml``;
- ``countdown``: ``workflows/generator-paper-length.yaml``;
- ``prompt``: the paper's YAML with ``train.length_conditioning: prompt``;
- ``nopeo`` and ``countdown-nopeo``: ``paper`` and ``countdown`` with the
  PEO ``copies: 0``.

Then::

    POLYHPC_DATA=../shared/data OMP_NUM_THREADS=1 nice -n 10 \\
        .venv/bin/python analysis/generator_yield.py runs/gen15/*/model.pt \\
        --settings eval,eval-top40,dropout-top40,budget,budget-eval,dropout-stable,budget-stable \\
        --metrics --per-length --out runs/gen15/yield-all.json
    .venv/bin/python analysis/generator_yield_plot.py runs/gen15/yield-all.json yield.png
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from polyhpc.chem.stability import StabilityScreen
from polyhpc.data.htpmd import load_htpmd_train
from polyhpc.generate.metrics import TrainingReference, compute_metrics
from polyhpc.generate.sample import SampleConfig, generate_candidates, sample_unconstrained
from polyhpc.generate.tokenizer import split_smiles, unit_length
from polyhpc.generate.train import load_checkpoint

#: Named sampling settings; every one at T = 1.0, prompt 11111, <= 10 tokens.
SETTINGS = {
    "eval": {"top_k": None, "dropout": False},
    "eval-top40": {"top_k": 40, "dropout": False},
    "dropout-top40": {"top_k": 40, "dropout": True},
    "budget": {"top_k": 40, "dropout": True, "decoding": "budget"},
    "budget-eval": {"top_k": 40, "dropout": False, "decoding": "budget"},
    "dropout-stable": {"top_k": 40, "dropout": True, "stability": True},
    "budget-stable": {"top_k": 40, "dropout": True, "decoding": "budget", "stability": True},
}


def measure_yield(state, reference: TrainingReference, setting: str, max_draws: int,
                  seed: int, token_count: str = "body") -> dict:
    """Draws needed for 50 candidates (or what ``max_draws`` draws gave).

    ``token_count``: "body" keeps units of at most 10 body tokens, "with-ends" the
    authors' rule (10 with the two end markers: at most 8 body tokens).
    """
    config = SampleConfig(n=50, max_draws=max_draws, seed=seed, token_count=token_count,
                          **SETTINGS[setting])
    began = time.perf_counter()
    report = generate_candidates(state.model, state.tokenizer, reference.exact,
                                 reference.canonical, config)
    wall_s = round(time.perf_counter() - began, 1)
    quality = {}
    if report.candidates:
        # what the candidates are like: SA < 5, similarity to training, diversity, stability
        metrics = compute_metrics([c.smiles for c in report.candidates], reference)
        screen = StabilityScreen()
        quality = {"synthesizability": metrics.synthesizability,
                   "similarity": metrics.similarity, "diversity": metrics.diversity,
                   "stable_fraction": sum(screen.check(c.smiles).stable
                                          for c in report.candidates) / len(report.candidates),
                   "mean_tokens": sum(c.n_tokens for c in report.candidates)
                   / len(report.candidates)}
    return {"setting": setting, "token_count": token_count, "body_tokens": config.body_tokens,
            "accepted": len(report.candidates), "draws": report.draws,
            "reached": report.reached, "draws_per_candidate": report.draws_per_candidate,
            "rejected": report.rejected, "wall_s": wall_s, "candidate_quality": quality,
            "candidates": [c.smiles for c in report.candidates]}


def measure_metrics(state, reference: TrainingReference, dropout: bool, n: int,
                    seed: int) -> dict:
    """Six metrics of ``n`` unconstrained samples at T = 1.0, top-k 40."""
    generator = torch.Generator().manual_seed(seed)
    samples = sample_unconstrained(state.model, state.tokenizer, state.data_summary, "11111",
                                   n, 1.0, 40, dropout, generator)
    samples = [s or "" for s in samples]
    metrics = compute_metrics(samples, reference)
    short = sum(1 for s in samples if s and unit_length(split_smiles(s)) <= 10)
    return {"mode": "dropout" if dropout else "eval", **metrics.to_dict(),
            "short_fraction": short / n}


def measure_lengths(state, reference: TrainingReference, n: int, seed: int) -> list[dict]:
    """For a length-conditioned model: what it writes when asked for 1 .. 10 tokens."""
    from polyhpc.chem.smiles import check_repeat_unit
    from polyhpc.generate.sample import sample_smiles

    generator = torch.Generator().manual_seed(seed)
    rows = []
    for length in range(1, 11):
        drawn = sample_smiles(state.model, state.tokenizer, "11111", n, 1.0, 40,
                              max_new_tokens=13, generator=generator, dropout=True,
                              lengths=torch.full((n,), length))
        ended = [s for s in drawn if s is not None]
        valid = [s for s in ended if check_repeat_unit(s).valid]
        rows.append({"length": length,
                     "exact_length": sum(unit_length(split_smiles(s)) == length
                                         for s in ended) / n,
                     "valid": len(valid) / n,
                     "known": sum(s in reference.exact for s in valid) / n})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--settings", default="eval,eval-top40,dropout-top40,budget")
    parser.add_argument("--max-draws", type=int, default=20_000)
    parser.add_argument("--metrics", action="store_true")
    parser.add_argument("--per-length", action="store_true",
                        help="length-conditioned models: 500 rows per asked length 1-10")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--token-count", default="body,with-ends",
                        help="length rules to measure: body (<= 10 body tokens), with-ends "
                             "(the authors': 10 with the end markers, <= 8 body tokens)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    cache = {}
    for path in args.checkpoints:
        state = load_checkpoint(path)
        extra = tuple(state.data_summary.get("extra_copies", {}))
        if extra not in cache:
            cache[extra] = TrainingReference(load_htpmd_train()["smiles"].tolist() + list(extra))
        reference = cache[extra]
        train = dataclasses.asdict(state.config.train)
        row = {"checkpoint": str(path), "iteration": state.iteration,
               "length_conditioning": train.get("length_conditioning", "none"),
               "extra_copies": state.data_summary.get("extra_copies", {}),
               "yield": [], "metrics": []}
        for setting, rule in [(s, r) for s in filter(None, args.settings.split(","))
                              for r in args.token_count.split(",")]:
            result = measure_yield(state, reference, setting, args.max_draws, args.seed, rule)
            row["yield"].append(result)
            rejected = ", ".join(f"{k} {v}" for k, v in list(result["rejected"].items())[:4])
            quality = ", ".join(f"{k} {v:.2f}" for k, v in result["candidate_quality"].items())
            print(f"{path}  {setting:<14} {rule:<9} {result['accepted']:>3} in "
                  f"{result['draws']:>6} "
                  f"draws ({result['wall_s']} s); {rejected}\n    candidates: {quality}",
                  flush=True)
        if args.metrics:
            for dropout in (False, True):
                metrics = measure_metrics(state, reference, dropout, 500, args.seed)
                row["metrics"].append(metrics)
                print(f"{path}  metrics {metrics['mode']}: " + ", ".join(
                    f"{k} {metrics[k]:.2f}" for k in ("validity", "uniqueness", "novelty",
                                                      "synthesizability", "similarity",
                                                      "diversity", "short_fraction")),
                      flush=True)
        if args.per_length and row["length_conditioning"] != "none":
            row["per_length"] = measure_lengths(state, reference, 500, args.seed)
            for item in row["per_length"]:
                print(f"{path}  asked {item['length']:>2}: exact length {item['exact_length']:.2f}"
                      f", valid {item['valid']:.2f}, known {item['known']:.2f}", flush=True)
        rows.append(row)
    if args.out is not None:
        args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
