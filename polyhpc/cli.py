"""The ``polyhpc`` command line: thin click wrappers around library calls.

Each command parses its arguments, calls one library function, and prints
text or ``--json``. Errors the library raises on purpose (``PolyhpcError``)
become one-line messages and a non-zero exit code.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from polyhpc import __version__
from polyhpc.errors import PolyhpcError


class _Group(click.Group):
    """A click group that shows library errors as one line, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PolyhpcError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted; results written so far are kept", err=True)
            ctx.exit(130)


def _emit(payload, as_json: bool, text: str) -> None:
    click.echo(json.dumps(payload, indent=2, default=float) if as_json else text)


def _read_smiles(smiles: tuple[str, ...], file: Path | None) -> list[str]:
    items = list(smiles)
    if file is not None:
        for line in file.read_text().splitlines():
            token = line.split(",")[0].split()[0] if line.strip() else ""
            if token and not token.startswith("#"):
                items.append(token)
    if not items:
        raise PolyhpcError("no SMILES given: pass them as arguments or with --file")
    return items


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="polyhpc")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """polyhpc: AI-driven polymer-electrolyte discovery, laptop to SLURM cluster.

    A conditional minGPT model proposes polymer repeat units (SMILES with two
    '*' ends), LAMMPS molecular dynamics evaluates their Li+ conductivity
    (HTP-MD protocol), a Numba trajectory analysis computes cluster
    Nernst-Einstein conductivities, and the best polymers feed back into the
    model (Khajeh et al., Digital Discovery 2025, DOI 10.1039/d4dd00293h).

    Data files are found through $POLYHPC_DATA, then ~/.cache/polyhpc.
    Every command takes --help; most take --json for machine-readable output.
    """
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


# --------------------------------------------------------------------------- data
@main.group()
def data() -> None:
    """Registered datasets (HTP-MD training set and properties)."""


@data.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def data_list(as_json: bool) -> None:
    """List registered datasets and where each resolves."""
    from polyhpc.data.registry import DATASETS, resolve

    rows = []
    for name, dataset in DATASETS.items():
        try:
            where = str(resolve(name, download=False))
        except PolyhpcError:
            where = None
        rows.append({"name": name, "description": dataset.description, "path": where})
    text = "\n".join(f"{r['name']:<18} {r['path'] or '(not found locally)'}\n"
                     f"{'':<18} {r['description']}" for r in rows)
    _emit(rows, as_json, text)


@data.command("info")
@click.argument("name", default="htpmd-train")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def data_info(name: str, as_json: bool) -> None:
    """Counts, conductivity statistics (mS/cm) and class sizes of NAME."""
    from polyhpc.data.htpmd import LOADERS, summarize_conductivity

    if name not in LOADERS:
        raise PolyhpcError(f"unknown dataset {name!r}; known: {', '.join(sorted(LOADERS))}")
    summary = summarize_conductivity(LOADERS[name](), name)
    s = summary
    text = (
        f"{s.dataset}: {s.n_polymers} polymers ({s.n_distinct_smiles} distinct SMILES)\n"
        f"conductivity (mS/cm): min {s.min_mS_per_cm:.3f}  max {s.max_mS_per_cm:.3f}  "
        f"mean {s.mean_mS_per_cm:.3f}  std {s.std_mS_per_cm:.3f}\n"
        f"high class: top {s.high_fraction:.0%}, conductivity >= "
        f"{s.high_threshold_mS_per_cm:.4f} mS/cm: {s.n_high} high, {s.n_low} low"
    )
    _emit(summary.to_dict(), as_json, text)


# ------------------------------------------------------------------------- smiles
@main.group()
def smiles() -> None:
    """Repeat-unit chemistry: validate, canonicalize, polymerize."""


_smiles_args = [
    click.argument("units", nargs=-1),
    click.option("--file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 help="Read units from a file, one per line (first CSV column)."),
    click.option("--json", "as_json", is_flag=True, help="Machine-readable output."),
]


def _with_smiles_args(func):
    for decorator in reversed(_smiles_args):
        func = decorator(func)
    return func


@smiles.command("check")
@_with_smiles_args
def smiles_check(units, file, as_json) -> None:
    """Validate repeat units; print the reason for each rejection.

    Exits with status 1 when any unit is invalid.
    """
    from polyhpc.chem import check_repeat_unit

    results = [check_repeat_unit(unit) for unit in _read_smiles(units, file)]
    text = "\n".join(f"{'ok' if r.valid else 'INVALID':<8} {r.smiles}"
                     + ("" if r.valid else f"  ({r.reason})") for r in results)
    _emit([r.to_dict() for r in results], as_json, text)
    if not all(r.valid for r in results):
        sys.exit(1)


@smiles.command("canonical")
@_with_smiles_args
def smiles_canonical(units, file, as_json) -> None:
    """Canonical polymer identity of each unit.

    Units describing the same chain (translated, reversed, repeated) print the
    same canonical SMILES. Invalid units print their reason.
    """
    from tqdm import tqdm

    from polyhpc.chem import canonical_repeat_unit, check_repeat_unit

    items = _read_smiles(units, file)
    rows = []
    for unit in tqdm(items, disable=len(items) < 500, desc="canonicalize", unit="unit"):
        check = check_repeat_unit(unit)
        canonical = canonical_repeat_unit(unit) if check.valid else None
        rows.append({"smiles": check.smiles, "canonical": canonical, "reason": check.reason})
    text = "\n".join(f"{r['smiles']}\t{r['canonical'] or 'INVALID: ' + r['reason']}"
                     for r in rows)
    if len(rows) > 1:
        distinct = len({r["canonical"] for r in rows if r["canonical"]})
        text += f"\n# {len(rows)} units, {distinct} distinct polymers"
    _emit(rows, as_json, text)


@smiles.command("polymerize")
@_with_smiles_args
@click.option("--min-backbone", default=150, show_default=True,
              help="Smallest backbone (heavy atoms end to end, over all units).")
def smiles_polymerize(units, file, as_json, min_backbone) -> None:
    """Build methyl-capped chains with at least --min-backbone backbone atoms."""
    from polyhpc.chem import polymerize

    chains = [polymerize(unit, min_backbone).to_dict() for unit in _read_smiles(units, file)]
    text = "\n".join(
        f"{c['unit_smiles']}: DP {c['degree_of_polymerization']}, backbone "
        f"{c['backbone_atoms']} atoms, {c['formula']}, {c['molar_mass_g_per_mol']:.1f} g/mol"
        for c in chains)
    _emit(chains, as_json, text)


# ------------------------------------------------------------------------ analyze
def _parse_frames(text: str | None) -> slice | None:
    if not text:
        return None
    try:
        parts = [int(p) if p else None for p in text.split(":")]
    except ValueError:
        raise PolyhpcError(f"--frames {text!r}: expected start:stop:step integers") from None
    if len(parts) > 3:
        raise PolyhpcError(f"--frames {text!r}: expected start:stop:step")
    return slice(*parts)


def _parse_type_range(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        low, high = (int(v) for v in text.split(":"))
    except ValueError:
        raise PolyhpcError(f"--polymer-types {text!r}: expected LOW:HIGH") from None
    return low, high


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--meta", "meta_path", type=click.Path(path_type=Path),
              help="meta.json (default: beside the trajectory).")
@click.option("--topology", type=click.Path(exists=True, path_type=Path),
              help="LAMMPS data file, needed for DCD/XTC trajectories.")
@click.option("--frames", help="Frame selection start:stop:step, e.g. 500: or ::2.")
@click.option("--allow-truncated", is_flag=True, help="Drop an incomplete last frame.")
@click.option("--cation-type", type=int, help="Override meta cation_raw_type.")
@click.option("--anion-type", type=int, help="Override meta anion_raw_type.")
@click.option("--polymer-types", help="Override meta polymer_raw_type_range, LOW:HIGH.")
@click.option("--temperature", "temperature_K", type=float, help="Override meta temperature (K).")
@click.option("--frame-interval", "frame_interval_ps", type=float,
              help="Override meta time_step: ps between frames.")
@click.option("--cutoff", "cluster_cutoff_A", type=float, help="Ion cluster cutoff (Å, 3.4).")
@click.option("--max-cluster", default=10, show_default=True,
              help="Clusters with fewer cations and anions enter the cluster NE sum.")
@click.option("--plot", is_flag=True, help="Write MSD and cluster-population PNGs to --out.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder for --plot figures and result JSON files.")
@click.option("--save", is_flag=True, help="Write each result as JSON to --out.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
def analyze(paths, meta_path, topology, frames, allow_truncated, cation_type, anion_type,
            polymer_types, temperature_K, frame_interval_ps, cluster_cutoff_A, max_cluster,
            plot, out, save, as_json) -> None:
    """Transport properties of MD trajectories (HTP-MD compatible).

    PATHS are HTP-MD trajectory folders (traj.lammpstrj + meta.json) or
    trajectory files. Several paths are treated as replicas of one system and
    aggregated into mean and standard deviation. Conductivity is the cluster
    Nernst-Einstein value in S/cm; diffusivities are in cm^2/s.
    """
    from tqdm import tqdm

    from polyhpc.analysis.analyze import analyze_path, locate_inputs
    from polyhpc.analysis.results import aggregate_replicas

    overrides = {"cation_type": cation_type, "anion_type": anion_type,
                 "polymer_type_range": _parse_type_range(polymer_types),
                 "temperature_K": temperature_K, "frame_interval_ps": frame_interval_ps,
                 "cluster_cutoff_A": cluster_cutoff_A}
    selection = _parse_frames(frames)
    results = []
    for path in paths:
        trajectory_file, _ = locate_inputs(path, meta_path)
        size = trajectory_file.stat().st_size
        with tqdm(total=size, unit="B", unit_scale=True, desc=trajectory_file.name,
                  disable=size < 50e6, leave=False) as bar:
            result = analyze_path(path, meta_path, selection, allow_truncated, topology,
                                  overrides, max_cluster, progress=lambda n: bar.update(n - bar.n))
        results.append(result)
        stem = Path(path).resolve().name.removesuffix(".lammpstrj")
        if save or plot:
            out.mkdir(parents=True, exist_ok=True)
        if save:
            (out / f"{stem}.json").write_text(json.dumps(result.to_dict(), default=float))
        if plot:
            from polyhpc.analysis.plots import plot_msd, plot_population

            plot_msd(result, out / f"{stem}-msd.png")
            plot_population(result, out / f"{stem}-population.png")
    summary = aggregate_replicas(results) if len(results) > 1 else None
    if as_json:
        payload = {"replicas": [r.to_dict(arrays=False) for r in results]}
        if summary:
            payload["aggregate"] = summary.to_dict()
        click.echo(json.dumps(payload, indent=2, default=float))
        return
    rows = [("conductivity (cluster NE)", "conductivity", "S/cm"),
            ("conductivity (NE)", "conductivity_ne", "S/cm"),
            ("transference number (cluster NE)", "transference_number", ""),
            ("transference number (NE)", "transference_number_ne", ""),
            ("Li diffusivity", "li_diffusivity", "cm^2/s"),
            ("TFSI diffusivity", "tfsi_diffusivity", "cm^2/s"),
            ("polymer diffusivity", "poly_diffusivity", "cm^2/s"),
            ("Li diffusivity (MSD fit)", "li_diffusivity_fit", "cm^2/s"),
            ("molality", "molality", "mol/kg"), ("density", "density", "g/cm^3"),
            ("free Li fraction", "free_cation_fraction", "")]
    for result in results:
        click.echo(f"{result.source}: {result.n_frames} frames, {result.n_cations} Li, "
                   f"{result.n_anions} TFSI")
    for label, key, unit in rows:
        if summary:
            value = f"{summary.mean[key]:.6g} ± {summary.std[key]:.2g}"
        else:
            value = f"{getattr(results[0], key):.6g}"
        click.echo(f"  {label:<34} {value} {unit}")


# -------------------------------------------------------------------------- bench
@main.group()
def bench() -> None:
    """Rerunnable performance benchmarks."""


@bench.command("analysis")
@click.option("--frames", "n_frames", default=2500, show_default=True)
@click.option("--atoms", "n_atoms", default=6440, show_default=True)
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
    from tqdm import tqdm

    from polyhpc.analysis.bench import format_table, run_analysis_benchmark

    with tqdm(total=n_frames, desc="writing synthetic dump", unit="frame", leave=False) as bar:
        report = run_analysis_benchmark(workdir, n_frames, n_atoms, reuse=not fresh,
                                        progress=lambda n: bar.update(n - bar.n))
    _emit(report.to_dict(), as_json, format_table(report))


if __name__ == "__main__":  # pragma: no cover
    main()
