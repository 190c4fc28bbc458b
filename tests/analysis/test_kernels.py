"""Kernels against naive twins and closed forms; the suite also runs without JIT.

The parsing kernel (:mod:`polyhpc.analysis.dump`) is where trajectories are
unwrapped and their drift removed, so it is tested here as a kernel too.
"""

import numpy as np
import pytest

from polyhpc.analysis import dump, kernels
from polyhpc.analysis.elements import atomic_numbers_from_masses, standard_masses
from polyhpc.analysis.synthetic import write_synthetic_dump
from tests import naive


def test_constant_velocity_msd_is_v_squared_t_squared():
    velocity = np.array([0.3, -0.2, 0.5])
    t = np.arange(40, dtype=float)
    positions = (t[:, None, None] * velocity) + np.zeros((1, 3, 3))
    expected = np.sum(velocity**2) * t**2
    np.testing.assert_allclose(naive.msd_all_origins(positions), expected, rtol=1e-12)
    np.testing.assert_allclose(kernels.msd_fft(positions), expected, rtol=1e-9, atol=1e-9)
    assert kernels.msd_endpoint(positions) == pytest.approx(expected[-1])


def test_msd_fft_agrees_with_the_naive_twin_on_random_walks():
    rng = np.random.default_rng(7)
    positions = np.cumsum(rng.normal(size=(120, 9, 3)), axis=0)
    reference = naive.msd_all_origins(positions)
    np.testing.assert_allclose(kernels.msd_fft(positions), reference, rtol=1e-8, atol=1e-8)


def _stream_all(path, masses_by_id=None, chunk_bytes=128 << 20):
    """Every atom of a dump through the parsing kernel, in id order."""
    header = dump.read_header(path)
    first = dump.read_first_frame(path, header)
    slot_of_id = np.full(first.ids.max() + 1, -1)
    slot_of_id[first.ids] = np.arange(first.ids.size)
    mass_of_id = np.zeros(first.ids.max() + 1)
    mass_of_id[first.ids] = first.masses if masses_by_id is None else masses_by_id
    return dump.stream_frames(path, header, slot_of_id, mass_of_id, first.ids.size,
                              chunk_bytes=chunk_bytes, known_ids=first.ids)


def _dump_text(frames, box=10.0):
    """A dump of (timestep, rows) frames, rows as (id, type, mass, x, y, z, ix, iy, iz)."""
    text = ""
    for step, rows in frames:
        text += (f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{len(rows)}\n"
                 "ITEM: BOX BOUNDS pp pp pp\n" + f"0.0 {box}\n" * 3
                 + "ITEM: ATOMS id type mass x y z ix iy iz\n"
                 + "".join(" ".join(map(str, row)) + "\n" for row in rows))
    return text


def test_parsing_unwraps_with_image_flags_times_the_box(tmp_path):
    path = tmp_path / "two.lammpstrj"
    path.write_text(_dump_text([
        (0, [(2, 1, 12.011, 5.0, 5.0, 5.0, 0, 0, 0), (1, 1, 12.011, 1.0, 2.0, 3.0, 0, 0, 0)]),
        (10, [(1, 1, 12.011, 9.5, 0.5, 3.0, -1, 1, 2), (2, 1, 12.011, 5.0, 5.0, 5.0, 0, 0, 0)]),
    ]))
    frames = _stream_all(path)
    # atom 1 crossed the x boundary backwards, y forwards and z twice: x + ix L
    np.testing.assert_allclose(frames.positions[1], [[-0.5, 10.5, 23.0], [5.0, 5.0, 5.0]])
    np.testing.assert_allclose(frames.positions[0], [[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])
    np.testing.assert_array_equal(frames.timesteps, [0, 10])


def test_parsing_accumulates_the_mass_weighted_centre_of_all_atoms(tmp_path):
    rng = np.random.default_rng(1)
    masses = np.array([1.008, 12.011, 15.999, 6.94])
    frames = []
    for step in range(5):
        unwrapped = rng.normal(size=(4, 3)) * 4 + step  # the whole system drifts
        images = np.floor(unwrapped / 10.0).astype(int)
        frames.append((step, [(i + 1, i + 1, masses[i], *(unwrapped[i] - 10.0 * images[i]),
                               *images[i]) for i in range(4)]))
    path = tmp_path / "drift.lammpstrj"
    path.write_text(_dump_text(frames))
    parsed = _stream_all(path)
    fixed = parsed.positions - parsed.com[:, None, :]
    np.testing.assert_allclose(np.einsum("fad,a->fd", fixed, masses) / masses.sum(), 0.0,
                               atol=1e-12)


def test_parsing_equals_the_naive_twin_on_a_random_dump_in_any_chunking(tmp_path):
    path = write_synthetic_dump(tmp_path / "traj.lammpstrj", n_frames=6, n_atoms=240, n_pairs=5)
    twin = naive.read_dump(path)
    masses = standard_masses(atomic_numbers_from_masses(twin["masses"]))
    for chunk_bytes in (128 << 20, 4096, 9000):  # whole file; frames split across chunks
        parsed = _stream_all(path, masses, chunk_bytes)
        np.testing.assert_allclose(parsed.positions, twin["positions"], rtol=0, atol=1e-9)
        np.testing.assert_array_equal(parsed.timesteps, twin["timesteps"])
        np.testing.assert_allclose(parsed.boxes[:, :, 1] - parsed.boxes[:, :, 0],
                                   twin["boxes"])
        com = (twin["positions"] * masses[None, :, None]).sum(axis=1) / masses.sum()
        np.testing.assert_allclose(parsed.com, com, rtol=0, atol=1e-9)


def test_two_ions_across_the_periodic_boundary_within_cutoff_are_one_cluster():
    box = np.array([[30.0, 30.0, 30.0]])
    positions = np.array([[[0.5, 15.0, 15.0], [28.5, 15.0, 15.0], [15.0, 15.0, 15.0]]])
    labels = kernels.find_ion_clusters(positions, box, 3.4)
    assert labels.tolist() == [[0, 0, 2]]
    # just beyond the cutoff (3.41 A across the boundary) they separate
    positions[0, 1, 0] = 27.09
    assert kernels.find_ion_clusters(positions, box, 3.4).tolist() == [[0, 1, 2]]


def test_n_isolated_pairs_give_population_one_one_equal_n():
    n_pairs = 12
    box = np.array([[60.0, 60.0, 60.0]])
    grid = np.array([[x, y, z] for x in (5, 20, 35) for y in (5, 20, 35) for z in (5, 20)],
                    float)[:n_pairs]
    cations = grid
    anions = grid + np.array([2.0, 0.0, 0.0])
    positions = np.concatenate([cations, anions])[None]
    labels = kernels.find_ion_clusters(positions, box, 3.4)
    is_cation = np.r_[np.ones(n_pairs, bool), np.zeros(n_pairs, bool)]
    population = kernels.cluster_populations(labels, is_cation, ~is_cation)
    assert population[0, 1, 1] == n_pairs
    assert population.sum() == n_pairs


@pytest.mark.parametrize("box_length", [9.0, 25.0])  # all-pairs path and cell-list path
def test_cluster_kernel_matches_the_naive_twin_on_random_frames(box_length):
    rng = np.random.default_rng(3)
    n = 60
    positions = rng.uniform(-box_length, 2 * box_length, size=(4, n, 3))
    boxes = np.full((4, 3), box_length)
    molecules = np.where(np.arange(n) % 3 == 0, -1, np.arange(n) // 6)
    labels = kernels.find_ion_clusters(positions, boxes, 3.4, molecules)
    for f in range(4):
        expected = naive.clusters(positions[f], boxes[f], 3.4, molecules)
        np.testing.assert_array_equal(labels[f], expected)
    is_cation = np.arange(n) % 2 == 0
    is_anion = np.arange(n) % 5 == 0
    population = kernels.cluster_populations(labels, is_cation, is_anion)
    for f in range(4):
        np.testing.assert_array_equal(population[f],
                                      naive.population(labels[f], is_cation, is_anion))


def test_molecule_ids_join_atoms_of_one_anion_at_any_distance():
    box = np.array([[50.0, 50.0, 50.0]])
    positions = np.array([[[1.0, 1.0, 1.0], [20.0, 20.0, 20.0], [40.0, 1.0, 1.0]]])
    labels = kernels.find_ion_clusters(positions, box, 3.4, molecules=np.array([7, 7, -1]))
    assert labels.tolist() == [[0, 0, 2]]


def test_kernels_reject_bad_shapes_with_a_message():
    with pytest.raises(ValueError, match=r"positions must have \(\.\.\., 3\)"):
        kernels.msd_fft(np.zeros((10, 4, 2)))
    with pytest.raises(ValueError, match="one row per frame"):
        kernels.find_ion_clusters(np.zeros((3, 4, 3)), np.ones((2, 3)), 3.4)
    with pytest.raises(ValueError, match="box lengths must be positive"):
        kernels.find_ion_clusters(np.zeros((1, 4, 3)), np.zeros((1, 3)), 3.4)


def test_kernel_suite_also_passes_as_plain_python_without_jit():
    """House style 14: the same kernel tests with NUMBA_DISABLE_JIT=1."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
         "-k", "not without_jit"], cwd=root, env=env, capture_output=True, text=True,
        timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert " passed" in run.stdout
