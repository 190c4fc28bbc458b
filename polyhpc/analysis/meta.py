"""HTP-MD trajectory metadata (``meta.json``): read, checked, overridable.

Kept apart from the readers so that the command line can take the declared
ranges of the fields (the ``analyze`` options that override them) without
importing Numba.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from polyhpc.errors import TrajectoryError

#: Fields the HTP-MD ``meta.json`` schema requires for the analysis.
REQUIRED_META = (
    "temperature", "time_step", "cation_raw_type", "anion_raw_type",
    "polymer_raw_type_range", "polymer_solvate_types",
)


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TrajectoryError(f"{name} must be a number, got {value!r}")
    try:
        return float(value)
    except OverflowError:  # an integer beyond any float
        raise TrajectoryError(f"{name} must be a finite number, got an integer of "
                              f"{len(str(value))} digits") from None


def _integer(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TrajectoryError(f"{name} must be an integer, got {value!r}")
    if not -(2**63) <= value < 2**63:  # LAMMPS types and ids are 64-bit at most
        raise TrajectoryError(f"{name} must be a 64-bit integer, got one of "
                              f"{len(str(value))} digits")
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


def _check_range(value, meta: dict) -> None:
    """Refuse a value outside the field's declared range, naming its meta.json key."""
    low, high = meta.get("min"), meta.get("max")
    inside = math.isfinite(value) and (low is None or value > low or (
        value == low and not meta.get("min_open"))) and (high is None or value <= high)
    if not inside:
        bound = ">" if meta.get("min_open") else ">="
        allowed = f"{bound} {low}" + (f" and <= {high}" if high is not None else "")
        raise TrajectoryError(f"{meta['key']} must be {allowed} ({meta['unit']}), got {value}")


def _declared(key: str, unit: str, **bounds):
    """Field metadata: meta.json key, unit and range (read by the CLI's option types too)."""
    return {"key": key, "unit": unit, **bounds}


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

    # Each range is declared once, here: __post_init__ checks it and the `analyze` options
    # that override a field take their click type from it (polyhpc.config.option_type).
    temperature_K: float = field(metadata=_declared("temperature", "K", min=0.0, min_open=True))
    frame_interval_ps: float = field(metadata=_declared(
        "time_step", "ps between saved frames", min=0.0, min_open=True))
    cation_type: int = field(metadata=_declared("cation_raw_type", "LAMMPS atom type", min=1))
    anion_type: int = field(metadata=_declared("anion_raw_type", "LAMMPS atom type", min=1))
    polymer_type_range: tuple[int, int] = field(metadata=_declared(
        "polymer_raw_type_range", "LAMMPS atom types", min=0))
    solvate_atomic_numbers: tuple[int, ...] = field(metadata=_declared(
        "polymer_solvate_types", "atomic numbers", min=1, max=118))
    cluster_anion_types: tuple[int, ...] = field(default=(93, 94, 95), metadata=_declared(
        "cluster_anion_types", "LAMMPS atom types", min=1))
    cluster_cutoff_A: float = field(default=3.4, metadata=_declared(
        "cluster_cutoff_A", "Å", min=0.0, min_open=True))
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse values no trajectory can have, naming the ``meta.json`` field."""
        for item in dataclasses.fields(self):
            if "min" not in item.metadata:
                continue
            value = getattr(self, item.name)
            for number in value if isinstance(value, tuple) else (value,):
                _check_range(number, item.metadata)
        low, high = self.polymer_type_range
        if low > high:
            raise TrajectoryError(f"polymer_raw_type_range must be [low, high] with "
                                  f"low <= high, got [{low}, {high}]")
        if not self.solvate_atomic_numbers:
            raise TrajectoryError("polymer_solvate_types must name at least one element")
        self._check_type_map()

    def _check_type_map(self) -> None:
        """Refuse types with two roles: each would count atoms as what they are not."""
        if self.cation_type == self.anion_type:
            raise TrajectoryError(f"cation_raw_type and anion_raw_type are both "
                                  f"{self.cation_type}: the cation and the anion need their "
                                  "own types")
        if self.cation_type in self.cluster_anion_types:
            raise TrajectoryError(f"cation_raw_type {self.cation_type} is also in "
                                  f"cluster_anion_types {list(self.cluster_anion_types)}")
        if self.anion_type not in self.cluster_anion_types:
            raise TrajectoryError(f"anion_raw_type {self.anion_type} must be one of "
                                  f"cluster_anion_types {list(self.cluster_anion_types)} (the "
                                  "anion is counted by an atom of its clusters)")
        low, high = self.polymer_type_range
        ions = {self.cation_type: "cation_raw_type", self.anion_type: "anion_raw_type"}
        for value in self.cluster_anion_types:
            ions.setdefault(value, "cluster_anion_types")
        inside = [f"{value} ({key})" for value, key in sorted(ions.items())
                  if low <= value <= high]
        if inside:
            raise TrajectoryError(f"polymer_raw_type_range [{low}, {high}] holds ion type(s) "
                                  f"{', '.join(inside)}: polymer and ion types must not overlap")

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
        changes = {k: v for k, v in overrides.items() if v is not None}
        try:
            return dataclasses.replace(self, **changes)
        except TrajectoryError as exc:
            keys = [item.metadata.get("key", item.name) for item in dataclasses.fields(self)
                    if item.name in changes]
            raise TrajectoryError(f"{exc} (with {', '.join(keys)} overridden)") from None


def read_meta(path: Path) -> TrajectoryMeta:
    """Read an HTP-MD ``meta.json``.

    Raises
    ------
    TrajectoryError
        One line naming the file when it is missing, unreadable (a folder, no
        permission), not UTF-8 JSON, not a JSON object, or lacks or has
        impossible fields.
    """
    try:
        data = json.loads(Path(path).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise TrajectoryError(f"metadata file {path} not found (pass --meta)") from None
    except IsADirectoryError:
        raise TrajectoryError(f"metadata file {path} is a folder, not a file") from None
    except OSError as exc:
        raise TrajectoryError(f"cannot read metadata file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise TrajectoryError(f"{path} is not a text file (meta.json is UTF-8 JSON)") from None
    except ValueError as exc:  # JSONDecodeError, or an integer of more than 4300 digits
        raise TrajectoryError(f"{path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise TrajectoryError(f"{path} is not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise TrajectoryError(f"{path} must hold a JSON object of fields, got "
                              f"{json.dumps(data)[:40]}")
    return TrajectoryMeta.from_dict(data, str(path))
