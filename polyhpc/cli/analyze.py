"""``polyhpc analyze``: trajectory analysis."""

from __future__ import annotations

import json
from pathlib import Path

import click

from polyhpc.cli.base import _finite, main
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
@click.option("--solvate-elements", help="Override meta polymer_solvate_types: atomic numbers "
              "of polymer atoms for the polymer diffusivity, e.g. 7,8,16.")
@click.option("--cutoff", "cluster_cutoff_A", type=float, help="Ion cluster cutoff (Å, 3.4).")
@click.option("--max-cluster", default=10, show_default=True,
              help="Clusters with fewer cations and anions enter the cluster NE sum.")
@click.option("--plot", is_flag=True, help="Write MSD and cluster-population PNGs to --out.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder for --plot figures and result JSON files.")
@click.option("--save", is_flag=True, help="Write each result as JSON to --out.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
def analyze(paths, meta_path, topology, frames, allow_truncated, cation_type, anion_type,
            polymer_types, temperature_K, frame_interval_ps, solvate_elements, cluster_cutoff_A,
            max_cluster,
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
                 "cluster_cutoff_A": cluster_cutoff_A,
                 "solvate_atomic_numbers": _parse_ints(solvate_elements, "--solvate-elements")}
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
            (out / f"{stem}.json").write_text(json.dumps(_finite(result.to_dict()),
                                                         default=float))
        if plot:
            from polyhpc.analysis.plots import plot_msd, plot_population

            plot_msd(result, out / f"{stem}-msd.png")
            plot_population(result, out / f"{stem}-population.png")
    summary = aggregate_replicas(results) if len(results) > 1 else None
    if as_json:
        payload = {"replicas": [r.to_dict(arrays=False) for r in results]}
        if summary:
            payload["aggregate"] = summary.to_dict()
        click.echo(json.dumps(_finite(payload), indent=2, default=float))
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


