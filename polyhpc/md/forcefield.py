"""PCFF parameters and charges for typed molecules.

Charges come from the ``.frc`` bond increments: each bond i-j adds
delta_ij to atom i and delta_ji to atom j (msi2lmp reads but does not
compute them). Bonded terms are looked up as msi2lmp does: first the
explicit class II tables through the ``#equivalence`` types, then the
quadratic ``*_auto`` tables through the ``#auto_equivalence`` types (which
msi2lmp ignores), wildcards included. A parameter set is complete when no
bond, angle, torsion or out-of-plane term is missing; missing cross terms
are accepted (they are zero).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from rdkit import Chem

from polyhpc.md.frc import ForceField
from polyhpc.md.typing import assign_types

# Column positions in the equivalence tables.
_EQ = {"nonb": 0, "bond": 1, "angle": 2, "torsion": 3, "oop": 4}
_AUTO = {"nonb": 0, "inct": 1, "bond": 2, "angle_end": 3, "angle_apex": 4, "torsion_end": 5,
         "torsion_center": 6, "oop_end": 7, "oop_center": 8}


@dataclass
class Assignment:
    """Types, charges and bonded terms of one molecule."""

    types: list[str]
    charges: list[float]
    bonds: list[tuple[int, int]]
    angles: list[tuple[int, int, int]]
    torsions: list[tuple[int, int, int, int]]
    impropers: list[tuple[int, int, int, int]]  # (outer, center, outer, outer)
    missing: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    approximated: list[tuple[str, ...]] = field(default_factory=list)  # generic-end torsions

    @property
    def complete(self) -> bool:
        """No bond, angle, torsion, out-of-plane or bond-increment term is missing."""
        return not any(self.missing.values())


class ParameterLookup:
    """Finds PCFF parameters for type tuples, with explicit and automatic equivalences."""

    def __init__(self, forcefield: ForceField):
        self.ff = forcefield
        self.eq = forcefield.table("equivalence")
        self.auto = forcefield.table("auto_equivalence")
        self.increments = forcefield.table("bond_increments")
        self.tables = {name: forcefield.table(name) for name in (
            "quartic_bond", "quadratic_bond", "quartic_angle", "quadratic_angle",
            "torsion_3", "torsion_1")}
        self.oop_explicit = forcefield.table("wilson_out_of_plane", "cff91")
        self.oop_auto = forcefield.table("wilson_out_of_plane", "cff91_auto")

    def _eq(self, t: str, column: str) -> str | None:
        row = self.eq.get((t,))
        return row[_EQ[column]] if row else None

    def _auto(self, t: str, column: str) -> str | None:
        row = self.auto.get((t,))
        return row[_AUTO[column]] if row else None

    @staticmethod
    def _find(table: dict, key: tuple, wildcard_ends: bool = False):
        candidates = [key, key[::-1]]
        if wildcard_ends and len(key) >= 3:
            for k in (key, key[::-1]):
                candidates += [("*", *k[1:]), (*k[:-1], "*"), ("*", *k[1:-1], "*")]
        for candidate in candidates:
            if candidate in table:
                return table[candidate]
        return None

    def increment(self, a: str, b: str) -> float | None:
        """Charge increment that a bond to ``b`` gives an atom of type ``a``."""
        pairs = ((a, b), (self._auto(a, "inct"), self._auto(b, "inct")),
                 (self._eq(a, "bond"), self._eq(b, "bond")))
        for x, y in pairs:
            if x is None or y is None:
                continue
            if (x, y) in self.increments:
                return self.increments[(x, y)][0]
            if (y, x) in self.increments:
                return self.increments[(y, x)][1]
        return None

    def bond(self, a: str, b: str):
        """Quartic (explicit) or quadratic (auto) bond parameters."""
        key = (self._eq(a, "bond"), self._eq(b, "bond"))
        found = self._find(self.tables["quartic_bond"], key) if None not in key else None
        if found is None:
            key = (self._auto(a, "bond"), self._auto(b, "bond"))
            found = self._find(self.tables["quadratic_bond"], key) if None not in key else None
        return found

    def angle(self, a: str, b: str, c: str):
        """Quartic (explicit) or quadratic (auto) angle parameters."""
        key = tuple(self._eq(t, "angle") for t in (a, b, c))
        found = self._find(self.tables["quartic_angle"], key) if None not in key else None
        if found is None:
            key = (self._auto(a, "angle_end"), self._auto(b, "angle_apex"),
                   self._auto(c, "angle_end"))
            if None not in key:
                found = self._find(self.tables["quadratic_angle"], key, wildcard_ends=True)
        return found

    def torsion(self, a: str, b: str, c: str, d: str):
        """Three-term (explicit) or one-term (auto) torsion parameters."""
        return self.torsion_with_source(a, b, c, d)[0]

    def torsion_with_source(self, a: str, b: str, c: str, d: str):
        """Torsion parameters and where they came from.

        Sources: ``explicit`` (torsion_3), ``auto`` (torsion_1), or
        ``generic-end``: the explicit entry for the same central bond with a
        heavy end atom replaced by generic sp3 carbon ``c``. The last is the
        documented fallback for torsions the public PCFF lacks (an sp2 or sp
        carbon at the end of an ester/carbonate C-O torsion); the central
        bond, which dominates the barrier, keeps its own parameters.
        """
        key = tuple(self._eq(t, "torsion") for t in (a, b, c, d))
        if None not in key:
            found = self._find(self.tables["torsion_3"], key, True)
            if found is not None:
                return found, "explicit"
        auto = (self._auto(a, "torsion_end"), self._auto(b, "torsion_center"),
                self._auto(c, "torsion_center"), self._auto(d, "torsion_end"))
        if None not in auto:
            found = self._find(self.tables["torsion_1"], auto, wildcard_ends=True)
            if found is not None:
                return found, "auto"
        if None not in key:
            for first, last in ((key[0], "c"), ("c", key[3]), ("c", "c")):
                if (first != key[0] and key[0] in ("h", "f")) or \
                        (last != key[3] and key[3] in ("h", "f")):
                    continue
                found = self._find(self.tables["torsion_3"], (first, key[1], key[2], last))
                if found is not None:
                    return found, "generic-end"
        return None, None

    def out_of_plane(self, center: str, outer: tuple[str, str, str]):
        """Wilson out-of-plane parameters; any order of the three outer atoms."""
        c = self._eq(center, "oop")
        names = [self._eq(t, "oop") for t in outer]
        if c is not None and None not in names:
            for i, k, m in itertools.permutations(names):
                if (i, c, k, m) in self.oop_explicit:
                    return self.oop_explicit[(i, c, k, m)]
        c = self._auto(center, "oop_center")
        names = [self._auto(t, "oop_end") for t in outer]
        if c is None or None in names:
            return None
        for i, k, m in itertools.permutations(names):
            for key in ((i, c, k, m), ("*", c, k, m), (i, c, "*", m), (i, c, k, "*"),
                        ("*", c, "*", "*")):
                if key in self.oop_auto:
                    return self.oop_auto[key]
        return None


def _is_planar(atom: Chem.Atom) -> bool:
    return atom.GetDegree() == 3 and (atom.GetIsAromatic() or any(
        b.GetBondTypeAsDouble() >= 2.0 for b in atom.GetBonds()) or atom.GetSymbol() == "N"
        and any(n.GetSymbol() == "C" and any(b.GetBondTypeAsDouble() == 2.0
                                             for b in n.GetBonds()) for n in atom.GetNeighbors()))


def assign_parameters(mol: Chem.Mol, lookup: ParameterLookup) -> Assignment:
    """Type a molecule (explicit hydrogens), compute charges, check every bonded term.

    Out-of-plane terms are required at planar three-coordinate centres
    (sp2 carbon, carbonyl, amide nitrogen, aromatic atoms).
    """
    types = assign_types(mol)
    n = mol.GetNumAtoms()
    charges = [0.0] * n
    missing: dict[str, list] = {"bond": [], "angle": [], "torsion": [], "out_of_plane": [],
                                "bond_increment": []}
    bonds = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()]
    for i, j in bonds:
        for a, b in ((i, j), (j, i)):
            delta = lookup.increment(types[a], types[b])
            if delta is None:
                missing["bond_increment"].append((types[a], types[b]))
            else:
                charges[a] += delta
        if lookup.bond(types[i], types[j]) is None:
            missing["bond"].append((types[i], types[j]))
    neighbours = [[x.GetIdx() for x in atom.GetNeighbors()] for atom in mol.GetAtoms()]
    angles = [(i, j, k) for j in range(n) for i, k in itertools.combinations(neighbours[j], 2)]
    for i, j, k in angles:
        if lookup.angle(types[i], types[j], types[k]) is None:
            missing["angle"].append((types[i], types[j], types[k]))
    torsions = []
    for j, k in bonds:
        for i in neighbours[j]:
            for m in neighbours[k]:
                if i not in (j, k) and m not in (j, k) and i != m:
                    torsions.append((i, j, k, m))
    approximated = []
    for i, j, k, m in torsions:
        found, source = lookup.torsion_with_source(types[i], types[j], types[k], types[m])
        if found is None:
            missing["torsion"].append((types[i], types[j], types[k], types[m]))
        elif source == "generic-end":
            approximated.append((types[i], types[j], types[k], types[m]))
    impropers = []
    for atom in mol.GetAtoms():
        if _is_planar(atom):
            i, k, m = neighbours[atom.GetIdx()]
            impropers.append((i, atom.GetIdx(), k, m))
            if lookup.out_of_plane(types[atom.GetIdx()], (types[i], types[k], types[m])) is None:
                missing["out_of_plane"].append((types[atom.GetIdx()], types[i], types[k],
                                                types[m]))
    return Assignment(types, [round(q, 6) for q in charges], bonds, angles, torsions,
                      impropers, {k: sorted(set(v)) for k, v in missing.items()},
                      sorted(set(approximated)))
