"""``polyhpc surrogate``: property models for pre-screening candidates."""

from __future__ import annotations

import json
from pathlib import Path

import click

from polyhpc.cli.base import _emit, _note, _read_smiles, main
from polyhpc.config import option_type
from polyhpc.errors import PolyhpcError
from polyhpc.surrogate.config import KINDS, TARGET_UNITS, TARGETS, SurrogateConfig

_MODEL_PATH = click.argument("model_path", type=click.Path(dir_okay=False, path_type=Path))
_UNITS_FILE = click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)


def _prediction_units(columns) -> dict[str, str]:
    """Units of the prediction columns present (``surrogate_<target>[_std]``, S/cm)."""
    units = {"surrogate_conductivity_S_per_cm": "S/cm", "acquisition": TARGET_UNITS[
        "log10_conductivity"]}
    for target, unit in TARGET_UNITS.items():
        units[f"surrogate_{target}"] = units[f"surrogate_{target}_std"] = unit
    return {name: unit for name, unit in units.items() if name in columns}


@main.group()
def surrogate() -> None:
    """Surrogate models of HTP-MD properties (values are labelled surrogate_*).

    They rank generated candidates before MD and evaluate whole campaigns on
    a laptop; they never replace MD results in a report or the ledger.

    \b
    Models (--kind):
      gp   Gaussian process, Tanimoto kernel on periodic polymer fingerprints
           (default; --config can add a linear kernel on chain physics)
      gbt  the first surrogate: gradient-boosted tree ensembles
    """  # noqa: D301 - click's no-rewrap marker is a real backspace, not a raw backslash


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


def _config(config_file: Path | None, kind: str | None, targets: str | None,
            members: int | None) -> SurrogateConfig:
    import dataclasses

    from polyhpc.config import load_config

    config = load_config(config_file, SurrogateConfig)
    changes = {}
    if kind:
        changes["kind"] = kind
    if targets:
        names = tuple(TARGETS) if targets == "all" else tuple(t.strip()
                                                               for t in targets.split(","))
        unknown = [t for t in names if t not in TARGETS]
        if unknown:
            raise PolyhpcError(f"--targets: unknown target(s) {', '.join(unknown)}; known: "
                               f"{', '.join(TARGETS)}")
        changes["targets"] = names
    if members:
        changes["members"] = members
    config = dataclasses.replace(config, **changes)
    if members and config.kind != "gbt":
        _note(f"warning: --members applies to --kind gbt only; the {config.kind} model "
              "ignores it")
    return config


_config_options = [
    click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False,
                                                            path_type=Path),
                 help="YAML file of SurrogateConfig fields (kind, targets, gp: {kernel: "
                      "tanimoto|tanimoto+linear|linear}, features, members, ...); options "
                      "override it."),
    click.option("--kind", type=click.Choice(KINDS),
                 help="Model: gp (default) or gbt (the first surrogate's tree ensembles)."),
    click.option("--members", type=option_type(SurrogateConfig, "members"),
                 help="gbt only: trees per ensemble (default 5)."),
]


def _with_config_options(func):
    for decorator in reversed(_config_options):
        func = decorator(func)
    return func


@surrogate.command("train", examples=(
    "polyhpc surrogate train --out surrogate.npz                      # GP of log10 conductivity",
    "polyhpc surrogate train --out all.npz --targets all              # every HTP-MD target",
    "polyhpc surrogate train --out gbt.npz --kind gbt --members 10    # 10-tree ensembles",
    "polyhpc surrogate train --out s.npz --add md-results.csv --json  # with new MD results",
))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to save the trained model (arrays and JSON settings, no pickle; "
                   "e.g. surrogate.npz).")
@click.option("--targets", help=f"Comma-separated targets (default log10_conductivity), or "
                                f"'all': {', '.join(TARGETS)}.")
@_with_config_options
@click.option("--add", "extra_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV of MD results to add to HTP-MD: a 'smiles' column and htpmd-properties "
                   "columns in their units (conductivity_S_per_cm in S/cm).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def surrogate_train(out, targets, config_file, kind, members, extra_csv, as_json) -> None:
    """Train on htpmd-properties (plus --add results) and save the model.

    A column or value in another unit than the HTP-MD names say (e.g.
    conductivity in mS/cm) is refused, never converted.
    """
    from polyhpc.surrogate.model import train_surrogate

    model = train_surrogate(_frame(extra_csv), _config(config_file, kind, targets, members))
    model.save(out)
    info = {**model.describe(), "path": str(out)}
    _emit(info, as_json, f"trained {info['kind']} surrogate of {', '.join(info['targets'])} "
                         f"on {info['n_training']} polymers in {info['train_s']} s "
                         f"({info['invalid_units']} invalid units skipped); saved {out}",
          units={"train_s": "s"})


def _predict_text(table) -> str:
    shown = table.drop(columns=["reason"]).to_string(
        index=False, float_format=lambda v: f"{v:.4g}", na_rep="-")
    failed = table[table["reason"].notna()]
    if failed.empty:
        return shown
    lines = [f"  {row.smiles}: {row.reason}" for row in failed.itertuples()]
    return shown + f"\nno prediction for {len(failed)} unit(s):\n" + "\n".join(lines)


@surrogate.command("predict", examples=(
    "polyhpc surrogate predict surrogate.npz '*CCO*' '*CCCO*'                     # two units",
    "polyhpc surrogate predict surrogate.npz --file cands.csv --out p.csv         # a file, saved",
    "printf '*CCO*\\n*CCCO*\\n' | polyhpc surrogate predict surrogate.npz --file -  # from stdin",
))
@_MODEL_PATH
@click.argument("units", nargs=-1)
@click.option("--file", type=_UNITS_FILE,
              help="Read units from a file, one per line (first CSV column; - for standard "
                   "input).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the table as CSV.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def surrogate_predict(model_path, units, file, out, as_json) -> None:
    """Surrogate predictions (mean and standard deviation) for repeat units.

    Units without a prediction are listed with the reason (an invalid unit
    and the rule it breaks); in --json and --out each row has a 'reason'
    (null when predicted). Exit status 1 when no unit could be predicted.
    """
    import sys

    from polyhpc.surrogate.model import SurrogateModel

    model = SurrogateModel.load(model_path)
    table = model.predict(_read_smiles(units, file))
    if out:
        table.to_csv(out, index=False)
    _emit(json.loads(table.to_json(orient="records")), as_json, _predict_text(table),
          units=_prediction_units(table.columns))
    if table["reason"].notna().all():
        sys.exit(1)


@surrogate.command("convert", examples=(
    "polyhpc surrogate convert old.pkl surrogate.npz --trust-pickle         # a model you made",
    "polyhpc surrogate convert old.pkl surrogate.npz --trust-pickle --json  # report as JSON",
))
@click.argument("old", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--trust-pickle", is_flag=True,
              help="Required: unpickling OLD runs any code it holds; give it only for a "
                   "model file you made yourself.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def surrogate_convert(old, new, trust_pickle, as_json) -> None:
    """Rewrite a pickled model of an older polyhpc (OLD) in the data-only format (NEW).

    Other polyhpc commands refuse pickled models, because loading a pickle
    can run code. A file of unknown origin: retrain instead (polyhpc
    surrogate train --out NEW).
    """
    if not trust_pickle:
        raise PolyhpcError(f"--trust-pickle: converting unpickles {old}, which runs any code "
                           "it holds; pass --trust-pickle only for a model file you made "
                           "yourself (else retrain: polyhpc surrogate train --out "
                           f"{new})")
    if new.resolve() == old.resolve():
        raise PolyhpcError(f"NEW {new} is OLD; write the converted model to another file")
    from polyhpc.surrogate.legacy import read_pickled_model
    from polyhpc.surrogate.modelfile import FORMAT

    model = read_pickled_model(old)
    model.save(new)
    info = {**model.describe(), "old": str(old), "path": str(new), "format": FORMAT}
    _emit(info, as_json, f"converted {old} ({info['kind']} surrogate of "
                         f"{', '.join(info['targets'])}) to {new} ({FORMAT})",
          units={"train_s": "s"})


def _evaluate_text(report: dict) -> str:
    cv = report["cross_validation"]
    m, b, c = cv["model"], cv["baseline"], cv["calibration"]
    lines = [f"{cv['target']} ({cv['kind']}), {cv['folds']}-fold CV grouped by polymer "
             f"identity (n={m['n']}):",
             f"  model     R2 {m['r2']:.3f}  MAE {m['mae']:.4f}  Spearman {m['spearman']:.3f}",
             f"  baseline  R2 {b['r2']:.3f}  MAE {b['mae']:.4f}  Spearman {b['spearman']:.3f}"
             "  (training mean)",
             f"  calibration: {100 * c['within_1_sigma']:.1f} % of MD values within +-1 sigma "
             f"(68.3 % if calibrated; mean sigma {c['mean_std']:.3f})"]
    for name, split in report.get("ood", {}).get("splits", {}).items():
        lines.append(f"out of distribution, {name} ({split['definition']}; "
                     f"{split['n_train']} train, {split['n_test']} ranked):")
        for who in ("model", "baseline"):
            s = split[who]
            text = (f"  {who:<9} Spearman {s['spearman']:.3f}  R2 {s['r2']:.3f}  MAE "
                    f"{s['mae']:.4f}  top-10 % precision {s['precision_top10']:.2f}")
            if "within_1_sigma" in s:
                text += f"  within 1 sigma {s['within_1_sigma']:.2f}"
            if "auc_top_vs_holdout" in s:
                text += (f"  AUC top vs hold-out {s['auc_top_vs_holdout']:.3f}  Spearman "
                         f"within top {s['spearman_within_top']:.3f}")
            lines.append(text + ("  (backbone O fraction)" if who == "baseline" else ""))
    if "plot" in report:
        lines.append(f"calibration figure: {report['plot']}")
    return "\n".join(lines)


@surrogate.command("evaluate", examples=(
    "polyhpc surrogate evaluate"
    "                                          # 5-fold CV of log10 conductivity",
    "polyhpc surrogate evaluate --ood --plot calibration.png"
    "             # plus extrapolation, figure",
    "polyhpc surrogate evaluate --target transference_number --kind gbt  # another target",
))
@click.option("--target", type=click.Choice(list(TARGETS)), default="log10_conductivity",
              show_default=True, help="Property to evaluate.")
@click.option("--folds", type=click.IntRange(min=2, max=20), default=5, show_default=True,
              help="Cross-validation folds (grouped by canonical polymer identity).")
@_with_config_options
@click.option("--ood", is_flag=True,
              help="Also run the out-of-distribution benchmark (short units, small units, "
                   "top 5 %) next to the backbone-oxygen-fraction baseline.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the calibration figure (PNG) of the cross-validation.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def surrogate_evaluate(target, folds, config_file, kind, members, ood, plot, as_json) -> None:
    """Grouped cross-validation with calibration; --ood adds the extrapolation benchmark."""
    from polyhpc.surrogate.evaluate import cross_validate

    config = _config(config_file, kind, target, members)
    frame = _frame(None)
    cv = cross_validate(frame, target, config, folds, keep_predictions=plot is not None)
    report = {"cross_validation": cv}
    if plot is not None:
        from polyhpc.surrogate.plots import plot_calibration

        predictions = cv.pop("predictions")
        report["plot"] = str(plot_calibration(predictions, cv["calibration"], plot,
                                              title=f"{target}, {config.kind}, grouped "
                                                    f"{folds}-fold CV", unit=TARGET_UNITS[target]))
    if ood:
        from polyhpc.surrogate.ood import ood_benchmark

        report["ood"] = ood_benchmark(frame, config, target)
    unit = TARGET_UNITS[target]  # R2, Spearman, shares and precision have none
    _emit(report, as_json, _evaluate_text(report),
          units={"mae": unit, "mean_std": unit, **({"train_predict_s": "s"} if ood else {})})


@surrogate.command("select", examples=(
    "polyhpc surrogate select surrogate.npz --file cands.csv                     # 10 picks by UCB",
    "polyhpc surrogate select surrogate.npz --file cands.csv -k 20 --beta 2      # explore more",
    "polyhpc surrogate select surrogate.npz --file cands.csv --method top_k      # best means",
    "cut -f1 cands.tsv | polyhpc surrogate select surrogate.npz --file - --json  # stdin, JSON",
))
@_MODEL_PATH
@click.option("--file", type=_UNITS_FILE, required=True,
              help="Candidates, one SMILES per line (first CSV column; - for standard input).")
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many candidates to pick.")
@click.option("--method", type=click.Choice(["ucb", "top_k"]), default="ucb", show_default=True,
              help="ucb: mean + beta * sigma with a diversity filter; top_k: best means.")
@click.option("--beta", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="UCB exploration weight (0 ranks by the mean).")
@click.option("--max-similarity", type=click.FloatRange(min=0, max=1), default=0.7,
              show_default=True,
              help="UCB diversity filter: largest Tanimoto similarity allowed between picks.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def surrogate_select(model_path, file, k, method, beta, max_similarity, as_json) -> None:
    """Pick K candidates for MD by surrogate acquisition."""
    from polyhpc.surrogate.acquisition import select
    from polyhpc.surrogate.model import SurrogateModel

    model = SurrogateModel.load(model_path)
    picks = select(model.predict(_read_smiles((), file)), k, method, beta, max_similarity)
    columns = ["smiles", "canonical", "surrogate_log10_conductivity",
               "surrogate_log10_conductivity_std", "acquisition"]
    _emit(json.loads(picks.to_json(orient="records")), as_json,
          picks[columns].to_string(index=False, float_format=lambda v: f"{v:.4g}"),
          units=_prediction_units(picks.columns))
