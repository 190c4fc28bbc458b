"""Initial chains: their size against the HTP-MD reference, and the geometry behind it."""

from collections import defaultdict

import numpy as np
import pytest

from polyhpc.md.build import BuildSettings, build_system, write_system
from polyhpc.md.geometry import (
    align_rotations,
    radius_of_gyration,
    rotation_matrices,
    twist,
    unwrap_bonded,
)
from polyhpc.md.packing import unit_template

REFERENCE = "lammps/htpmd-peo-litfsi-protocol/equilibration/system.lmp"


def _read_chains(path):
    """Per molecule of a LAMMPS data file (atom_style full): bond-unwrapped positions,
    masses and bonds (local indices), molecules with at least 100 atoms only."""
    section, box, masses, atoms, bonds = None, None, {}, [], []
    for line in open(path):
        text = line.split("#")[0].strip()
        if not text:
            continue
        if text.endswith("xlo xhi"):
            low, high = map(float, text.split()[:2])
            box = high - low
        elif not (text[0].isdigit() or text[0] == "-"):
            section = text
        elif section == "Masses":
            masses[int(text.split()[0])] = float(text.split()[1])
        elif section == "Atoms":
            atoms.append([float(v) for v in text.split()[:7]])
        elif section == "Bonds":
            bonds.append([int(v) for v in text.split()[2:4]])
    atoms = np.array(sorted(atoms))
    index = {int(a): i for i, a in enumerate(atoms[:, 0])}
    pairs = np.array([(index[i], index[j]) for i, j in bonds])
    xyz = unwrap_bonded(atoms[:, 4:7], pairs, box)
    mol = atoms[:, 1].astype(int)
    mass = np.array([masses[int(t)] for t in atoms[:, 2]])
    chains = []
    for m in np.unique(mol):
        members = np.flatnonzero(mol == m)
        if len(members) < 100:
            continue
        local = {g: i for i, g in enumerate(members)}
        inside = [(local[i], local[j]) for i, j in pairs if i in local]
        chains.append((xyz[members], mass[members], inside))
    return chains


def _radii(chains):
    return np.array([radius_of_gyration(xyz, mass) for xyz, mass, _ in chains])


def _dihedral_deg(a, b, c, d):
    b1 = (c - b) / np.linalg.norm(c - b)
    v, w = a - b - np.dot(a - b, b1) * b1, d - c - np.dot(d - c, b1) * b1
    return np.degrees(np.arctan2(np.dot(np.cross(b1, v), w), np.dot(v, w)))


def _occo_torsions(chains):
    """|O-C-C-O| torsions (degrees) along each chain's heavy-atom backbone."""
    out = []
    for xyz, mass, bonds in chains:
        heavy = mass > 2.0
        near = defaultdict(list)
        for i, j in bonds:
            if heavy[i] and heavy[j]:
                near[i].append(j)
                near[j].append(i)
        path = [next(i for i in near if len(near[i]) == 1)]
        while len(path) == 1 or len(near[path[-1]]) == 2:
            path.append(next(j for j in near[path[-1]] if j not in path[-2:]))
        oxygen = np.abs(mass[path] - 15.9994) < 0.01
        for k in range(len(path) - 3):
            if list(oxygen[k:k + 4]) == [True, False, False, True]:
                out.append(abs(_dihedral_deg(*xyz[path[k:k + 4]])))
    return np.array(out)


@pytest.fixture(scope="module")
def reference_chains(shared_data):
    return _read_chains(shared_data / REFERENCE)


@pytest.fixture(scope="module")
def built_chains(tmp_path_factory):
    """PEO at HTP-MD size, replicas 1 and 2 (30 chains), read back from their data files."""
    chains = []
    for seed in (1, 2):
        out = tmp_path_factory.mktemp(f"peo{seed}")
        write_system(out, build_system("*CCO*", BuildSettings(), seed=seed))
        chains += _read_chains(out / "system.lmp")
    return chains


def test_initial_peo_chains_are_as_compact_as_the_htpmd_reference(reference_chains,
                                                                  built_chains):
    """Mean Rg within 2.5 combined standard errors of the reference's, spread within 2x.

    Reference: 15 chains of 365 atoms, 12.2 +- 3.4 A. The old selection (the more
    extended half of the conformers) built 16.5 A for these two seeds (16.7 +- 3.5 A
    over ten), 4.4 A off with a tolerance of 2.6 A; freely rotating gives 12.9 A here
    (13.4 +- 2.9 A over ten seeds).
    """
    assert [len(xyz) for xyz, _, _ in reference_chains] == [365] * 15
    assert [len(xyz) for xyz, _, _ in built_chains] == [365] * 30
    ours, theirs = _radii(built_chains), _radii(reference_chains)
    error = np.hypot(ours.std(ddof=1) / np.sqrt(len(ours)),
                     theirs.std(ddof=1) / np.sqrt(len(theirs)))
    assert abs(ours.mean() - theirs.mean()) < 2.5 * error, (ours.mean(), theirs.mean(), error)
    assert 0.5 < ours.std(ddof=1) / theirs.std(ddof=1) < 2.0


def test_initial_peo_torsions_are_near_uniform_like_the_reference(reference_chains,
                                                                  built_chains):
    """Trans O-C-C-O (|phi| > 120 deg): 0.37 in the reference; uniform torsions give 1/3.

    The old selection made 0.90 of them trans for these seeds, which stretched its chains.
    """
    ours, theirs = _occo_torsions(built_chains), _occo_torsions(reference_chains)
    assert len(theirs) == 15 * 50 and len(ours) == 30 * 50
    assert abs((ours > 120).mean() - (theirs > 120).mean()) < 0.08


def test_radius_of_gyration_of_a_straight_chain_is_b_sqrt_of_n2_minus_1_over_12():
    n, b = 51, 1.5
    xyz = np.zeros((n, 3))
    xyz[:, 0] = b * np.arange(n)
    assert radius_of_gyration(xyz, np.full(n, 12.011)) == pytest.approx(
        b * np.sqrt((n * n - 1) / 12.0), rel=1e-12)


def test_radius_of_gyration_of_a_ring_is_its_radius_and_of_a_dumbbell_is_mass_weighted():
    angle = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    ring = 7.0 * np.stack([np.cos(angle), np.sin(angle), np.zeros(12)], axis=1) + [3.0, -2.0, 5.0]
    assert radius_of_gyration(ring, np.ones(12)) == pytest.approx(7.0, rel=1e-12)
    # masses m1, m2 at distance d: Rg = d sqrt(m1 m2) / (m1 + m2)
    pair = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    assert radius_of_gyration(pair, np.array([1.008, 15.9994])) == pytest.approx(
        2.0 * np.sqrt(1.008 * 15.9994) / (1.008 + 15.9994), rel=1e-12)


def test_unwrapping_a_chain_cut_by_the_periodic_boundary_restores_its_size():
    box, n, b = 20.0, 30, 1.5
    straight = np.zeros((n, 3))
    straight[:, 0] = 15.0 + b * np.arange(n)  # reaches 58.5 A: crosses two box edges
    wrapped = np.mod(straight, box)
    bonds = np.stack([np.arange(n - 1), np.arange(1, n)], axis=1)[::-1]  # any order
    unwrapped = unwrap_bonded(wrapped, bonds, box)
    assert np.allclose(unwrapped, straight)
    assert radius_of_gyration(unwrapped, np.ones(n)) == pytest.approx(
        b * np.sqrt((n * n - 1) / 12.0))
    assert radius_of_gyration(wrapped, np.ones(n)) < 7.0  # what ignoring the box would give


@pytest.mark.parametrize("call, message", [
    (lambda: radius_of_gyration(np.zeros((3, 2)), np.ones(3)), r"xyz_A: expected shape"),
    (lambda: radius_of_gyration(np.zeros((3, 3)), np.ones(2)), r"masses: expected shape \(3,\)"),
    (lambda: unwrap_bonded(np.zeros((3, 3)), [(0, 3)], 10.0), r"bonds: atom indices"),
    (lambda: unwrap_bonded(np.zeros((3, 3)), [(0, 1)], 0.0), r"box_A: expected a positive"),
])
def test_geometry_rejects_bad_shapes_with_what_it_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_rotations_turn_x_onto_y_about_z_and_align_opposite_vectors():
    turn = rotation_matrices(np.array([0.0, 0.0, 2.0]), np.pi / 2)
    assert np.allclose(turn @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    a = np.array([[1.0, 0.0, 0.0], [0.0, 0.6, 0.8], [-1.0, 0.0, 0.0]])
    r = align_rotations(a, np.array([1.0, 0.0, 0.0]))
    assert np.allclose(np.einsum("nij,nj->ni", r, a), [[1.0, 0.0, 0.0]] * 3)
    assert np.allclose(r @ r.transpose(0, 2, 1), np.eye(3))


def test_twist_changes_the_torsion_by_its_angle_and_keeps_bonds_and_angles():
    # trans zig-zag C-C-C-C with 1.53 A bonds and 109.5 deg angles
    half = np.radians(109.5) / 2
    step = 1.53 * np.array([np.sin(half), np.cos(half), 0.0])
    xyz = np.array([[0.0, 0.0, 0.0], step, step * [2, 0, 0], step * [3, 1, 0]])
    assert _dihedral_deg(*xyz) == pytest.approx(180.0)
    stack = twist(np.stack([xyz, xyz]), [(1, 2, np.array([2, 3]))],
                  np.radians([[60.0], [-120.0]]))
    assert [abs(_dihedral_deg(*s)) for s in stack] == [pytest.approx(120.0),
                                                      pytest.approx(60.0)]
    for s in stack:
        assert np.allclose(np.linalg.norm(np.diff(s, axis=0), axis=1), 1.53)
        assert np.linalg.norm(s[2] - s[0]) == pytest.approx(np.linalg.norm(xyz[2] - xyz[0]))
        assert np.linalg.norm(s[3] - s[1]) == pytest.approx(np.linalg.norm(xyz[3] - xyz[1]))


def _rotor_bonds(smiles):
    template, monomer = unit_template(smiles, seed=1)
    symbols = [a.GetSymbol() for a in monomer.GetAtoms()]
    return [(symbols[j], symbols[k]) for j, k, _ in template.rotors]


def test_backbone_rotors_are_the_free_single_bonds_not_amides_or_rings():
    assert _rotor_bonds("*CCO*") == [("C", "C"), ("C", "O")]
    assert _rotor_bonds("*CCNC(=O)*") == [("C", "C"), ("C", "N")]  # N-C(=O) stays planar
    assert _rotor_bonds("*c1ccc(*)cc1") == []
