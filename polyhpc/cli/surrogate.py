"""``polyhpc surrogate``: property models for pre-screening candidates."""

from __future__ import annotations

import json
from pathlib import Path

import click

from polyhpc.cli.base import _emit, _read_smiles, main
from polyhpc.errors import PolyhpcError


@main.group()
def surrogate() -> None:
    """Surrogate models of HTP-MD properties (values are labelled surrogate_*).

    They rank generated candidates before MD and evaluate whole campaigns on
    a laptop; they never replace MD results in a report or the ledger.
    """


def _frame(extra_csv: Path | None):
    import pandas as pd

    from polyhpc.data import load_htpmd_properties

    frame = load_htpmd_properties()
    if extra_csv is not None:
        extra = pd.read_csv(extra_csv)
        if "smiles" not in extra.columns:
            raise PolyhpcError(f"{extra_csv} lacks a 'smiles' column")
        frame = pd.concat([frame, extra], ignore_index=True)
    return frame


def _config(targets: str | None, members: int | None):
    import dataclasses

    from polyhpc.surrogate.model import TARGETS, SurrogateConfig

    config = SurrogateConfig()
    if targets:
        names = tuple(t.strip() for t in targets.split(","))
        unknown = [t for t in names if t not in TARGETS]
        if unknown:
            raise PolyhpcError(f"unknown target(s) {', '.join(unknown)}; known: "
                               f"{', '.join(TARGETS)}")
        config = dataclasses.replace(config, targets=names)
    if members:
        config = dataclasses.replace(config, members=members)
    return config


@surrogate.command("train")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--targets", help="Comma-separated (default log10_conductivity); 'all' for all.")
@click.option("--members", type=int, help="Ensemble size (default 5).")
@click.option("--add", "extra_csv", type=click.Path(exists=True, path_type=Path),
              help="CSV of MD results to add (htpmd-properties columns).")
@click.option("--json", "as_json", is_flag=True)
def surrogate_train(out, targets, members, extra_csv, as_json) -> None:
    """Train on htpmd-properties (plus --add results) and save the model."""
    import time

    from polyhpc.surrogate.model import TARGETS, train_surrogate

    config = _config(",".join(TARGETS) if targets == "all" else targets, members)
    start = time.perf_counter()
    model = train_surrogate(_frame(extra_csv), config)
    model.save(out)
    info = {**model.describe(), "train_s": round(time.perf_counter() - start, 1),
            "path": str(out)}
    _emit(info, as_json, f"trained {', '.join(info['targets'])} on {info['n_training']} "
                         f"polymers in {info['train_s']} s; saved {out}")


@surrogate.command("predict")
@click.argument("model_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("units", nargs=-1)
@click.option("--file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write CSV.")
@click.option("--json", "as_json", is_flag=True)
def surrogate_predict(model_path, units, file, out, as_json) -> None:
    """Surrogate predictions (mean and ensemble std) for repeat units."""
    from polyhpc.surrogate.model import SurrogateModel

    model = SurrogateModel.load(model_path)
    table = model.predict(_read_smiles(units, file))
    if out:
        table.to_csv(out, index=False)
    _emit(json.loads(table.to_json(orient="records")), as_json,
          table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


@surrogate.command("evaluate")
@click.option("--target", default="log10_conductivity", show_default=True)
@click.option("--folds", default=5, show_default=True)
@click.option("--members", type=int, default=1, show_default=True,
              help="Ensemble size inside each fold.")
@click.option("--json", "as_json", is_flag=True)
def surrogate_evaluate(target, folds, members, as_json) -> None:
    """Grouped cross-validation vs a mean baseline, and the top-5 % extrapolation split."""
    from polyhpc.surrogate.evaluate import cross_validate, extrapolation

    config = _config(target, members)
    frame = _frame(None)
    cv = cross_validate(frame, target, config, folds)
    report = {"cross_validation": cv}
    if target == "log10_conductivity":
        report["extrapolation"] = extrapolation(frame, config)
    m, b = cv["model"], cv["baseline"]
    text = (f"{target}, {folds}-fold CV grouped by polymer identity (n={m['n']}):\n"
            f"  model     R2 {m['r2']:.3f}  MAE {m['mae']:.4f}  Spearman {m['spearman']:.3f}\n"
            f"  baseline  R2 {b['r2']:.3f}  MAE {b['mae']:.4f}  Spearman {b['spearman']:.3f}")
    if "extrapolation" in report:
        e = report["extrapolation"]
        t = e["test"]
        text += (f"\nextrapolation: train on lower 95 % ({e['n_train']}), test top 5 % "
                 f"({e['n_test']}):\n  R2 {t['r2']:.3f}  MAE {t['mae']:.4f} (baseline "
                 f"{e['baseline_mae']:.4f})  Spearman within top {t['spearman']:.3f}\n"
                 f"  top polymers rank at the {100 * e['mean_rank_percentile_of_top']:.1f}th "
                 f"percentile of all predictions; {100 * e['share_above_training_p95']:.0f} % "
                 f"predicted above the training 95th percentile, "
                 f"{100 * e['share_above_training_max']:.0f} % above the training maximum")
    _emit(report, as_json, text)


@surrogate.command("select")
@click.argument("model_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="Candidates, one SMILES per line (first CSV column).")
@click.option("-k", "k", default=10, show_default=True)
@click.option("--method", type=click.Choice(["ucb", "top_k"]), default="ucb", show_default=True)
@click.option("--beta", default=1.0, show_default=True, help="UCB exploration weight.")
@click.option("--max-similarity", default=0.7, show_default=True,
              help="UCB diversity filter: largest Tanimoto allowed between picks.")
@click.option("--json", "as_json", is_flag=True)
def surrogate_select(model_path, file, k, method, beta, max_similarity, as_json) -> None:
    """Pick K candidates for MD by surrogate acquisition."""
    from polyhpc.surrogate.acquisition import select
    from polyhpc.surrogate.model import SurrogateModel

    model = SurrogateModel.load(model_path)
    picks = select(model.predict(_read_smiles((), file)), k, method, beta, max_similarity)
    columns = ["smiles", "canonical", "surrogate_log10_conductivity",
               "surrogate_log10_conductivity_std", "acquisition"]
    _emit(json.loads(picks.to_json(orient="records")), as_json,
          picks[columns].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
