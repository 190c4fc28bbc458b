"""``polyhpc analyze``: trajectory analysis."""

from __future__ import annotations

import math
from pathlib import Path

import click

from polyhpc.cli.base import _bar, _emit, _note, main
from polyhpc.errors import PolyhpcError


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


def _parse_ints(text: str | None, option: str) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise PolyhpcError(f"{option} {text!r}: expected comma-separated integers") from None


def _meta_type(name: str):
    """The click type of an option overriding ``TrajectoryMeta.name``: its declared range."""
    from polyhpc.analysis.meta import TrajectoryMeta
    from polyhpc.config import option_type

    return option_type(TrajectoryMeta, name)


_ROWS = [("conductivity (cluster NE)", "conductivity", "S/cm"),
         ("conductivity (NE)", "conductivity_ne", "S/cm"),
         ("transference number (cluster NE)", "transference_number", ""),
         ("transference number (NE)", "transference_number_ne", ""),
         ("Li diffusivity", "li_diffusivity", "cm^2/s"),
         ("TFSI diffusivity", "tfsi_diffusivity", "cm^2/s"),
         ("polymer diffusivity", "poly_diffusivity", "cm^2/s"),
         ("Li diffusivity (MSD fit)", "li_diffusivity_fit", "cm^2/s"),
         ("molality", "molality", "mol/kg"), ("density", "density", "g/cm^3"),
         ("free Li fraction", "free_cation_fraction", "")]


def _value_text(value: float, unit: str, note: str, std: float | None = None,
                std_note: str = "") -> str:
    """``1.2e-05 ± 3e-06 S/cm``; a NaN says why instead of printing ``nan``."""
    if math.isnan(value):
        return f"n/a ({note or 'undefined'})"
    unit = f" {unit}" if unit else ""
    if std is None:
        text = f"{value:.6g}{unit}"
    elif math.isnan(std):
        text = f"{value:.6g}{unit} (std n/a: {std_note or 'undefined'})"
    else:
        text = f"{value:.6g} ± {std:.2g}{unit}"
    return text + (f"  [{note}]" if note else "")


def _provenance_lines(provenance) -> list[str]:
    lines = []
    if provenance.mol_smiles:
        lines.append(f"polymer {provenance.unit_label()}")
    lines.append(f"{provenance.protocol_label()}; force field {provenance.force_field_label()}")
    return lines


def _announce_compilation() -> None:
    """Say on stderr, before it happens, that Numba is about to compile (silent a minute)."""
    from polyhpc.analysis.pipeline import kernel_cache_folder, kernels_to_compile

    if kernels_to_compile():
        _note("compiling the analysis kernels with Numba (once: about a minute; cached in "
              f"{kernel_cache_folder()})")


def _echo_text(results, summary) -> None:
    """The human-readable table: sources, provenance, one line per property."""
    for result in results:
        click.echo(f"{result.source}: {result.n_frames} frames, {result.n_cations} Li, "
                   f"{result.n_anions} TFSI")
    for line in _provenance_lines(results[0].provenance):
        click.echo(line)
    if summary:
        click.echo(f"mean ± std over {summary.n_replicas} replicas:")
    for label, key, unit in _ROWS:
        if summary:
            value = _value_text(summary.mean[key], unit, summary.notes.get(key, ""),
                                summary.std[key], summary.notes.get("std", ""))
        else:
            value = _value_text(getattr(results[0], key), unit, results[0].note(key))
        click.echo(f"  {label:<34} {value}")


@main.command(examples=(
    "polyhpc analyze runs/peo/rep0                      # one HTP-MD folder (traj + meta.json)",
    "polyhpc analyze runs/peo/rep0 runs/peo/rep1 --save --out runs/peo/analysis   # replicas",
    "polyhpc analyze traj.lammpstrj --meta meta.json --frames 500: --plot --out figs/",
    "polyhpc analyze run.dcd --topology system.data --meta meta.json --json",
))
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--meta", "meta_path", type=click.Path(path_type=Path),
              help="meta.json (default: beside the trajectory).")
@click.option("--topology", type=click.Path(exists=True, path_type=Path),
              help="LAMMPS data file, needed for DCD/XTC trajectories.")
@click.option("--frames", help="Frame selection start:stop:step, e.g. 500: or ::2.")
@click.option("--allow-truncated", is_flag=True, help="Drop an incomplete last frame.")
@click.option("--cation-type", type=_meta_type("cation_type"),
              help="Override meta cation_raw_type.")
@click.option("--anion-type", type=_meta_type("anion_type"),
              help="Override meta anion_raw_type.")
@click.option("--polymer-types", help="Override meta polymer_raw_type_range, LOW:HIGH.")
@click.option("--temperature", "temperature_K", type=_meta_type("temperature_K"),
              help="Override meta temperature (K).")
@click.option("--frame-interval", "frame_interval_ps", type=_meta_type("frame_interval_ps"),
              help="Override meta time_step: ps between frames.")
@click.option("--solvate-elements", help="Override meta polymer_solvate_types: atomic numbers "
              "of polymer atoms for the polymer diffusivity, e.g. 7,8,16.")
@click.option("--cutoff", "cluster_cutoff_A", type=_meta_type("cluster_cutoff_A"),
              help="Ion cluster cutoff (Å, 3.4).")
@click.option("--max-cluster", default=10, show_default=True, type=click.IntRange(min=2),
              help="Clusters with fewer cations and anions enter the cluster NE sum.")
@click.option("--plot", is_flag=True, help="Write MSD and cluster-population PNGs to --out.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder for --plot figures and result JSON files.")
@click.option("--save", is_flag=True, help="Write each result as JSON to --out, and the "
              "replica mean and std as aggregate.json.")
@click.option("--json", "as_json", is_flag=True,
              help="Print results as JSON: {replicas, aggregate, units}.")
def analyze(paths, meta_path, topology, frames, allow_truncated, cation_type, anion_type,
            polymer_types, temperature_K, frame_interval_ps, solvate_elements, cluster_cutoff_A,
            max_cluster, plot, out, save, as_json) -> None:
    """Transport properties of MD trajectories (HTP-MD compatible).

    PATHS are HTP-MD trajectory folders (traj.lammpstrj + meta.json) or
    trajectory files. Several paths are replicas of one system: they must
    share polymer, salt, temperature, protocol and force field (else the
    command says which differ) and are aggregated into mean and standard
    deviation. Conductivity is the cluster Nernst-Einstein value in S/cm;
    diffusivities are in cm^2/s. Results name the MD protocol and force
    field their meta.json records; a protocol that deviates from the
    paper's is flagged.

    With --save, each replica is written as NAME.json (NAME from its path,
    with parent folders added until the names differ) and the replica mean
    and std as aggregate.json; --plot writes NAME-msd.png and
    NAME-population.png.
    """
    from polyhpc.analysis.pipeline import analyze_path, locate_inputs
    from polyhpc.analysis.replicas import aggregate_replicas, replica_names, save_results

    overrides = {"cation_type": cation_type, "anion_type": anion_type,
                 "polymer_type_range": _parse_type_range(polymer_types),
                 "temperature_K": temperature_K, "frame_interval_ps": frame_interval_ps,
                 "cluster_cutoff_A": cluster_cutoff_A,
                 "solvate_atomic_numbers": _parse_ints(solvate_elements, "--solvate-elements")}
    selection = _parse_frames(frames)
    files = [locate_inputs(path, meta_path)[0] for path in paths]
    names = replica_names(files, list(paths))
    _announce_compilation()
    results = []
    for path, trajectory_file in zip(paths, files, strict=True):
        size = trajectory_file.stat().st_size
        with _bar(total=size, unit="B", unit_scale=True, desc=trajectory_file.name,
                  disable=size < 50e6, leave=False) as bar:
            results.append(analyze_path(path, meta_path, selection, allow_truncated, topology,
                                        overrides, max_cluster,
                                        progress=lambda n: bar.update(n - bar.n)))
    summary = aggregate_replicas(results, names) if len(results) > 1 else None
    if results[0].provenance.warning():  # stderr: --json keeps stdout pure JSON
        click.echo(f"WARNING: {results[0].provenance.warning()}", err=True)
    if save:
        save_results(out, results, names, summary)
    if plot:
        from polyhpc.analysis.plots import plot_msd, plot_population

        out.mkdir(parents=True, exist_ok=True)
        for name, result in zip(names, results, strict=True):
            plot_msd(result, out / f"{name}-msd.png")
            plot_population(result, out / f"{name}-population.png")
    if as_json:
        from polyhpc.analysis.results import UNITS

        payload = {"replicas": [r.to_dict(arrays=False) for r in results]}
        if summary:
            payload["aggregate"] = summary.to_dict()
        _emit(payload, True, "", units=UNITS)
    else:
        _echo_text(results, summary)
