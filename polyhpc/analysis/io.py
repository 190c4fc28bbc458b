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
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from polyhpc.analysis import dump
from polyhpc.analysis.elements import atomic_numbers_from_masses, standard_masses
from polyhpc.errors import TrajectoryError

#: Fields the HTP-MD ``meta.json`` schema requires for the analysis.
REQUIRED_META = (
    "temperature", "time_step", "cation_raw_type", "anion_raw_type",
    "polymer_raw_type_range", "polymer_solvate_types",
)


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TrajectoryError(f"{name} must be a number, got {value!r}")
    return float(value)


def _integer(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TrajectoryError(f"{name} must be an integer, got {value!r}")
    return value


def _integers(values, name: str) -> tuple[int, ...]:
    if not isinstance(values, (list, tuple)):
        raise TrajectoryError(f"{name} must be a list of integers, got {values!r}")
    return tuple(_integer(v, name) for v in values)


def _pair(values, name: str) -> tuple[int, int]:
    pair = _integers(values, name)
    if len(pair) != 2:
        raise TrajectoryError(f"{name} must be [low, high], got {values!r}")
    return pair


def _check_positive(name: str, value: float, unit: str) -> None:
    if not (math.isfinite(value) and value > 0):
        raise TrajectoryError(f"{name} must be a positive number ({unit}), got {value}")


@dataclass(frozen=True)
class TrajectoryMeta:
    """HTP-MD trajectory metadata (``meta.json``).

    Attributes
    ----------
    temperature_K : float
        Simulation temperature.
    frame_interval_ps : float
        Time between saved frames (``time_step`` in the HTP-MD schema).
    cation_type : int
        Raw LAMMPS type of the cation (Li+: 90).
    anion_type : int
        Raw type counting one anion (TFSI N: 93).
    polymer_type_range : tuple of int
        Inclusive raw-type range of polymer atoms (0, 89).
    solvate_atomic_numbers : tuple of int
        Elements of the polymer atoms whose motion defines the polymer
        diffusivity (N, O, S: 7, 8, 16).
    cluster_anion_types : tuple of int
        Raw types of anion atoms joined into ion clusters (TFSI N/O/S: 93, 94, 95).
    cluster_cutoff_A : float
        Distance that links two cluster atoms (3.4 Å).
    extra : dict
        Every other field of the file (SMILES, force field, salt names).
    """

    temperature_K: float
    frame_interval_ps: float
    cation_type: int
    anion_type: int
    polymer_type_range: tuple[int, int]
    solvate_atomic_numbers: tuple[int, ...]
    cluster_anion_types: tuple[int, ...] = (93, 94, 95)
    cluster_cutoff_A: float = 3.4
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse values no trajectory can have, naming the ``meta.json`` field."""
        _check_positive("temperature", self.temperature_K, "K")
        _check_positive("time_step", self.frame_interval_ps, "ps between saved frames")
        _check_positive("cluster_cutoff_A", self.cluster_cutoff_A, "Å")
        for name, value in (("cation_raw_type", self.cation_type),
                            ("anion_raw_type", self.anion_type)):
            if value < 1:
                raise TrajectoryError(f"{name} must be a LAMMPS atom type >= 1, got {value}")
        low, high = self.polymer_type_range
        if not 0 <= low <= high:
            raise TrajectoryError(f"polymer_raw_type_range must be [low, high] with "
                                  f"0 <= low <= high, got [{low}, {high}]")
        if not self.solvate_atomic_numbers or not all(
                1 <= z <= 118 for z in self.solvate_atomic_numbers):
            raise TrajectoryError(f"polymer_solvate_types must be atomic numbers 1-118, got "
                                  f"{list(self.solvate_atomic_numbers)}")
        if any(t < 1 for t in self.cluster_anion_types):
            raise TrajectoryError(f"cluster_anion_types must be LAMMPS atom types >= 1, got "
                                  f"{list(self.cluster_anion_types)}")

    @classmethod
    def from_dict(cls, data: dict, source: str = "meta.json") -> TrajectoryMeta:
        """Build from the HTP-MD schema; missing or impossible fields are named with the file."""
        missing = [key for key in REQUIRED_META if key not in data]
        if missing:
            raise TrajectoryError(f"{source} lacks field(s): {', '.join(missing)}")
        known = set(REQUIRED_META) | {"cluster_anion_types", "cluster_cutoff_A"}
        try:
            low, high = _pair(data["polymer_raw_type_range"], "polymer_raw_type_range")
            return cls(
                temperature_K=_number(data["temperature"], "temperature"),
                frame_interval_ps=_number(data["time_step"], "time_step"),
                cation_type=_integer(data["cation_raw_type"], "cation_raw_type"),
                anion_type=_integer(data["anion_raw_type"], "anion_raw_type"),
                polymer_type_range=(low, high),
                solvate_atomic_numbers=_integers(data["polymer_solvate_types"],
                                                 "polymer_solvate_types"),
                cluster_anion_types=_integers(data.get("cluster_anion_types", (93, 94, 95)),
                                              "cluster_anion_types"),
                cluster_cutoff_A=_number(data.get("cluster_cutoff_A", 3.4), "cluster_cutoff_A"),
                extra={k: v for k, v in data.items() if k not in known},
            )
        except TrajectoryError as exc:
            raise TrajectoryError(f"{source}: {exc}") from None

    def with_overrides(self, **overrides) -> TrajectoryMeta:
        """Return a copy with the given non-``None`` fields replaced."""
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})


def read_meta(path: Path) -> TrajectoryMeta:
    """Read an HTP-MD ``meta.json``."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise TrajectoryError(f"metadata file {path} not found (pass --meta)") from None
    except json.JSONDecodeError as exc:
        raise TrajectoryError(f"{path} is not valid JSON: {exc}") from None
    return TrajectoryMeta.from_dict(data, str(path))


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
