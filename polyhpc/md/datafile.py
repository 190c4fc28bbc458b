"""LAMMPS data files (atom_style full, class2 coefficients) for polymer-salt systems.

A :class:`System` is a periodic cubic box holding placed molecules, the
parameters of each atom type, and the coefficient lines of each bonded type
(keyed by type labels). :func:`write_data` numbers the types and writes
one self-contained data file: masses, pair coefficients and every class2
coefficient section (cross terms included), atoms with molecule ids and
image flags, and the topology. Atom types with a fixed number (the ions:
Li 90, TFSI 91-95) keep it; the polymer's types are numbered from 1 and the
gap is filled with unused types, as in the HTP-MD data files.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from polyhpc.fileio import write_text_atomic

#: Coefficient sections of each bonded kind, in the order they are written.
SECTIONS = {
    "bond": ("Bond Coeffs",),
    "angle": ("Angle Coeffs", "BondBond Coeffs", "BondAngle Coeffs"),
    "dihedral": ("Dihedral Coeffs", "MiddleBondTorsion Coeffs", "EndBondTorsion Coeffs",
                 "AngleTorsion Coeffs", "AngleAngleTorsion Coeffs", "BondBond13 Coeffs"),
    "improper": ("Improper Coeffs", "AngleAngle Coeffs"),
}
_PLURAL = {"bond": "bonds", "angle": "angles", "dihedral": "dihedrals", "improper": "impropers"}


def bonded_terms(bonds, neighbours) -> tuple[list, list, list]:
    """Angles, dihedrals and class II impropers implied by the bonds.

    ``neighbours[i]`` lists the atoms bonded to atom ``i``. Impropers, centre
    second: one per three-coordinated atom and the four triples of every
    four-coordinated atom, as msi2lmp writes class II.
    """
    angles = [(i, j, k) for j, near in enumerate(neighbours)
              for i, k in itertools.combinations(near, 2)]
    dihedrals = [(i, j, k, m) for j, k in bonds for i in neighbours[j] for m in neighbours[k]
                 if i not in (j, k) and m not in (j, k) and i != m]
    impropers = []
    for j, near in enumerate(neighbours):
        if len(near) == 3:
            impropers.append((near[0], j, near[1], near[2]))
        elif len(near) == 4:
            impropers += [(a, j, b, c) for a, b, c in itertools.combinations(near, 3)]
    return angles, dihedrals, impropers


def canonical_key(labels, atoms) -> tuple[tuple, tuple]:
    """Type key of a bond/angle/dihedral and its atoms, read in the smaller direction."""
    key = tuple(labels[a] for a in atoms)
    if key[::-1] < key:
        return key[::-1], tuple(atoms[::-1])
    return key, tuple(atoms)


@dataclass(frozen=True)
class Molecule:
    """One molecule with typed atoms and bonded terms, ready for a data file.

    Bonded instances are atom-index tuples (impropers list the centre
    second). Their type keys are given in ``keys[kind]`` or, when absent,
    read from the labels (bonds sorted, angles and dihedrals in canonical
    direction, impropers as listed).
    """

    name: str
    labels: tuple[str, ...]
    charges: tuple[float, ...]
    xyz: np.ndarray
    bonds: tuple[tuple[int, ...], ...] = ()
    angles: tuple[tuple[int, ...], ...] = ()
    dihedrals: tuple[tuple[int, ...], ...] = ()
    impropers: tuple[tuple[int, ...], ...] = ()
    keys: dict[str, tuple[tuple, ...]] = field(default_factory=dict)

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return len(self.labels)

    def instances(self, kind: str) -> list[tuple[tuple[int, ...], tuple]]:
        """``(atoms, key)`` of every term of one kind."""
        atoms = getattr(self, _PLURAL[kind])
        if kind in self.keys:
            return list(zip(atoms, self.keys[kind], strict=True))
        if kind == "bond":
            return [(a, tuple(sorted(self.labels[i] for i in a))) for a in atoms]
        if kind == "improper":
            return [(a, tuple(self.labels[i] for i in a)) for a in atoms]
        return [(a, canonical_key(self.labels, a)[0]) for a in atoms]

    def placed(self, xyz: np.ndarray) -> Molecule:
        """The same molecule at new coordinates."""
        return Molecule(self.name, self.labels, self.charges, np.asarray(xyz, float),
                        self.bonds, self.angles, self.dihedrals, self.impropers, self.keys)


@dataclass(frozen=True)
class AtomType:
    """Per-type parameters: element, mass, lj/class2 epsilon and sigma, fixed number."""

    element: str
    mass: float
    epsilon: float
    sigma: float
    number: int | None = None


@dataclass
class System:
    """Molecules in a cubic periodic box with all parameters needed to write it."""

    box: float
    molecules: list[Molecule]
    atom_types: dict[str, AtomType]
    terms: dict[str, dict[tuple, dict[str, list[float]]]]

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return sum(m.n_atoms for m in self.molecules)

    def type_numbers(self) -> dict[str, int]:
        """LAMMPS number of every atom-type label (fixed numbers kept)."""
        numbers = {label: t.number for label, t in self.atom_types.items()
                   if t.number is not None}
        used = set(numbers.values())
        next_free = 1
        for molecule in self.molecules:
            for label in molecule.labels:
                if label not in numbers:
                    while next_free in used:
                        next_free += 1
                    numbers[label] = next_free
                    used.add(next_free)
        return numbers


def _format(values) -> str:
    return " ".join(f"{v:.10g}" for v in values)


def write_data(path: Path, system: System, title: str = "polyhpc") -> dict[str, int]:
    """Write ``system`` as a LAMMPS data file; return the counts written.

    Coordinates are wrapped into the box with image flags, so molecules
    that cross a boundary stay whole when unwrapped.
    """
    numbers = system.type_numbers()
    n_types = max(numbers.values())
    label_of = {n: label for label, n in numbers.items()}
    bonded: dict[str, dict[tuple, int]] = {kind: {} for kind in SECTIONS}
    rows: dict[str, list[str]] = {kind: [] for kind in SECTIONS}
    atom_rows = []
    offset = 0
    for mol_id, molecule in enumerate(system.molecules, start=1):
        xyz = np.asarray(molecule.xyz, float)
        image = np.floor(xyz / system.box).astype(int)
        wrapped = xyz - image * system.box
        for i in range(molecule.n_atoms):
            x, y, z = wrapped[i]
            ix, iy, iz = image[i]
            atom_rows.append(f"{offset + i + 1} {mol_id} {numbers[molecule.labels[i]]} "
                             f"{molecule.charges[i]:.6f} {x:.6f} {y:.6f} {z:.6f} {ix} {iy} {iz}")
        for kind in SECTIONS:
            for atoms, key in molecule.instances(kind):
                if key not in system.terms[kind]:
                    raise KeyError(f"no {kind} coefficients for {key} in {molecule.name}")
                type_id = bonded[kind].setdefault(key, len(bonded[kind]) + 1)
                ids = " ".join(str(offset + a + 1) for a in atoms)
                rows[kind].append(f"{len(rows[kind]) + 1} {type_id} {ids}")
        offset += molecule.n_atoms
    box = system.box
    out = [f"{title}\n", f"{offset} atoms"]
    out += [f"{len(rows[k])} {_PLURAL[k]}" for k in SECTIONS if rows[k]]
    out.append(f"{n_types} atom types")
    out += [f"{len(bonded[k])} {k} types" for k in SECTIONS if bonded[k]]
    out += ["", f"0.0 {box:.6f} xlo xhi", f"0.0 {box:.6f} ylo yhi", f"0.0 {box:.6f} zlo zhi",
            ""]
    masses, pairs = ["Masses", ""], ["", "Pair Coeffs # lj/class2/coul/long", ""]
    unused = AtomType("", 1.0, 0.0, 1.0)  # padding up to the fixed ion numbers
    for n in range(1, n_types + 1):
        label = label_of.get(n, "unused")
        t = system.atom_types.get(label, unused)
        masses.append(f"{n} {t.mass:.5f} # {label}")
        pairs.append(f"{n} {t.epsilon:.6g} {t.sigma:.6g} # {label}")
    out += masses + pairs
    for kind, sections in SECTIONS.items():
        if not bonded[kind]:
            continue
        for section in sections:
            style = " # class2" if section.split()[0].lower() == kind else ""
            out += ["", f"{section}{style}", ""]
            for key, type_id in bonded[kind].items():
                values = system.terms[kind][key][section]
                out.append(f"{type_id} {_format(values)} # {' '.join(key)}")
    out += ["", "Atoms # full", "", *atom_rows]
    for kind in SECTIONS:
        if rows[kind]:
            out += ["", _PLURAL[kind].capitalize(), "", *rows[kind]]
    write_text_atomic(path, "\n".join(out) + "\n")
    counts = {"atoms": offset, "atom_types": n_types}
    counts.update({_PLURAL[k]: len(rows[k]) for k in SECTIONS})
    counts.update({f"{k}_types": len(bonded[k]) for k in SECTIONS})
    return counts
