"""Result schema of the trajectory analysis.

JSON keys of the scalar properties match the HTP-MD reference
(``conductivity``, ``li_diffusivity``, ...). Units (also written into every
JSON under ``units``): conductivities S/cm, diffusivities cm²/s, molality
mol/kg, density g/cm³, temperature K, ``time_step`` ps between frames.

Every result carries the :class:`Provenance` its ``meta.json`` records
(polymer, MD protocol and its deviations from the paper, force field), so a
number from a shortened smoke run never reads like a paper-protocol value,
and ``notes`` saying why a property is undefined (NaN) where it is.
Replica checks and aggregation live in :mod:`polyhpc.analysis.replicas`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from polyhpc.errors import TrajectoryError

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
PROPERTIES_AND_ERRORS = (*PROPERTIES, "li_diffusivity_fit_err", "tfsi_diffusivity_fit_err",
                         "poly_diffusivity_fit_err")


def _shorten(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


@dataclass(frozen=True)
class Provenance:
    """Where a trajectory came from, as its ``meta.json`` records it.

    Attributes
    ----------
    mol_smiles, poly_smiles : str or None
        Repeat unit ([Au]/[Cu] ends) and the whole built chain.
    protocol : str or None
        MD profile name (``paper``, ``smoke``, ...); None when not recorded
        (HTP-MD files).
    deviations : tuple of str
        How that protocol departs from the paper's (empty for ``paper``).
    protocol_sha256 : str or None
        Hash of the protocol's settings (two runs of one name may differ).
    force_field : str or None
        E.g. ``"PCFF (pcff.frc)"``; HTP-MD files say ``"PCFF+"``.
    force_field_file : dict or None
        ``{"name": ..., "sha256": ...}`` of the parameter file used.
    md : dict
        The run's own ``provenance`` record (versions, seeds, replica).
    """

    mol_smiles: str | None = None
    poly_smiles: str | None = None
    protocol: str | None = None
    deviations: tuple[str, ...] = ()
    protocol_sha256: str | None = None
    force_field: str | None = None
    force_field_file: dict | None = None
    md: dict = field(default_factory=dict)

    @classmethod
    def from_meta(cls, meta: dict, source: str = "meta.json") -> Provenance:
        """Read the provenance fields of a ``meta.json`` dict (the others are ignored)."""
        def text(key):
            value = meta.get(key)
            if value is not None and not isinstance(value, str):
                raise TrajectoryError(f"{source}: {key} must be a string, got {value!r}")
            return value

        deviations = meta.get("deviations", [])
        if not isinstance(deviations, list) or not all(isinstance(d, str) for d in deviations):
            raise TrajectoryError(f"{source}: deviations must be a list of strings, "
                                  f"got {deviations!r}")
        ff_file = meta.get("force_field_file")
        if ff_file is not None and not (isinstance(ff_file, dict) and {"name", "sha256"}
                                        <= set(ff_file)):
            raise TrajectoryError(f"{source}: force_field_file must be "
                                  f'{{"name": ..., "sha256": ...}}, got {ff_file!r}')
        md = meta.get("provenance", {})
        return cls(mol_smiles=text("mol_smiles"), poly_smiles=text("poly_smiles"),
                   protocol=text("protocol"), deviations=tuple(deviations),
                   protocol_sha256=text("protocol_sha256"), force_field=text("force_field"),
                   force_field_file=dict(ff_file) if ff_file else None,
                   md=dict(md) if isinstance(md, dict) else {})

    def to_dict(self) -> dict:
        """Plain-data form."""
        return {**dataclasses.asdict(self), "deviations": list(self.deviations)}

    @classmethod
    def from_dict(cls, data: dict) -> Provenance:
        """Inverse of :meth:`to_dict`."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs["deviations"] = tuple(kwargs.get("deviations", ()))
        return cls(**kwargs)

    def force_field_label(self) -> str:
        """E.g. ``PCFF (pcff.frc) sha256 1a2b3c4d`` or ``PCFF+``."""
        label = self.force_field or "force field not recorded"
        if self.force_field_file:
            name = self.force_field_file.get("name", "")
            if name and name not in label:
                label += f" ({name})"
            label += f" sha256 {str(self.force_field_file.get('sha256', ''))[:8]}"
        return label

    def protocol_label(self) -> str:
        """E.g. ``protocol paper`` or ``protocol smoke (deviates from the paper)``."""
        if self.protocol is None:
            return "protocol not recorded in meta.json"
        if self.deviations:
            return f"protocol {self.protocol} (DEVIATES from the paper)"
        return f"protocol {self.protocol}"

    def warning(self) -> str | None:
        """A sentence for results whose protocol is not the paper's, else None."""
        if not self.deviations:
            return None
        return (f"protocol {self.protocol!r} deviates from the paper protocol: "
                + "; ".join(self.deviations)
                + ". Not comparable with HTP-MD or paper-protocol values.")

    def unit_label(self) -> str | None:
        """The repeat unit as a person reads it, ends as ``*`` (``*CCO*``, not ``[Cu]CCO[Au]``).

        ``mol_smiles`` itself keeps the file's spelling (JSON output, replica checks).
        """
        if not self.mol_smiles:
            return None
        from polyhpc.chem.smiles import normalize_end_markers

        return normalize_end_markers(self.mol_smiles)

    def title(self) -> str:
        """Two short provenance lines for figure titles: polymer and protocol, force field."""
        first = [_shorten(self.unit_label(), 32)] if self.mol_smiles else []
        return ", ".join([*first, self.protocol_label()]) + "\n" + self.force_field_label()


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
    provenance: Provenance = field(default_factory=Provenance)
    #: Why a property is NaN (or a caveat on it), by property name.
    notes: dict[str, str] = field(default_factory=dict)

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
            elif item.name == "provenance":
                out[item.name] = value.to_dict()
            elif item.name == "notes":
                out[item.name] = dict(value)
            else:
                out[item.name] = value
        out["units"] = UNITS
        return out

    @classmethod
    def from_dict(cls, data: dict) -> TransportResult:
        """Inverse of :meth:`to_dict` (with arrays); JSON nulls become NaN."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: (float("nan") if v is None and k in PROPERTIES_AND_ERRORS else v)
                  for k, v in data.items() if k in names}
        kwargs["population"] = np.asarray(data.get("population", [[0.0]]), dtype=np.float64)
        kwargs["msd"] = {k: MsdCurve.from_dict(v) for k, v in data.get("msd", {}).items()}
        kwargs["provenance"] = Provenance.from_dict(data.get("provenance", {}))
        return cls(**kwargs)

    def note(self, name: str) -> str:
        """Why property ``name`` is NaN, or an empty string."""
        return self.notes.get(name, "")
