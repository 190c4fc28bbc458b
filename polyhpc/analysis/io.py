"""Reading trajectories and their HTP-MD metadata into plain arrays.

Two routes lead to the same :class:`Trajectory`:

- LAMMPS text dumps, through the streaming Numba reader in
  :mod:`polyhpc.analysis.dump` (the HTP-MD production format);
- any format MDAnalysis reads (DCD, XTC, ...) with a LAMMPS data file as
  topology, e.g. a compact ion-only DCD with unwrapped coordinates written by
  the MD stage.

Only the atoms the analysis needs are kept: cations, anion atoms used for
clusters (TFSI N/O/S) and polymer solvating atoms (N/O/S).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from polyhpc.analysis import dump
from polyhpc.analysis.elements import atomic_numbers_from_masses, standard_masses
from polyhpc.analysis.meta import REQUIRED_META, TrajectoryMeta, read_meta
from polyhpc.errors import TrajectoryError

__all__ = ["REQUIRED_META", "Trajectory", "TrajectoryMeta", "read_lammps_dump", "read_meta",
           "read_with_mdanalysis"]

@dataclass(frozen=True)
class Trajectory:
    """The kept atoms of a trajectory, ready for the kernels.

    Attributes
    ----------
    ids, types, mols : (n_kept,) int64
        Atom id, raw type and molecule id (-1 when unknown), sorted by id.
    atomic_numbers : (n_kept,) int64
        Elements inferred from masses.
    positions : (n_frames, n_kept, 3) float64, Å
        Unwrapped positions, centre-of-mass drift of the whole system removed.
    boxes : (n_frames, 3) float64, Å
        Orthogonal box lengths.
    timesteps : (n_frames,) int64
        MD step of each frame.
    n_atoms : int
        Atoms in the whole system.
    total_mass_amu : float
        Mass of the whole system (standard atomic weights).
    polymer_mass_amu : float
        Mass of the polymer atoms (types in the polymer range).
    meta : TrajectoryMeta
    """

    ids: np.ndarray
    types: np.ndarray
    mols: np.ndarray
    atomic_numbers: np.ndarray
    positions: np.ndarray
    boxes: np.ndarray
    timesteps: np.ndarray
    n_atoms: int
    total_mass_amu: float
    polymer_mass_amu: float
    meta: TrajectoryMeta
    dropped_truncated_frame: bool = False

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return self.positions.shape[0]

    def select(self, frames: slice) -> Trajectory:
        """The same trajectory restricted to ``frames``.

        A stride multiplies the time between frames, so the metadata's
        ``frame_interval_ps`` is scaled with it.
        """
        step = frames.step or 1
        if step < 1:
            raise TrajectoryError(f"frame step must be positive, got {step}")
        meta = dataclasses.replace(self.meta,
                                   frame_interval_ps=self.meta.frame_interval_ps * step)
        return dataclasses.replace(self, positions=self.positions[frames],
                                   boxes=self.boxes[frames], timesteps=self.timesteps[frames],
                                   meta=meta)


def _keep_mask(types, atomic_numbers, meta: TrajectoryMeta) -> np.ndarray:
    low, high = meta.polymer_type_range
    polymer = (types >= low) & (types <= high)
    solvate = np.isin(atomic_numbers, meta.solvate_atomic_numbers)
    ions = (types == meta.cation_type) | (types == meta.anion_type)
    ions |= np.isin(types, meta.cluster_anion_types)
    return ions | (polymer & solvate)


def _check_timesteps(path: Path, timesteps: np.ndarray) -> None:
    """Frames must be evenly spaced in time: the analysis assumes one ``time_step``."""
    steps = np.diff(timesteps)
    if steps.size and (steps[0] <= 0 or np.any(steps != steps[0])):
        bad = int(np.flatnonzero((steps <= 0) | (steps != steps[0]))[0]) + 1
        raise TrajectoryError(
            f"{path}: frame {bad} (timestep {timesteps[bad]}) follows timestep "
            f"{timesteps[bad - 1]}; frames must be evenly spaced and increasing "
            f"(every {steps[0]} steps from the start)")


def read_lammps_dump(path: Path, meta: TrajectoryMeta, allow_truncated: bool = False,
                     progress: Callable[[int], None] | None = None) -> Trajectory:
    """Read a LAMMPS text dump, keeping ions and polymer N/O/S atoms.

    Parameters
    ----------
    path : Path
        ``dump custom`` text file.
    meta : TrajectoryMeta
        Says which raw types are ions and polymer.
    allow_truncated : bool
        Drop an incomplete final frame instead of failing.
    progress : callable, optional
        Called with the number of bytes read so far.
    """
    path = Path(path)
    if not path.is_file():
        raise TrajectoryError(f"trajectory file {path} not found")
    header = dump.read_header(path)
    first = dump.read_first_frame(path, header)
    if np.unique(first.ids).size != first.ids.size:
        raise TrajectoryError(f"{path}: duplicate atom ids in the first frame")
    if first.ids.min() < 0:
        raise TrajectoryError(f"{path}: negative atom id {first.ids.min()} in the first frame")
    try:
        atomic_numbers = atomic_numbers_from_masses(first.masses)
    except ValueError as exc:
        raise TrajectoryError(f"{path}: {exc}") from None
    masses = standard_masses(atomic_numbers)
    keep = _keep_mask(first.types, atomic_numbers, meta)
    if not np.any(first.types == meta.cation_type):
        raise TrajectoryError(f"{path}: no atom of cation type {meta.cation_type}")
    slot_of_id = np.full(int(first.ids.max()) + 1, -1, np.int64)
    slot_of_id[first.ids[keep]] = np.arange(int(keep.sum()))
    mass_of_id = np.zeros(slot_of_id.shape[0])
    mass_of_id[first.ids] = masses
    frames = dump.stream_frames(path, header, slot_of_id, mass_of_id, int(keep.sum()),
                                allow_truncated=allow_truncated, progress=progress,
                                known_ids=first.ids)
    _check_timesteps(path, frames.timesteps)
    lengths = frames.boxes[:, :, 1] - frames.boxes[:, :, 0]
    low, high = meta.polymer_type_range
    polymer = (first.types >= low) & (first.types <= high)
    return Trajectory(
        ids=first.ids[keep], types=first.types[keep], mols=first.mols[keep],
        atomic_numbers=atomic_numbers[keep],
        positions=frames.positions - frames.com[:, None, :],
        boxes=lengths, timesteps=frames.timesteps, n_atoms=header.n_atoms,
        total_mass_amu=float(masses.sum()), polymer_mass_amu=float(masses[polymer].sum()),
        meta=meta, dropped_truncated_frame=frames.dropped_truncated,
    )


def read_with_mdanalysis(topology: Path, trajectory: Path, meta: TrajectoryMeta) -> Trajectory:
    """Read DCD/XTC/... through MDAnalysis, with a LAMMPS data file as topology.

    The coordinates must be unwrapped (``dump dcd`` with ``dump_modify unwrap
    yes``). Drift is removed with the centre of mass of the atoms in the file:
    for an ion-only trajectory that is the ions' centre of mass, not the
    system's (state this when comparing with HTP-MD values).
    """
    try:
        import MDAnalysis as mda
    except ImportError:
        raise TrajectoryError("MDAnalysis is required: pip install MDAnalysis") from None
    try:
        universe = mda.Universe(str(topology), str(trajectory), format=None,
                                topology_format="DATA", atom_style="id resid type charge x y z")
    except Exception as exc:  # noqa: BLE001 - MDAnalysis raises many types
        raise TrajectoryError(f"MDAnalysis cannot read {trajectory} with {topology}: {exc}") \
            from None
    atoms = universe.atoms
    types = atoms.types.astype(np.int64)
    try:
        atomic_numbers = atomic_numbers_from_masses(atoms.masses)
    except ValueError as exc:
        raise TrajectoryError(f"{topology}: {exc}") from None
    masses = standard_masses(atomic_numbers)
    keep = _keep_mask(types, atomic_numbers, meta)
    n = len(universe.trajectory)
    positions = np.empty((n, int(keep.sum()), 3))
    boxes = np.empty((n, 3))
    timesteps = np.empty(n, np.int64)
    for f, ts in enumerate(universe.trajectory):
        xyz = ts.positions.astype(np.float64)
        com = (masses[:, None] * xyz).sum(axis=0) / masses.sum()
        positions[f] = xyz[keep] - com
        boxes[f] = ts.dimensions[:3]
        timesteps[f] = getattr(ts, "data", {}).get("step", f)
    low, high = meta.polymer_type_range
    polymer = (types >= low) & (types <= high)
    return Trajectory(
        ids=atoms.ids[keep].astype(np.int64), types=types[keep],
        mols=atoms.resids[keep].astype(np.int64), atomic_numbers=atomic_numbers[keep],
        positions=positions, boxes=boxes, timesteps=timesteps, n_atoms=len(atoms),
        total_mass_amu=float(masses.sum()), polymer_mass_amu=float(masses[polymer].sum()),
        meta=meta,
    )
