"""PCFF parameters and charges for typed molecules.

Charges come from the ``.frc`` bond increments: each bond i-j adds
delta_ij to atom i and delta_ji to atom j (msi2lmp reads but does not
compute them). Bonded terms are looked up as msi2lmp does: first the
explicit class II tables through the ``#equivalence`` types, then the
quadratic ``*_auto`` tables through the ``#auto_equivalence`` types (which
msi2lmp ignores), wildcards included. A parameter set is complete when no
bond, angle, torsion or out-of-plane term is missing and every bond's two
increments cancel (a neutral unit stays neutral); missing cross terms are
accepted (they are zero).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from rdkit import Chem

from polyhpc.errors import PolyhpcError
from polyhpc.md.datafile import Molecule, bonded_terms, canonical_key
from polyhpc.md.frc import ForceField
from polyhpc.md.typing import assign_types, refine_types

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
        self.defined_types = {key[0] for key in forcefield.table("atom_types")}
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
    types = refine_types(mol, assign_types(mol), lookup.defined_types)
    n = mol.GetNumAtoms()
    charges = [0.0] * n
    missing: dict[str, list] = {"bond": [], "angle": [], "torsion": [], "out_of_plane": [],
                                "bond_increment": [], "non_neutral_increment": []}
    bonds = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()]
    for i, j in bonds:
        forward = lookup.increment(types[i], types[j])
        backward = lookup.increment(types[j], types[i])
        for a, b, delta in ((i, j, forward), (j, i, backward)):
            if delta is None:
                missing["bond_increment"].append((types[a], types[b]))
            else:
                charges[a] += delta
        if forward is not None and backward is not None and abs(forward + backward) > 1e-6:
            # e.g. the public PCFF's o-/p increments (-0.85/+0.35), meant for phosphate
            # anions, would leave a neutral P=O group with a net charge of -0.5
            missing["non_neutral_increment"].append((types[i], types[j]))
        if lookup.bond(types[i], types[j]) is None:
            missing["bond"].append((types[i], types[j]))
    neighbours = [[x.GetIdx() for x in atom.GetNeighbors()] for atom in mol.GetAtoms()]
    angles, torsions, _ = bonded_terms(bonds, neighbours)
    for i, j, k in angles:
        if lookup.angle(types[i], types[j], types[k]) is None:
            missing["angle"].append((types[i], types[j], types[k]))
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


class IncompleteParametersError(PolyhpcError):
    """A molecule lacks a bond, angle, torsion, out-of-plane or charge-increment term."""


def _oriented(table: dict, key: tuple, wildcard_ends: bool = True):
    """``(values, backwards)`` of the first match of ``key`` (exact, then wildcards)."""
    for candidate, backwards in ((key, False), (key[::-1], True)):
        if candidate in table:
            return table[candidate], backwards
    if wildcard_ends and len(key) >= 3:
        for k, backwards in ((key, False), (key[::-1], True)):
            for candidate in (("*", *k[1:]), (*k[:-1], "*"), ("*", *k[1:-1], "*")):
                if candidate in table:
                    return table[candidate], backwards
    return None, False


def _left_right(values: list[float], width: int, backwards: bool) -> list[float]:
    """LEFT/RIGHT cross-term columns; a single set means both sides are equal."""
    left = list(values[:width])
    right = list(values[width:2 * width]) or left
    return right + left if backwards else left + right


class Class2Terms:
    """LAMMPS class2 coefficient lines for PCFF-typed terms, cross terms included.

    Cross terms are looked up like msi2lmp does: through the explicit
    equivalence types only (angle column for bond-bond and bond-angle,
    torsion column for the torsion cross terms, out-of-plane column for
    angle-angle), exact keys before wildcards; a cross term the ``.frc``
    lacks is zero. Reference lengths and angles come from the main terms.
    """

    def __init__(self, lookup: ParameterLookup):
        self.lookup = lookup
        ff = lookup.ff
        self.cross = {name: ff.table(name) for name in (
            "bond-bond", "bond-angle", "angle-angle", "end_bond-torsion_3",
            "middle_bond-torsion_3", "angle-torsion_3", "angle-angle-torsion_1",
            "bond-bond_1_3")}

    def _eq(self, key: tuple, column: str) -> tuple:
        return tuple(self.lookup._eq(t, column) for t in key)

    def r0(self, a: str, b: str) -> float:
        """Equilibrium length of bond a-b."""
        return self.lookup.bond(a, b)[0]

    def theta0(self, a: str, b: str, c: str) -> float:
        """Equilibrium angle a-b-c."""
        return self.lookup.angle(a, b, c)[0]

    def bond(self, key: tuple) -> dict[str, list[float]]:
        """``Bond Coeffs``: r0 K2 K3 K4."""
        values = list(self.lookup.bond(*key))
        return {"Bond Coeffs": (values + [0.0, 0.0])[:4]}

    def angle(self, key: tuple) -> dict[str, list[float]]:
        """``Angle``, ``BondBond`` and ``BondAngle Coeffs`` of angle i-j-k."""
        values = list(self.lookup.angle(*key))
        r1, r2 = self.r0(*key[:2]), self.r0(*key[1:])
        eq = self._eq(key, "angle")
        bb, _ = _oriented(self.cross["bond-bond"], eq)
        ba, backwards = _oriented(self.cross["bond-angle"], eq)
        ba = _left_right(ba, 1, backwards) if ba else [0.0, 0.0]
        return {"Angle Coeffs": (values + [0.0, 0.0])[:4],
                "BondBond Coeffs": [bb[0] if bb else 0.0, r1, r2],
                "BondAngle Coeffs": [ba[0], ba[1], r1, r2]}

    def dihedral(self, key: tuple) -> dict[str, list[float]]:
        """Torsion and its five cross terms (LAMMPS dihedral_style class2)."""
        found, source = self.lookup.torsion_with_source(*key)
        if source == "auto":  # torsion_1: K [1 + cos(n phi - phi0)]
            k, n, phi0 = found[0], int(round(found[1])), found[2]
            coeffs = [0.0] * 6
            if 1 <= n <= 3:
                coeffs[2 * (n - 1)] = k
                coeffs[2 * (n - 1) + 1] = (phi0 - 180.0) % 360.0
        else:
            coeffs = list(found[:6])
        r1, r2, r3 = self.r0(*key[:2]), self.r0(*key[1:3]), self.r0(*key[2:])
        t1, t2 = self.theta0(*key[:3]), self.theta0(*key[1:])
        eq = self._eq(key, "torsion")
        mbt, _ = _oriented(self.cross["middle_bond-torsion_3"], eq)
        ebt, back_e = _oriented(self.cross["end_bond-torsion_3"], eq)
        at, back_a = _oriented(self.cross["angle-torsion_3"], eq)
        aat, _ = _oriented(self.cross["angle-angle-torsion_1"], eq)
        bb13, _ = _oriented(self.cross["bond-bond_1_3"], eq)
        return {"Dihedral Coeffs": coeffs,
                "MiddleBondTorsion Coeffs": (list(mbt[:3]) if mbt else [0.0] * 3) + [r2],
                "EndBondTorsion Coeffs": (_left_right(ebt, 3, back_e) if ebt else [0.0] * 6)
                + [r1, r3],
                "AngleTorsion Coeffs": (_left_right(at, 3, back_a) if at else [0.0] * 6)
                + [t1, t2],
                "AngleAngleTorsion Coeffs": [aat[0] if aat else 0.0, t1, t2],
                "BondBond13 Coeffs": [bb13[0] if bb13 else 0.0, r1, r3]}

    def improper(self, key: tuple, planar: bool) -> dict[str, list[float]]:
        """Wilson out-of-plane (planar centres) and angle-angle terms of i-j-k-l, centre j.

        LAMMPS improper_style class2: M1 couples angles ijk and kjl, M2 ijk
        and ijl, M3 ijl and kjl; theta1..3 are ijk, ijl, kjl.
        """
        i, j, k, m = key
        oop = self.lookup.out_of_plane(j, (i, k, m)) if planar else None
        table = self.cross["angle-angle"]
        eq = self._eq(key, "oop")
        if None in eq:
            values = [0.0, 0.0, 0.0]
        else:
            a, c, b, d = eq[0], eq[1], eq[2], eq[3]

            def coupling(first, shared, last):
                # angles first-c-shared and shared-c-last; symmetric in first <-> last
                found = table.get((first, c, shared, last)) or table.get((last, c, shared, first))
                return found[0] if found else 0.0
            values = [coupling(a, b, d), coupling(b, a, d), coupling(a, d, b)]
        return {"Improper Coeffs": list(oop[:2]) if oop else [0.0, 0.0],
                "AngleAngle Coeffs": values + [self.theta0(i, j, k), self.theta0(i, j, m),
                                               self.theta0(k, j, m)]}


def class2_molecule(mol: Chem.Mol, lookup: ParameterLookup, name: str = "polymer"):
    """Typed molecule and class2 coefficient lines for a data file.

    Impropers: one per three-coordinated atom (Wilson term at planar
    centres, angle-angle only elsewhere) and the four triples of every
    four-coordinated atom (angle-angle only), as msi2lmp writes class II.

    Raises
    ------
    IncompleteParametersError
        A bond, angle, torsion, out-of-plane or bond-increment term is missing;
        the message lists the type tuples.
    """
    assignment = assign_parameters(mol, lookup)
    if not assignment.complete:
        missing = "; ".join(f"{kind} {'-'.join(key)}" for kind, keys in
                            assignment.missing.items() for key in keys[:3])
        raise IncompleteParametersError(
            f"{name}: the force field lacks required terms ({missing})")
    labels = assignment.types
    builder = Class2Terms(lookup)
    angles = [canonical_key(labels, a)[1] for a in assignment.angles]
    dihedrals = [canonical_key(labels, d)[1] for d in assignment.torsions]
    neighbours = [[x.GetIdx() for x in atom.GetNeighbors()] for atom in mol.GetAtoms()]
    _, _, impropers = bonded_terms(assignment.bonds, neighbours)
    planar = {atom.GetIdx() for atom in mol.GetAtoms() if _is_planar(atom)}
    terms: dict = {"bond": {}, "angle": {}, "dihedral": {}, "improper": {}}
    for i, j in assignment.bonds:
        key = tuple(sorted((labels[i], labels[j])))
        if key not in terms["bond"]:
            terms["bond"][key] = builder.bond(key)
    for kind, instances, make in (("angle", angles, builder.angle),
                                  ("dihedral", dihedrals, builder.dihedral)):
        for atoms in instances:
            key = tuple(labels[a] for a in atoms)
            if key not in terms[kind]:
                terms[kind][key] = make(key)
    improper_keys = []
    for atoms in impropers:
        key = tuple(labels[a] for a in atoms) + (("planar",) if atoms[1] in planar else ())
        improper_keys.append(key)
        if key not in terms["improper"]:
            terms["improper"][key] = builder.improper(key[:4], atoms[1] in planar)
    molecule = Molecule(name, tuple(labels), tuple(assignment.charges),
                        np.zeros((len(labels), 3)), tuple(assignment.bonds), tuple(angles),
                        tuple(dihedrals), tuple(impropers), {"improper": tuple(improper_keys)})
    return molecule, terms, assignment
