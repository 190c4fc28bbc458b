"""Result schema of the trajectory analysis and replica aggregation.

JSON keys of the scalar properties match the HTP-MD reference
(``conductivity``, ``li_diffusivity``, ...). Units (also written into every
JSON under ``units``): conductivities S/cm, diffusivities cm²/s, molality
mol/kg, density g/cm³, temperature K, ``time_step`` ps between frames.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

UNITS = {
    "conductivity": "S/cm", "conductivity_ne": "S/cm",
    "transference_number": "1", "transference_number_ne": "1",
    "li_diffusivity": "cm^2/s", "tfsi_diffusivity": "cm^2/s", "poly_diffusivity": "cm^2/s",
    "li_diffusivity_fit": "cm^2/s", "tfsi_diffusivity_fit": "cm^2/s",
    "poly_diffusivity_fit": "cm^2/s",
    "molality": "mol/kg", "density": "g/cm^3", "temperature": "K", "time_step": "ps",
    "volume": "A^3", "msd": "A^2 vs ps",
}

#: Scalar properties aggregated over replicas.
PROPERTIES = (
    "conductivity", "transference_number", "conductivity_ne", "transference_number_ne",
    "li_diffusivity", "tfsi_diffusivity", "poly_diffusivity",
    "li_diffusivity_fit", "tfsi_diffusivity_fit", "poly_diffusivity_fit",
    "molality", "density", "free_cation_fraction", "free_anion_fraction",
)


@dataclass(frozen=True)
class MsdCurve:
    """Multiple-time-origin MSD of one species."""

    time_ps: np.ndarray  # (n_lags,) float64
    msd_A2: np.ndarray  # (n_lags,) float64

    def to_dict(self) -> dict:
        """Plain-data form."""
        return {"time_ps": self.time_ps.tolist(), "msd_A2": self.msd_A2.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> MsdCurve:
        """Inverse of :meth:`to_dict`."""
        return cls(np.asarray(data["time_ps"]), np.asarray(data["msd_A2"]))


@dataclass(frozen=True)
class TransportResult:
    """Transport properties of one trajectory (one replica)."""

    conductivity: float
    transference_number: float
    conductivity_ne: float
    transference_number_ne: float
    li_diffusivity: float
    tfsi_diffusivity: float
    poly_diffusivity: float
    li_diffusivity_fit: float
    li_diffusivity_fit_err: float
    tfsi_diffusivity_fit: float
    tfsi_diffusivity_fit_err: float
    poly_diffusivity_fit: float
    poly_diffusivity_fit_err: float
    molality: float
    density: float
    free_cation_fraction: float
    free_anion_fraction: float
    temperature: float
    time_step: float
    n_frames: int
    n_cations: int
    n_anions: int
    volume: float
    population: np.ndarray  # (rows, cols) float64, mean clusters with i cations, j anions
    msd: dict[str, MsdCurve] = field(default_factory=dict)
    source: str = ""

    def to_dict(self, arrays: bool = True) -> dict:
        """JSON-ready dict; ``arrays=False`` leaves out the matrix and curves."""
        out = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if item.name == "population":
                if arrays:
                    out[item.name] = value.tolist()
            elif item.name == "msd":
                if arrays:
                    out[item.name] = {k: v.to_dict() for k, v in value.items()}
            else:
                out[item.name] = value
        out["units"] = UNITS
        return out

    @classmethod
    def from_dict(cls, data: dict) -> TransportResult:
        """Inverse of :meth:`to_dict` (with arrays)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs["population"] = np.asarray(data.get("population", [[0.0]]), dtype=np.float64)
        kwargs["msd"] = {k: MsdCurve.from_dict(v) for k, v in data.get("msd", {}).items()}
        return cls(**kwargs)


@dataclass(frozen=True)
class ReplicaSummary:
    """Mean and sample standard deviation of each property over replicas."""

    n_replicas: int
    mean: dict[str, float]
    std: dict[str, float]
    sources: tuple[str, ...]

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {"n_replicas": self.n_replicas, "mean": self.mean, "std": self.std,
                "sources": list(self.sources), "units": UNITS}


def aggregate_replicas(results: list[TransportResult]) -> ReplicaSummary:
    """Replica mean ± std (ddof=1; NaN for a single replica) of every property."""
    if not results:
        raise ValueError("no results to aggregate")
    mean, std = {}, {}
    for name in PROPERTIES:
        values = np.array([getattr(r, name) for r in results], dtype=np.float64)
        mean[name] = float(values.mean())
        std[name] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
    return ReplicaSummary(len(results), mean, std, tuple(r.source for r in results))
