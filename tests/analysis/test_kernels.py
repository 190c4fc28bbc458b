import numpy as np
import pytest

from polyhpc.analysis import kernels
from tests import naive


def test_constant_velocity_msd_is_v_squared_t_squared():
    velocity = np.array([0.3, -0.2, 0.5])
    t = np.arange(40, dtype=float)
    positions = (t[:, None, None] * velocity) + np.zeros((1, 3, 3))
    expected = np.sum(velocity**2) * t**2
    np.testing.assert_allclose(kernels.msd_windowed(positions), expected, rtol=1e-12)
    np.testing.assert_allclose(kernels.msd_fft(positions), expected, rtol=1e-9, atol=1e-9)
    assert kernels.msd_endpoint(positions) == pytest.approx(expected[-1])


def test_msd_kernels_agree_with_the_naive_twin_on_random_walks():
    rng = np.random.default_rng(7)
    positions = np.cumsum(rng.normal(size=(120, 9, 3)), axis=0)
    reference = naive.msd_all_origins(positions)
    np.testing.assert_allclose(kernels.msd_windowed(positions), reference, rtol=1e-10)
    np.testing.assert_allclose(kernels.msd_fft(positions), reference, rtol=1e-8, atol=1e-8)


def test_unwrap_adds_image_times_box():
    positions = np.array([[[1.0, 2.0, 3.0]], [[9.5, 0.5, 3.0]]])
    images = np.array([[[0, 0, 0]], [[-1, 1, 2]]])
    boxes = np.array([[10.0, 10.0, 10.0], [10.0, 10.0, 10.0]])
    np.testing.assert_allclose(kernels.unwrap(positions, images, boxes)[1], [[-0.5, 10.5, 23.0]])


def test_remove_drift_leaves_a_fixed_centre_of_mass():
    rng = np.random.default_rng(1)
    positions = rng.normal(size=(5, 4, 3)) + np.arange(5)[:, None, None]
    masses = np.array([1.0, 12.0, 16.0, 7.0])
    fixed = kernels.remove_drift(positions, masses)
    com = np.einsum("fad,a->fd", fixed, masses) / masses.sum()
    np.testing.assert_allclose(com, 0.0, atol=1e-12)


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
