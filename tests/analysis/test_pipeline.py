"""The analysis of a polymer without solvating atoms (polyethylene, issue 21 §2).

The conductivity needs only the ions: it must be computed, equal to the one
with polymer atoms present, and the polymer diffusivity undefined with its
reason. References: the HTP-MD reference implementation's excerpt values,
and a conductivity computed from the strict pure-Python twin of the reader
(``tests.naive``) with the reference conventions of ``../shared/data/README.md``.
"""

import json
import math

import numpy as np
import pytest

from polyhpc.analysis.pipeline import analyze_path
from polyhpc.analysis.synthetic import write_synthetic_dump
from tests import naive

NO_POLYMER_REASON = ("undefined: no polymer atom of element(s) 7, 8, 16 (polymer_solvate_types) "
                     "among types 0-89 (polymer_raw_type_range)")
CARBON_AMU = "12.0112"


def _polyethylene(folder):
    """A synthetic electrolyte whose polymer holds only C and H: its N and O made carbon."""
    path = write_synthetic_dump(folder / "traj.lammpstrj", n_frames=6, n_atoms=240, n_pairs=5)
    lines = path.read_text().splitlines(keepends=True)
    columns = None
    for k, line in enumerate(lines):
        if line.startswith("ITEM: ATOMS"):
            columns = line.split()[2:]
            continue
        fields = line.split()
        if columns and len(fields) == len(columns) and not line.startswith("ITEM"):
            row = dict(zip(columns, fields, strict=True))
            if int(row["type"]) <= 89 and row["mass"] in ("14.0067", "15.9994"):
                fields[columns.index("mass")] = CARBON_AMU
                lines[k] = " ".join(fields) + "\n"
    path.write_text("".join(lines))
    return path


def test_a_polymer_without_n_o_or_s_gets_its_conductivity_and_an_undefined_polymer_diffusivity(
        tmp_path):
    path = _polyethylene(tmp_path)
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["polymer_solvate_types"] == [7, 8, 16]
    twin = naive.read_dump(path)
    polymer = twin["types"] <= 89
    assert set(twin["atomic_numbers"][polymer].tolist()) == {1, 6}  # C and H only
    result = analyze_path(tmp_path)
    assert math.isnan(result.poly_diffusivity)
    assert math.isnan(result.poly_diffusivity_fit) and math.isnan(result.poly_diffusivity_fit_err)
    for key in ["poly_diffusivity", "poly_diffusivity_fit", "poly_diffusivity_fit_err"]:
        assert result.note(key) == NO_POLYMER_REASON
    assert set(result.msd) == {"li", "tfsi"}
    assert result.conductivity > 0
    assert result.conductivity == pytest.approx(naive.conductivity_S_per_cm(path, meta),
                                                rel=1e-9)
    # the same trajectory with polymer atoms in the diffusivity (its carbons): same ions, same
    # conductivity to the last bit, and a polymer diffusivity
    with_carbon = analyze_path(tmp_path, meta_overrides={"solvate_atomic_numbers": (6,)})
    assert with_carbon.poly_diffusivity > 0
    for key in ["conductivity", "transference_number", "conductivity_ne", "li_diffusivity",
                "tfsi_diffusivity", "molality", "density", "free_cation_fraction"]:
        assert getattr(result, key) == getattr(with_carbon, key), key
    np.testing.assert_array_equal(result.population, with_carbon.population)


def test_the_reference_trajectory_without_solvating_polymer_atoms_keeps_its_reference_conductivity(
        reference_trajectory):
    # its polymer holds C, H, N, O: with fluorine as the only solvating element it has none
    excerpt = json.loads((reference_trajectory / "expected-excerpt.json").read_text())
    result = analyze_path(reference_trajectory, meta_overrides={"solvate_atomic_numbers": (9,)})
    assert result.conductivity == pytest.approx(excerpt["conductivity"], rel=1e-6)
    assert result.transference_number == pytest.approx(excerpt["transference_number"], rel=1e-6)
    assert math.isnan(result.poly_diffusivity)
    assert result.note("poly_diffusivity") == (
        "undefined: no polymer atom of element(s) 9 (polymer_solvate_types) among types 0-89 "
        "(polymer_raw_type_range)")
