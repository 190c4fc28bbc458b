"""The Li+ / TFSI- model of the HTP-MD protocol, in polyhpc's own format.

Source: Monteiro, Bazito, Siqueira, Ribeiro, Torresi, "Transport coefficients,
Raman spectroscopy, and computer simulation of lithium salt solutions in an
ionic liquid", J. Phys. Chem. B 112, 2102 (2008) (ref. 48 of Khajeh et al. 2025), in
the class II form HTP-MD used (Xie et al., Nat. Commun. 13, 3415 (2022)) with
the ionic charges scaled by 0.7 (Li +0.7, TFSI total -0.7).
The public ``pcff.frc`` has no usable Li+ or TFSI- parameters, which is why
they live here and not in the force-field file.

Type labels follow the HTP-MD data files, which keep the ions identifiable:
Li is LAMMPS type 90 and the TFSI atoms are 91-95 (C, F, N, O, S; 93 = N).
All TFSI cross terms are zero; only the reference lengths and angles they
carry are given. Every term is keyed by its type labels, so the data-file
writer treats the ions exactly like a parameterized polymer.
"""

from __future__ import annotations

import numpy as np

from polyhpc.md.datafile import Molecule, bonded_terms, canonical_key

CITATION = ("Li+/TFSI-: Monteiro et al., J. Phys. Chem. B 112, 2102 (2008), "
            "charges scaled by 0.7 (HTP-MD, Xie et al., Nat. Commun. 13, 3415 (2022))")
CHARGE_SCALE = 0.7

#: label -> (LAMMPS type, element, mass, lj/class2 epsilon [kcal/mol], sigma [A])
ION_TYPES = {
    "Li+": (90, "Li", 6.941, 0.3727, 1.635),
    "c_tfsi": (91, "C", 12.01115, 0.04, 3.75),
    "f_tfsi": (92, "F", 18.9984, 0.0488, 3.421),
    "n_tfsi": (93, "N", 14.0067, 0.1643, 3.89),
    "o_tfsi": (94, "O", 15.9994, 0.2029, 3.5432),
    "s_tfsi": (95, "S", 32.064, 0.25, 4.027),
}

_C, _F, _N, _O, _S = "c_tfsi", "f_tfsi", "n_tfsi", "o_tfsi", "s_tfsi"

# Bond r0 [A], K2 [kcal/mol/A^2] (harmonic; K3 = K4 = 0).
_BONDS = {(_C, _F): (1.35, 403.03), (_C, _S): (1.795, 257.33),
          (_O, _S): (1.4308, 743.76), (_N, _S): (1.5944, 205.78)}
# Angle theta0 [deg], K2 [kcal/mol/rad^2], keyed (end, apex, end).
_ANGLES = {(_F, _C, _F): (109.1, 71.97), (_F, _C, _S): (109.5, 60.0),
           (_C, _S, _O): (109.5, 50.0), (_C, _S, _N): (109.5, 50.0),
           (_O, _S, _O): (119.33, 135.0), (_N, _S, _O): (109.5, 50.0),
           (_S, _N, _S): (120.0, 50.0)}
# Torsion (K1, K2, K3) with phi_n = 0, keyed end-to-end.
_TORSIONS = {(_F, _C, _S, _O): (0.0, 0.0, 0.1367), (_F, _C, _S, _N): (0.0, 0.0, 0.1367),
             (_C, _S, _N, _S): (0.0, 0.5, 0.0), (_O, _S, _N, _S): (0.0, 0.5, 0.0)}

# TFSI- geometry [A] of the HTP-MD molecule template, element order below.
_TFSI_ELEMENTS = (_C, _F, _F, _F, _S, _O, _O, _N, _S, _O, _O, _C, _F, _F, _F)
_TFSI_XYZ = np.array([
    [3.432386, 1.468416, 2.389728], [2.925537, 0.841581, 3.643342],
    [4.860239, 1.850560, 2.569862], [3.314164, 0.500002, 1.264002],
    [2.475527, 2.934205, 2.031358], [0.936441, 2.653196, 2.326842],
    [2.661305, 3.328424, 0.499999], [3.064267, 4.252788, 3.061454],
    [1.799849, 5.464896, 3.311045], [0.500001, 4.771117, 3.912208],
    [1.441706, 6.153390, 1.922453], [2.400277, 6.707399, 4.460704],
    [1.945414, 6.371808, 5.839611], [1.869530, 8.044158, 4.074597],
    [3.891388, 6.736403, 4.425132]])
_TFSI_BONDS = ((0, 1), (0, 2), (0, 3), (0, 4), (4, 5), (4, 6), (4, 7), (7, 8), (8, 9),
               (8, 10), (8, 11), (11, 12), (11, 13), (11, 14))
# Charges of the scaled model (sum -0.7).
_TFSI_CHARGES = {_C: 0.21, _F: -0.0826, _S: 0.3395, _O: -0.2513, _N: -0.2982}


def ion_terms() -> dict[str, dict[tuple, dict[str, list[float]]]]:
    """Coefficient lines of every TFSI term, keyed like :class:`Molecule` instances."""
    def bond(key):
        return _BONDS.get(key) or _BONDS[key[::-1]]

    def angle(key):
        return _ANGLES.get(key) or _ANGLES[key[::-1]]

    terms: dict = {"bond": {}, "angle": {}, "dihedral": {}, "improper": {}}
    for key, (r0, k2) in _BONDS.items():
        terms["bond"][tuple(sorted(key))] = {"Bond Coeffs": [r0, k2, 0.0, 0.0]}
    for key, (theta0, k2) in _ANGLES.items():
        key = min(key, key[::-1])
        r1, r2 = bond(key[:2])[0], bond(key[1:])[0]
        terms["angle"][key] = {"Angle Coeffs": [theta0, k2, 0.0, 0.0],
                               "BondBond Coeffs": [0.0, r1, r2],
                               "BondAngle Coeffs": [0.0, 0.0, r1, r2]}
    for key, (k1, k2, k3) in _TORSIONS.items():
        key = min(key, key[::-1])
        r1, r2, r3 = bond(key[:2])[0], bond(key[1:3])[0], bond(key[2:])[0]
        t1, t2 = angle(key[:3])[0], angle(key[1:])[0]
        terms["dihedral"][key] = {
            "Dihedral Coeffs": [k1, 0.0, k2, 0.0, k3, 0.0],
            "MiddleBondTorsion Coeffs": [0.0, 0.0, 0.0, r2],
            "EndBondTorsion Coeffs": [0.0] * 6 + [r1, r3],
            "AngleTorsion Coeffs": [0.0] * 6 + [t1, t2],
            "AngleAngleTorsion Coeffs": [0.0, t1, t2],
            "BondBond13 Coeffs": [0.0, r1, r3]}
    return terms


def _improper_key_terms(key):
    i, j, k, m = key
    angles = [_ANGLES.get((a, j, b)) or _ANGLES[(b, j, a)] for a, b in ((i, k), (i, m), (k, m))]
    return {"Improper Coeffs": [0.0, 0.0],
            "AngleAngle Coeffs": [0.0, 0.0, 0.0] + [a[0] for a in angles]}


def tfsi() -> tuple[Molecule, dict]:
    """The TFSI- anion and its terms (impropers at both four-coordinated C and S)."""
    labels = _TFSI_ELEMENTS
    neighbours: dict[int, list[int]] = {i: [] for i in range(len(labels))}
    for i, j in _TFSI_BONDS:
        neighbours[i].append(j)
        neighbours[j].append(i)
    angles, dihedrals, impropers = bonded_terms(_TFSI_BONDS, list(neighbours.values()))
    terms = ion_terms()
    for imp in impropers:
        terms["improper"][tuple(labels[a] for a in imp)] = _improper_key_terms(
            tuple(labels[a] for a in imp))
    molecule = Molecule(
        "TFSI", labels, tuple(_TFSI_CHARGES[t] for t in labels), _TFSI_XYZ - _TFSI_XYZ.mean(0),
        tuple(_TFSI_BONDS), tuple(canonical_key(labels, a)[1] for a in angles),
        tuple(canonical_key(labels, d)[1] for d in dihedrals), tuple(impropers))
    return molecule, terms


def lithium() -> Molecule:
    """The Li+ cation."""
    return Molecule("Li", ("Li+",), (CHARGE_SCALE * 1.0,), np.zeros((1, 3)))
