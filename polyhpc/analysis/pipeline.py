"""From a trajectory on disk to a :class:`TransportResult`.

The one entry point the CLI and the campaign call: resolve files and
metadata, read the kept atoms, run the kernels, compute the properties.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from polyhpc.analysis import dumptext, jit, kernels, transport
from polyhpc.analysis.io import Trajectory, TrajectoryMeta, read_lammps_dump, read_meta
from polyhpc.analysis.results import MsdCurve, Provenance, TransportResult
from polyhpc.errors import TrajectoryError

log = logging.getLogger(__name__)

_DUMP_SUFFIXES = {".lammpstrj", ".dump", ".txt", ".lammpsdump"}
_MDA_SUFFIXES = {".dcd", ".xtc", ".trr", ".nc"}
# Modules whose Numba kernels every analysis runs.
_KERNEL_MODULES = (dumptext.__name__, kernels.__name__)


def kernels_to_compile() -> list[str]:
    """Analysis kernels Numba compiles on their first use (none when all load from its cache).

    A compile takes about a minute on a new machine, after an upgrade, or
    where the cache folder was lost; the command line says so beforehand.
    """
    return jit.kernels_to_compile(_KERNEL_MODULES)


def kernel_cache_folder() -> str | None:
    """Where Numba caches the analysis kernels (None with JIT disabled)."""
    return jit.cache_folder(_KERNEL_MODULES)


def _msd_blocks(positions: np.ndarray, n_blocks: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """MSD curves of contiguous atom blocks (for a fit uncertainty) and block sizes."""
    n_atoms = positions.shape[1]
    blocks = np.array_split(np.arange(n_atoms), min(n_blocks, n_atoms))
    curves = np.stack([kernels.msd_fft(positions[:, block]) for block in blocks])
    return curves, np.array([len(block) for block in blocks])


def ion_cluster_labels(trajectory: Trajectory) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cluster labels of the cluster atoms, with their cation and anion masks."""
    meta = trajectory.meta
    atoms = (trajectory.types == meta.cation_type) | np.isin(trajectory.types,
                                                             meta.cluster_anion_types)
    labels = kernels.find_ion_clusters(trajectory.positions[:, atoms], trajectory.boxes,
                                       meta.cluster_cutoff_A, trajectory.mols[atoms])
    types = trajectory.types[atoms]
    return labels, types == meta.cation_type, types == meta.anion_type


@dataclass(frozen=True)
class _Diffusion:
    """What the MSD of one species gives: end-point and fitted diffusivity (cm²/s), curve."""

    endpoint: float
    fit: float
    fit_err: float
    curve: MsdCurve | None
    notes: dict[str, str]


def _species_masks(trajectory: Trajectory) -> dict[str, np.ndarray]:
    """Kept atoms whose MSD gives each diffusivity: Li, the anion's counting atom, polymer N/O/S."""
    meta = trajectory.meta
    low, high = meta.polymer_type_range
    return {
        "li": trajectory.types == meta.cation_type,
        "tfsi": trajectory.types == meta.anion_type,
        "poly": (trajectory.types >= low) & (trajectory.types <= high)
        & np.isin(trajectory.atomic_numbers, meta.solvate_atomic_numbers),
    }


def _diffusion(trajectory: Trajectory, name: str, mask: np.ndarray,
               fit_window: tuple[float, float]) -> _Diffusion:
    """HTP-MD end-point diffusivity and the multiple-origin fit of the atoms in ``mask``."""
    interval_ps = trajectory.meta.frame_interval_ps
    positions = trajectory.positions[:, mask]
    endpoint = transport.diffusivity_from_endpoint(
        kernels.msd_endpoint(positions), (trajectory.n_frames - 1) * interval_ps)
    blocks, weights = _msd_blocks(positions)
    curve = MsdCurve(np.arange(trajectory.n_frames) * interval_ps,
                     (blocks * weights[:, None]).sum(axis=0) / weights.sum())
    notes = {}
    if trajectory.n_frames < 5:
        notes[f"{name}_diffusivity_fit"] = notes[f"{name}_diffusivity_fit_err"] = (
            f"MSD fit needs >= 5 frames, got {trajectory.n_frames}")
        return _Diffusion(endpoint, float("nan"), float("nan"), curve, notes)
    fit, fit_err = transport.fit_diffusivity(blocks, interval_ps, fit_window)
    if len(blocks) == 1:
        notes[f"{name}_diffusivity_fit_err"] = "one atom: no block uncertainty"
    return _Diffusion(endpoint, fit, fit_err, curve, notes)


def _no_polymer_diffusion(meta: TrajectoryMeta) -> _Diffusion:
    """Undefined polymer diffusivity of a polymer without solvating atoms (polyethylene)."""
    low, high = meta.polymer_type_range
    elements = ", ".join(map(str, meta.solvate_atomic_numbers))
    reason = (f"undefined: no polymer atom of element(s) {elements} (polymer_solvate_types) "
              f"among types {low}-{high} (polymer_raw_type_range)")
    notes = dict.fromkeys(("poly_diffusivity", "poly_diffusivity_fit",
                           "poly_diffusivity_fit_err"), reason)
    return _Diffusion(float("nan"), float("nan"), float("nan"), None, notes)


def compute_transport(trajectory: Trajectory, max_cluster: int = 10,
                      fit_window: tuple[float, float] = (0.1, 0.5)) -> TransportResult:
    """All HTP-MD transport properties of one trajectory.

    The conductivities need only the ions: a polymer without solvating atoms
    (N, O, S; polyethylene) gets them, with its polymer diffusivity NaN and
    the reason in ``notes``.

    Parameters
    ----------
    trajectory : Trajectory
        Drift-free unwrapped positions of the kept atoms.
    max_cluster : int
        Largest cluster size (exclusive) in the cluster Nernst-Einstein sum;
        at least 2 (a free ion is a cluster of size 1).
    fit_window : (float, float)
        Lag fraction for the multiple-origin diffusivity fits.

    Returns
    -------
    TransportResult
        With ``notes`` saying why a property is NaN where it is, and the
        provenance recorded in the metadata's extra fields.
    """
    meta = trajectory.meta
    if max_cluster < 2:
        raise TrajectoryError(f"max_cluster must be >= 2 (free ions are clusters of one), "
                              f"got {max_cluster}")
    if trajectory.n_frames < 2:
        raise TrajectoryError(f"need at least 2 frames, got {trajectory.n_frames}")
    if not np.allclose(trajectory.boxes, trajectory.boxes[0:1], rtol=1e-6):
        raise TrajectoryError("the box changes between frames; analyze NVT production runs")
    diffusion = {}
    for name, mask in _species_masks(trajectory).items():
        if mask.any():
            diffusion[name] = _diffusion(trajectory, name, mask, fit_window)
        elif name == "poly":
            diffusion[name] = _no_polymer_diffusion(meta)
        else:
            raise TrajectoryError(f"no {name} atoms found with the metadata's types")
    li, tfsi, poly = diffusion["li"], diffusion["tfsi"], diffusion["poly"]

    labels, is_cation, is_anion = ion_cluster_labels(trajectory)
    population = kernels.cluster_populations(labels, is_cation, is_anion).mean(axis=0)
    n_cations, n_anions = int(is_cation.sum()), int(is_anion.sum())
    volume = float(np.prod(trajectory.boxes[0]))
    conductivity, transference = transport.cluster_ne_conductivity(
        population, li.endpoint, tfsi.endpoint, volume, meta.temperature_K, max_cluster)
    conductivity_ne, transference_ne = transport.ne_conductivity(
        n_cations, n_anions, li.endpoint, tfsi.endpoint, volume, meta.temperature_K)
    notes = {key: note for d in diffusion.values() for key, note in d.notes.items()}
    if np.isnan(transference):
        reason = (f"no charged cluster with fewer than {max_cluster} cations and "
                  f"{max_cluster} anions")
        notes["conductivity"] = f"zero: {reason}"
        notes["transference_number"] = f"undefined: {reason}"
    return TransportResult(
        conductivity=conductivity, transference_number=transference,
        conductivity_ne=conductivity_ne, transference_number_ne=transference_ne,
        li_diffusivity=li.endpoint, tfsi_diffusivity=tfsi.endpoint,
        poly_diffusivity=poly.endpoint,
        li_diffusivity_fit=li.fit, li_diffusivity_fit_err=li.fit_err,
        tfsi_diffusivity_fit=tfsi.fit, tfsi_diffusivity_fit_err=tfsi.fit_err,
        poly_diffusivity_fit=poly.fit, poly_diffusivity_fit_err=poly.fit_err,
        molality=transport.molality(n_cations, trajectory.polymer_mass_amu),
        density=transport.density(trajectory.total_mass_amu, volume),
        free_cation_fraction=float(population[1, 0] / n_cations) if population.shape[0] > 1
        else 0.0,
        free_anion_fraction=float(population[0, 1] / n_anions) if population.shape[1] > 1
        else 0.0,
        temperature=meta.temperature_K, time_step=meta.frame_interval_ps,
        n_frames=trajectory.n_frames, n_cations=n_cations, n_anions=n_anions, volume=volume,
        population=population,
        msd={name: d.curve for name, d in diffusion.items() if d.curve is not None},
        notes=notes, provenance=Provenance.from_meta(meta.extra),
    )


def locate_inputs(path: Path, meta_path: Path | None = None) -> tuple[Path, Path]:
    """Trajectory file and ``meta.json`` for a file or an HTP-MD directory."""
    path = Path(path)
    if path.is_dir():
        candidates = sorted(p for p in path.iterdir() if p.suffix in _DUMP_SUFFIXES | _MDA_SUFFIXES
                            and p.name != "aggregates.txt" and p.name != "population.txt")
        preferred = [p for p in candidates if p.name == "traj.lammpstrj"] or candidates
        if not preferred:
            raise TrajectoryError(f"{path}: no trajectory file (*.lammpstrj, *.dump, *.dcd)")
        trajectory_file = preferred[0]
        meta_file = meta_path or path / "meta.json"
    elif path.is_file():
        trajectory_file = path
        meta_file = meta_path or path.parent / "meta.json"
    else:
        raise TrajectoryError(f"{path} does not exist")
    return trajectory_file, Path(meta_file)


def analyze_path(path: Path, meta_path: Path | None = None, frames: slice | None = None,
                 allow_truncated: bool = False, topology: Path | None = None,
                 meta_overrides: dict | None = None, max_cluster: int = 10,
                 progress: Callable[[int], None] | None = None) -> TransportResult:
    """Analyze one trajectory (a file or an HTP-MD directory).

    Parameters
    ----------
    path : Path
        Trajectory file or directory holding ``traj.lammpstrj`` and ``meta.json``.
    meta_path : Path, optional
        Metadata file; defaults to ``meta.json`` beside the trajectory.
    frames : slice, optional
        Frames to analyze (after reading).
    allow_truncated : bool
        Drop an incomplete last frame instead of failing.
    topology : Path, optional
        LAMMPS data file, required for DCD/XTC trajectories.
    meta_overrides : dict, optional
        :class:`TrajectoryMeta` fields replacing those of the file.
    """
    trajectory_file, meta_file = locate_inputs(path, meta_path)
    meta: TrajectoryMeta = read_meta(meta_file).with_overrides(**(meta_overrides or {}))
    provenance = Provenance.from_meta(meta.extra, str(meta_file))
    if trajectory_file.suffix in _MDA_SUFFIXES:
        if topology is None:
            raise TrajectoryError(f"{trajectory_file.name} needs --topology (a LAMMPS data file)")
        from polyhpc.analysis.io import read_with_mdanalysis

        trajectory = read_with_mdanalysis(topology, trajectory_file, meta)
    else:
        trajectory = read_lammps_dump(trajectory_file, meta, allow_truncated, progress)
    if frames is not None:
        trajectory = trajectory.select(frames)
    result = compute_transport(trajectory, max_cluster=max_cluster)
    return dataclasses.replace(result, source=str(trajectory_file), provenance=provenance)
