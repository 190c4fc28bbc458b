"""``polyhpc generate``: train, sample, score and tune the minGPT generator."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from polyhpc.cli.base import _bar, _emit, _note, main
from polyhpc.errors import PolyhpcError


@main.group()
def generate() -> None:
    """Conditional minGPT generator of polymer repeat units."""


def _check_dataset(ctx, param, value):
    """Reject an unknown --dataset with the known names (exit 2), before any work."""
    from polyhpc.data.htpmd import LOADERS

    if value not in LOADERS:
        raise click.BadParameter(f"unknown dataset {value!r}; known: "
                                 f"{', '.join(sorted(LOADERS))}", ctx, param)
    return value


_dataset_option = click.option(
    "--dataset", default="htpmd-train", show_default=True, callback=_check_dataset,
    help="Labelled units (htpmd-train or htpmd-properties).")


def _training_frame(dataset: str, extra_csv: Path | None):
    """HTP-MD units plus, optionally, a CSV of new results (smiles, conductivity_mS_per_cm)."""
    import pandas as pd

    from polyhpc.data.htpmd import LOADERS

    if dataset not in LOADERS:
        raise PolyhpcError(f"unknown dataset {dataset!r}; known: {', '.join(sorted(LOADERS))}")
    frame = LOADERS[dataset]()[["smiles", "conductivity_mS_per_cm"]]
    if extra_csv is not None:
        extra = pd.read_csv(extra_csv)
        missing = {"smiles", "conductivity_mS_per_cm"} - set(extra.columns)
        if missing:
            raise PolyhpcError(f"{extra_csv} lacks column(s) {', '.join(sorted(missing))}")
        frame = pd.concat([frame, extra[["smiles", "conductivity_mS_per_cm"]]],
                          ignore_index=True)
    return frame


@generate.command("train", examples=(
    "polyhpc generate train --config workflows/generator-paper.yaml --out gen/model.pt"
    "    # paper run",
    "polyhpc generate train --config workflows/generator-smoke.yaml --out g.pt --iters 5"
    "  # quick test",
    "polyhpc generate train --config workflows/generator-smoke.yaml --out g.pt --resume"
    "   # continue it",
    "polyhpc generate train --init gen/model.pt --add new-md.csv --out gen2/model.pt"
    "      # fine-tune",
))
@click.option("--config", "config_path", type=click.Path(exists=True, path_type=Path),
              help="YAML with 'data' and 'train' sections (see workflows/generator-*.yaml).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Checkpoint to write (model-<iteration>.pt files are written beside it).")
@_dataset_option
@click.option("--add", "extra_csv", type=click.Path(exists=True, path_type=Path),
              help="CSV of extra labelled units (smiles, conductivity_mS_per_cm).")
@click.option("--init", type=click.Path(exists=True, path_type=Path),
              help="Fine-tune from this checkpoint (weights and vocabulary).")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run from --out (refused when --out does not exist).")
@click.option("--iters", type=click.IntRange(min=1), help="Override train.max_iters.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
def generate_train(config_path, out, dataset, extra_csv, init, resume, iters, as_json) -> None:
    """Train the generator on the oversampled HTP-MD set (paper: 6,000 iterations).

    Class 1 (prompt 11111) is the top 5 % by conductivity, oversampled to the
    size of the low class; PEO (*CCO*) is added 4,000 times. A checkpoint is
    written every train.checkpoint_interval iterations. Ctrl-C (SIGINT) or
    SIGTERM (what SLURM sends before the walltime) writes a checkpoint of the
    iteration reached and exits (130 or 143); --resume continues from it.
    Setting train.length_conditioning (prompt or countdown) trains a model
    that is told the unit length it should write (not in the paper).
    """
    import dataclasses

    from polyhpc.config import load_config
    from polyhpc.generate.train import GeneratorConfig, TrainingInterrupted, train_generator

    if resume and not out.is_file():
        raise PolyhpcError(f"--resume: nothing to resume, {out} does not exist "
                           "(leave out --resume to start a new run)")
    config = load_config(config_path, GeneratorConfig)
    if iters is not None:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train,
                                                                        max_iters=iters))
    frame = _training_frame(dataset, extra_csv)
    # the bar starts with the first step, so that an error before it stays one line
    bar = None

    def step(iteration: int, loss: float) -> None:
        nonlocal bar
        if bar is None:
            bar = _bar(total=config.train.max_iters, desc="train", unit="it")
        bar.n = iteration
        if iteration % 20 == 0:
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
            bar.refresh()

    try:
        report = train_generator(frame, config, out, init=init, resume=resume, on_step=step)
    except TrainingInterrupted as exc:
        if bar is not None:
            bar.close()
        click.echo(f"interrupted: {exc}", err=True)
        sys.exit(128 + exc.signum)
    finally:
        if bar is not None:
            bar.close()
    summary = report.data_summary
    resumed = (f"resumed from {report.resumed_from} at iteration {report.start_iteration}\n"
               if report.resumed_from else "")
    text = (f"{resumed}trained {report.iterations} iterations ({report.iterations_per_s:.1f} it/s, "
            f"{report.wall_s:.0f} s), {report.n_parameters} parameters\n"
            f"loss: train {report.final_train_loss:.4f}, validation "
            f"{report.final_validation_loss:.4f}\n"
            f"training set: {summary['training_sequences']} sequences, classes "
            f"{summary['class_counts']}, {summary['distinct_units']} distinct units, "
            f"extra {summary['extra_copies']}\ncheckpoint: {report.checkpoint}")
    _emit(dataclasses.asdict(report), as_json, text,
          units={"wall_s": "s", "iterations_per_s": "it/s", "final_train_loss": "nats/token",
                 "final_validation_loss": "nats/token"})


@generate.command("sample", examples=(
    "polyhpc generate sample gen/model.pt"
    "                                          # 50 high-class units",
    "polyhpc generate sample gen/model.pt -n 200 --stability --out c.csv"
    "           # screened, as CSV",
    "polyhpc generate sample gen/model.pt --prompt 00000 --eval --seed 3"
    "           # low class, eval",
    "polyhpc generate sample gen/model.pt --decoding budget --max-tokens 8 --json  # JSON report",
))
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-n", "n", type=click.IntRange(min=1), default=50, show_default=True,
              help="Candidates to find.")
@click.option("--prompt", default="11111", show_default=True,
              help="Class prompt: 11111 asks for high conductivity, 00000 for low.")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="Softmax temperature (the paper: 1.0).")
@click.option("--top-k", type=click.IntRange(min=1), default=40, show_default=True,
              help="Sample only among the k likeliest tokens (PolyGen: 40).")
@click.option("--dropout/--eval", "dropout", default=True, show_default=True,
              help="Keep dropout on while sampling, as PolyGen's pipeline does, or sample "
                   "in eval mode.")
@click.option("--max-tokens", type=click.IntRange(min=0), default=10, show_default=True,
              help="Most SMILES tokens besides the two end markers; 0 for no limit.")
@click.option("--decoding", type=click.Choice(["reject", "budget"]), default="reject",
              show_default=True,
              help="reject: sample freely and reject rows over --max-tokens (the paper); "
                   "budget: mask tokens so that every row ends within --max-tokens.")
@click.option("--length", "lengths", type=click.IntRange(min=1), multiple=True,
              help="Unit length to ask a length-conditioned model for (repeatable; "
                   "default 1 .. --max-tokens, drawn uniformly).")
@click.option("--stability", is_flag=True,
              help="Reject units that break the stability screen (polyhpc smiles rules "
                   "lists its rules).")
@click.option("--sa-threshold", type=click.FloatRange(min=1, max=10), default=5.0,
              show_default=True, help="With --stability: reject SA scores at or above it.")
@click.option("--max-draws", type=click.IntRange(min=1), default=200_000, show_default=True,
              help="Give up after this many samples.")
@_dataset_option
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seeds token draws and dropout masks.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write candidates as CSV (and a .json report beside it).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
def generate_sample(checkpoint, n, prompt, temperature, top_k, dropout, max_tokens, decoding,
                    lengths, stability, sa_threshold, max_draws, dataset, seed, out,
                    as_json) -> None:
    """Sample N valid, novel, unique, short candidates from CHECKPOINT.

    Prints each candidate, then the draws spent per accepted candidate and
    the rejections by reason. Exits 2 when --max-draws runs out first (the
    candidates found so far are still printed and written).
    """
    from polyhpc.data.htpmd import LOADERS
    from polyhpc.generate.metrics import TrainingReference
    from polyhpc.generate.sample import SampleConfig, generate_candidates
    from polyhpc.generate.train import load_checkpoint

    state = load_checkpoint(checkpoint)
    if decoding == "budget" and not max_tokens:
        raise PolyhpcError("--decoding budget needs a --max-tokens limit")
    # novelty is judged against everything the model was trained on, added units (PEO) included
    extra = list(state.data_summary.get("extra_copies", {}))
    reference = TrainingReference(LOADERS[dataset]()["smiles"].tolist() + extra)
    config = SampleConfig(n=n, prompt=prompt, temperature=temperature, top_k=top_k,
                          dropout=dropout, max_tokens=max_tokens or None, decoding=decoding,
                          lengths=tuple(lengths), max_draws=max_draws, stability=stability,
                          sa_threshold=sa_threshold, seed=seed)
    with _bar(total=n, desc="candidates", unit="cand", disable=as_json) as bar:
        report = generate_candidates(state.model, state.tokenizer, reference.exact,
                                     reference.canonical, config,
                                     progress=lambda got, draws: (bar.update(got - bar.n),
                                                                  bar.set_postfix(draws=draws)))
    if out is not None:
        import pandas as pd

        out.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame([c.__dict__ for c in report.candidates],
                     columns=["smiles", "canonical", "n_tokens", "draw"]).to_csv(out, index=False)
        out.with_suffix(".json").write_text(json.dumps(report.to_dict(), indent=2))
    lines = [f"{c.smiles}\t{c.canonical}\t{c.n_tokens} tokens" for c in report.candidates]
    per = report.draws_per_candidate
    lines.append(f"# {len(report.candidates)} candidates from {report.draws} draws ("
                 + (f"{per:.1f} draws per candidate" if per else "none accepted")
                 + "); rejected: " + ", ".join(f"{k} {v}" for k, v in report.rejected.items()))
    _emit(report.to_dict(), as_json, "\n".join(lines), units={})
    if not report.reached:
        raise PolyhpcError(f"only {len(report.candidates)} of {n} candidates after "
                           f"{report.draws} draws (--max-draws); results so far are shown above")


@generate.command("convert", examples=(
    "polyhpc generate convert old.pt gen/model.pt         # rewrite in the current format",
    "polyhpc generate convert old.pt gen/model.pt --json  # the same, report as JSON",
))
@click.argument("old", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def generate_convert(old, new, as_json) -> None:
    """Rewrite a checkpoint of an older polyhpc (format 1 or 2) in the current format.

    OLD is read as tensors and plain data only (no code in it runs); NEW gets
    the signature over its vocabulary, model config and weight shapes that
    sampling checks. The vocabulary is taken as OLD stores it.
    """
    from polyhpc.generate.train import CHECKPOINT_FORMAT, convert_checkpoint

    if new.resolve() == old.resolve():
        raise PolyhpcError(f"NEW {new} is OLD; write the converted checkpoint to another file")
    state = convert_checkpoint(old, new)
    _emit({"old": str(old), "new": str(new), "format": CHECKPOINT_FORMAT,
           "iteration": state.iteration, "vocabulary_size": len(state.tokenizer)}, as_json,
          f"converted {old} (iteration {state.iteration}, {len(state.tokenizer)} tokens) to "
          f"{new} ({CHECKPOINT_FORMAT})", units={})


@generate.command("metrics", examples=(
    "polyhpc generate metrics gen/model.pt                           # six metrics of 500 samples",
    "polyhpc generate metrics gen/model.pt -n 2000 --eval            # more samples, eval mode",
    "polyhpc generate metrics gen/model.pt --temperature 0.5 --json  # cooler sampling, JSON",
    "polyhpc generate metrics gen/model.pt --sa-ends reference       # SA with [Au]/[Cu] ends",
))
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-n", "n", type=click.IntRange(min=1), default=500, show_default=True,
              help="Samples to draw.")
@click.option("--prompt", default="11111", show_default=True,
              help="Class prompt: 11111 asks for high conductivity, 00000 for low.")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="Softmax temperature (the paper: 1.0).")
@click.option("--top-k", type=click.IntRange(min=1), default=40, show_default=True,
              help="Sample only among the k likeliest tokens (PolyGen's figures: 40).")
@click.option("--dropout/--eval", "dropout", default=True, show_default=True,
              help="Dropout on while sampling (PolyGen's pipeline) or eval mode.")
@_dataset_option
@click.option("--sa-ends", type=click.Choice(["hydrogen", "reference"]), default="hydrogen",
              show_default=True, help="End handling of the SA score (reference = [Au]/[Cu]).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seeds token draws and dropout masks.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def generate_metrics(checkpoint, n, prompt, temperature, top_k, dropout, dataset, sa_ends,
                     seed, as_json) -> None:
    """The paper's six metrics for N samples without a length limit.

    A length-conditioned model is asked for lengths drawn from its training
    data. short_fraction is the share of samples with at most 10 tokens.
    """
    import torch

    from polyhpc.data.htpmd import LOADERS
    from polyhpc.generate.metrics import TrainingReference, compute_metrics
    from polyhpc.generate.sample import sample_unconstrained
    from polyhpc.generate.tokenizer import split_smiles, unit_length
    from polyhpc.generate.train import load_checkpoint

    state = load_checkpoint(checkpoint)
    extra = list(state.data_summary.get("extra_copies", {}))
    reference = TrainingReference(LOADERS[dataset]()["smiles"].tolist() + extra)
    samples = sample_unconstrained(state.model, state.tokenizer, state.data_summary, prompt, n,
                                   temperature, top_k, dropout,
                                   torch.Generator().manual_seed(seed))
    samples = [s or "" for s in samples]
    metrics = compute_metrics(samples, reference, sa_ends)
    short = sum(1 for s in samples if s and unit_length(split_smiles(s)) <= 10)
    payload = {**metrics.to_dict(), "short_fraction": short / n,
               "mode": "dropout" if dropout else "eval", "top_k": top_k,
               "temperature": temperature}
    text = "\n".join(f"{k:<22} {v:.4f}" if isinstance(v, float) else f"{k:<22} {v}"
                     for k, v in payload.items())
    _emit(payload, as_json, text, units={})


@generate.command("search", examples=(
    "polyhpc generate search --config workflows/generator-paper.yaml"
    "                # the paper's grid",
    "polyhpc generate search --presets gpt-nano --temperatures 0.5,1.0"
    "              # a smaller grid",
    "polyhpc generate search --max-iters 200 --interval 100 -n 50 --workdir /tmp/s  # quick test",
))
@click.option("--config", "config_path", type=click.Path(exists=True, path_type=Path),
              help="Generator YAML (data and train sections) used for every grid point.")
@click.option("--presets", default="gpt-nano,gpt-mini", show_default=True,
              help="Comma-separated model presets to train (gpt-nano, gpt-mini, ...).")
@click.option("--temperatures", default="0.1,0.5,1.0", show_default=True,
              help="Comma-separated softmax temperatures to sample each checkpoint at.")
@click.option("--max-iters", type=click.IntRange(min=1), default=6000, show_default=True,
              help="Training iterations of each preset.")
@click.option("--interval", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Score a checkpoint every this many iterations.")
@click.option("-n", "n_samples", type=click.IntRange(min=2), default=500, show_default=True,
              help="Samples per grid point.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("runs/search"), show_default=True,
              help="Folder for each preset's checkpoints and search.csv; finished presets "
                   "there are not retrained.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def generate_search(config_path, presets, temperatures, max_iters, interval, n_samples, workdir,
                    as_json) -> None:
    """Grid search: architecture x temperature x iterations, scored by the mean metric."""
    from polyhpc.config import load_config
    from polyhpc.data.htpmd import load_htpmd_train
    from polyhpc.generate.config import GeneratorConfig
    from polyhpc.generate.search import SearchConfig, run_search

    try:
        search = SearchConfig(presets=tuple(presets.split(",")),
                              temperatures=tuple(float(t) for t in temperatures.split(",")),
                              max_iters=max_iters, interval=interval, n_samples=n_samples)
    except ValueError:
        raise PolyhpcError(f"--temperatures {temperatures!r}: expected numbers") from None
    if min(search.temperatures) <= 0:
        raise PolyhpcError(f"--temperatures {temperatures!r}: every temperature must be > 0")
    base = load_config(config_path, GeneratorConfig)
    table = run_search(load_htpmd_train(), base, search, workdir,
                       on_row=None if as_json else lambda r: _note(
                           f"{r['preset']:<9} {r['iterations']:>6} T={r['temperature']:<4} "
                           f"score {r['score']:.3f}"))
    best = table.loc[table["score"].idxmax()].to_dict()
    columns = ["preset", "iterations", "temperature", "validity", "uniqueness", "novelty",
               "synthesizability", "similarity", "diversity", "score"]
    text = table[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}")
    text += (f"\nbest: {best['preset']} at {best['iterations']} iterations, "
             f"T={best['temperature']} (score {best['score']:.3f}); table: "
             f"{workdir / 'search.csv'}")
    _emit({"rows": table.to_dict(orient="records"), "best": best}, as_json, text, units={})
