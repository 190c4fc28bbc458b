"""polyhpc's analysis against the HTP-MD reference results for a real trajectory."""

import json

import numpy as np
import pytest

from polyhpc.analysis.io import read_lammps_dump, read_meta
from polyhpc.analysis.kernels import cluster_populations
from polyhpc.analysis.pipeline import analyze_path, ion_cluster_labels


@pytest.fixture(scope="module")
def result(reference_trajectory):
    return analyze_path(reference_trajectory)


@pytest.fixture(scope="module")
def trajectory(reference_trajectory):
    meta = read_meta(reference_trajectory / "meta.json")
    return read_lammps_dump(reference_trajectory / "traj.lammpstrj", meta)


@pytest.mark.parametrize("key", ["li_diffusivity", "tfsi_diffusivity", "poly_diffusivity",
                                 "molality", "conductivity_ne", "transference_number_ne"])
def test_properties_equal_the_reference_implementation(result, expected, key):
    assert getattr(result, key) == pytest.approx(expected[key], rel=1e-6)


def test_cluster_ne_conductivity_from_own_clusters_equals_reference_excerpt(
        result, reference_trajectory):
    excerpt = json.loads((reference_trajectory / "expected-excerpt.json").read_text())
    assert result.conductivity == pytest.approx(excerpt["conductivity"], rel=1e-6)
    assert result.transference_number == pytest.approx(excerpt["transference_number"], rel=1e-6)


def test_average_population_equals_reference_population_txt(result, reference_trajectory):
    reference = np.loadtxt(reference_trajectory / "population.txt")
    np.testing.assert_allclose(result.population[:50, :50], reference, rtol=0, atol=1e-12)
    assert result.population[50:].sum() == 0 and result.population[:, 50:].sum() == 0


def _read_aggregates(path):
    frames, rows = [], None
    for line in path.read_text().splitlines():
        if line.startswith("ITEM: TIMESTEP"):
            rows = []
            frames.append(rows)
        elif line[:1].isdigit() and len(line.split()) == 4:
            rows.append([int(v) for v in line.split()])
    return [np.array(f) for f in frames]


def test_clusters_equal_lammps_aggregate_atom_in_every_frame(trajectory, reference_trajectory):
    """Same cluster for every Li and TFSI O atom, and the same populations, per frame."""
    aggregates = _read_aggregates(reference_trajectory / "aggregates.txt")
    assert len(aggregates) == trajectory.n_frames == 7
    labels, is_cation, is_anion = ion_cluster_labels(trajectory)
    meta = trajectory.meta
    atoms = (trajectory.types == meta.cation_type) | np.isin(trajectory.types,
                                                             meta.cluster_anion_types)
    ids = trajectory.ids[atoms]
    ours = cluster_populations(labels, is_cation, is_anion)
    for f, table in enumerate(aggregates):
        atom_ids, types, cluster_ids, mols = table.T
        index = np.searchsorted(ids, atom_ids)
        assert np.array_equal(ids[index], atom_ids)
        # LAMMPS labels a cluster by its smallest atom id; so do we (smallest index)
        np.testing.assert_array_equal(ids[labels[f, index]], cluster_ids)
        reference = np.zeros_like(ours[f])
        for cluster in np.unique(cluster_ids):
            members = cluster_ids == cluster
            n_li = int(np.sum(types[members] == 90))
            n_tfsi = len(np.unique(mols[members & (types == 94)]))
            reference[n_li, n_tfsi] += 1
        np.testing.assert_array_equal(ours[f], reference)


def test_result_serializes_with_reference_keys_and_units(result):
    data = result.to_dict()
    for key in ["conductivity", "li_diffusivity", "tfsi_diffusivity", "poly_diffusivity",
                "transference_number", "molality", "conductivity_ne"]:
        assert key in data
    assert data["units"]["conductivity"] == "S/cm"
    assert len(data["population"]) == 51
    from polyhpc.analysis.results import TransportResult

    again = TransportResult.from_dict(json.loads(json.dumps(data)))
    assert again.conductivity == result.conductivity
    np.testing.assert_array_equal(again.population, result.population)
