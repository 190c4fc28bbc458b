"""``polyhpc bench``: rerunnable benchmarks."""

from __future__ import annotations

from pathlib import Path

import click

from polyhpc.cli.base import _bar, _emit, _note, main


# -------------------------------------------------------------------------- bench
@main.group()
def bench() -> None:
    """Rerunnable performance benchmarks."""


@bench.command("analysis", examples=(
    "polyhpc bench analysis                                      # a 5 ns HTP-MD replica, 0.9 GB",
    "polyhpc bench analysis --frames 250 --fresh                 # a tenth, dump rewritten",
    "polyhpc bench analysis --frames 20 --workdir /tmp/b --json  # tiny, as JSON",
))
@click.option("--frames", "n_frames", default=2500, show_default=True,
              type=click.IntRange(min=5), help="Frames of the synthetic dump.")
@click.option("--atoms", "n_atoms", default=6440, show_default=True,
              type=click.IntRange(min=100), help="Atoms per frame (HTP-MD composition).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              default=Path(".polyhpc-bench"), show_default=True,
              help="Where the synthetic dump is written and reused.")
@click.option("--fresh", is_flag=True, help="Rewrite the synthetic dump even if present.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def bench_analysis(n_frames, n_atoms, workdir, fresh, as_json) -> None:
    """Throughput of the whole analysis on a synthetic HTP-MD-size dump.

    The default size is one 5 ns HTP-MD replica (2,500 frames x 6,440 atoms,
    ~0.9 GB). Reports parse MB/s, cluster frames/s, MSD time, the total from
    file to JSON, and peak memory of the analysis process.
    """
    from polyhpc.analysis.bench import format_table, run_analysis_benchmark

    with _bar(total=n_frames, desc="writing synthetic dump", unit="frame", leave=False) as bar:
        report = run_analysis_benchmark(workdir, n_frames, n_atoms, reuse=not fresh,
                                        progress=lambda n: bar.update(n - bar.n))
    _emit(report.to_dict(), as_json, format_table(report),
          units={"file_MB": "MB", "parse_s": "s", "parse_MB_per_s": "MB/s", "clusters_s": "s",
                 "clusters_frames_per_s": "frames/s", "msd_s": "s", "total_s": "s",
                 "peak_memory_MB": "MB"})


@bench.command("generator", examples=(
    "polyhpc bench generator                           # 6,000 iterations, 500 samples",
    "polyhpc bench generator --iters 200 -n 100        # a quick estimate",
    "polyhpc bench generator --preset gpt-mini --json  # the larger preset, JSON",
))
@click.option("--iters", "iterations", default=6000, show_default=True,
              type=click.IntRange(min=1),
              help="Training iterations to time (the paper trains 6,000).")
@click.option("--preset", default="gpt-nano", show_default=True,
              help="Model preset to train (gpt-nano, gpt-mini, ...).")
@click.option("-n", "n_samples", default=500, show_default=True, type=click.IntRange(min=1),
              help="Samples to time.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def bench_generator(iterations, preset, n_samples, as_json) -> None:
    """Generator speed: training iterations/s at batch 64 and samples/s.

    Trains on the oversampled HTP-MD set exactly as `generate train` does
    (in a temporary folder), then draws N unconstrained samples in eval mode.
    """
    from polyhpc.data import load_htpmd_train
    from polyhpc.generate.bench import run_generator_benchmark

    with _bar(total=iterations, desc="train", unit="it", leave=False) as bar:
        report = run_generator_benchmark(load_htpmd_train(), iterations, preset, n_samples,
                                         on_step=lambda i, loss: setattr(bar, "n", i) or (
                                             i % 50 == 0 and bar.refresh()))
    r = report
    text = (f"{r.preset}: {r.iterations} iterations at batch {r.batch_size} in {r.train_s:.1f} s "
            f"({r.iterations_per_s:.1f} it/s; 6,000 iterations: {r.projected_6000_s:.0f} s) "
            f"on {r.threads} threads\n"
            f"sampling: {r.n_samples} samples in {r.sample_s:.2f} s "
            f"({r.samples_per_s:.0f} samples/s)")
    _emit(report.to_dict(), as_json, text,
          units={"train_s": "s", "iterations_per_s": "it/s", "projected_6000_s": "s",
                 "sample_s": "s", "samples_per_s": "samples/s"})


@bench.command("surrogate", examples=(
    "polyhpc bench surrogate                          # GP training and 1,000 predictions",
    "polyhpc bench surrogate --kind gbt --members 10  # tree ensembles",
    "polyhpc bench surrogate -n 10000 --json          # more candidates, JSON",
))
@click.option("--kind", type=click.Choice(["gp", "gbt"]), default="gp", show_default=True,
              help="Model: Gaussian process (the default surrogate) or tree ensembles.")
@click.option("--members", default=5, show_default=True, type=click.IntRange(min=1),
              help="Ensemble members (gbt only).")
@click.option("-n", "n_predict", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Candidates to predict (drawn from the HTP-MD units, canonicalized afresh).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def bench_surrogate(kind, members, n_predict, as_json) -> None:
    """Surrogate training time on htpmd-properties and prediction throughput."""
    import time

    from polyhpc.data import load_htpmd_properties
    from polyhpc.surrogate.config import SurrogateConfig
    from polyhpc.surrogate.model import train_surrogate

    frame = load_htpmd_properties()
    config = SurrogateConfig(kind=kind, members=members) if kind == "gbt" else \
        SurrogateConfig(kind=kind)
    start = time.perf_counter()
    model = train_surrogate(frame, config)
    train_s = time.perf_counter() - start
    units = frame["smiles"].sample(n_predict, replace=n_predict > len(frame),
                                   random_state=0).tolist()
    start = time.perf_counter()
    model.predict(units)
    predict_s = time.perf_counter() - start
    what = f"{kind} ({members} members)" if kind == "gbt" else kind
    report = {"kind": kind, "n_training": model.n_training, "members": members
              if kind == "gbt" else None, "train_s": round(train_s, 1),
              "n_predict": n_predict, "predict_s": round(predict_s, 2),
              "candidates_per_s": round(n_predict / predict_s, 1)}
    _emit(report, as_json, f"trained {what} on {model.n_training} polymers in "
                           f"{train_s:.1f} s; predicted {n_predict} candidates in "
                           f"{predict_s:.2f} s ({n_predict / predict_s:.0f}/s)",
          units={"train_s": "s", "predict_s": "s", "candidates_per_s": "candidates/s"})


@bench.command("md", examples=(
    "polyhpc bench md                                          # paper-size PEO, 500 steps",
    "polyhpc bench md --profile smoke --steps 100 --threads 1  # a quick check",
    "polyhpc bench md --data run/relaxed.lmp --steps 2000      # an equilibrated system",
    "polyhpc bench md --compare-ff --eqfactor 0.01             # public PCFF vs PCFF+ density",
))
@click.option("--smiles", default="*CCO*", show_default=True, help="Repeat unit to build.")
@click.option("--data", "data_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Time an existing data file (e.g. an equilibrated relaxed.lmp) instead.")
@click.option("--profile", default="paper", show_default=True,
              help="Build sizes and run settings: paper, gpu, smoke or a YAML file.")
@click.option("--steps", default=500, show_default=True, type=click.IntRange(min=1),
              help="MD steps to time.")
@click.option("--threads", default=2, show_default=True, type=click.IntRange(min=1),
              help="OpenMP threads.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              default=Path(".polyhpc-bench/md"), show_default=True,
              help="Where the system is built and LAMMPS runs (report.json is saved here).")
@click.option("--compare-ff", is_flag=True,
              help="Instead: equilibrate the unit at the profile's size with the public PCFF "
                   "and with PCFF+ values (--frc-b), report both densities.")
@click.option("--eqfactor", default=0.005, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="--compare-ff: equilibration durations x this (1 = the full 6 ns).")
@click.option("--production-ps", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="--compare-ff: production after the equilibration (>0: conductivities).")
@click.option("--frc-b", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="--compare-ff: the second force field (default: pcff.frc with the HTP-MD "
                   "PCFF+ PEO nonbond terms and charges).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def bench_md(smiles, data_file, profile, steps, threads, workdir, compare_ff, eqfactor,
             production_ps, frc_b, as_json) -> None:
    """System build time and LAMMPS ns/day, through polyhpc and with lmp by hand.

    Builds the unit at the profile's size (paper: HTP-MD size), then runs the
    same input (minimize, then NVT at the profile's time step and rRESPA
    setting) through polyhpc's runner and as a bare `lmp -in` command.

    With --compare-ff: the same system (same seed and coordinates) through the
    profile's equilibration scaled by --eqfactor, once with the public pcff.frc
    and once with PCFF+ values; reports the density each reaches.
    """
    from polyhpc.cli.md import _profile

    if compare_ff:
        from polyhpc.md.bench import compare_force_fields, format_compare

        report = compare_force_fields(
            workdir, _profile(profile), eqfactor, production_ps, frc_b, smiles, threads,
            on_record=None if as_json else lambda r: _note(
                f"  {Path(r.workdir).name} {r.name} {r.status} {r.wall_s:.0f} s"))
        units = {"production_ps": "ps", "wall_s": "s", "density_g_cm3": "g/cm^3", "box_A": "A",
                 "molality_mol_per_kg": "mol/kg"}
        if production_ps > 0:  # the analysis' conductivity of each run
            units["conductivity_S_per_cm"] = "S/cm"
        _emit(report, as_json, format_compare(report), units=units)
        return
    from polyhpc.fileio import finite_json, write_json_atomic
    from polyhpc.md.bench import format_report, run_md_benchmark

    report = run_md_benchmark(workdir, _profile(profile), smiles, data_file, steps, threads)
    # `polyhpc campaign plan --rate` reads the measured speed from here
    saved = write_json_atomic(Path(workdir) / "report.json", finite_json(report))
    units = {"wall_s": "s", "ns_per_day": "ns/day"}  # of the polyhpc and by_hand runs
    if "system" in report:  # built here, not --data
        units.update({"build_s": "s", "molality_mol_per_kg": "mol/kg", "box_A": "A",
                      "initial_density_g_cm3": "g/cm^3"})
    _emit(report, as_json, format_report(report) + f"\nsaved {saved} (campaign plan --rate)",
          units=units)
