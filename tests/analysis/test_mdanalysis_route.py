"""A DCD trajectory with a LAMMPS data file as topology, read through MDAnalysis."""

import shutil

import numpy as np
import pytest

from polyhpc.analysis.pipeline import analyze_path


def _write_data_file(path, ids, mols, types, masses, charges, box):
    kinds = sorted(set(types.tolist()))
    lines = ["LAMMPS data file written by the polyhpc tests", "",
             f"{len(ids)} atoms", f"{max(kinds)} atom types", "",
             f"0.0 {box[0]} xlo xhi", f"0.0 {box[1]} ylo yhi", f"0.0 {box[2]} zlo zhi", "",
             "Masses", ""]
    for kind in kinds:
        lines.append(f"{kind} {masses[types == kind][0]}")
    lines += ["", "Atoms # full", ""]
    for i, (atom, mol, kind, q) in enumerate(zip(ids, mols, types, charges, strict=True)):
        lines.append(f"{atom} {mol} {kind} {q} 0.0 0.0 {float(i % 7)}")
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.slow
def test_dcd_with_data_topology_reproduces_the_dump_analysis(tmp_path, reference_trajectory):
    import MDAnalysis as mda

    table = np.loadtxt(reference_trajectory / "traj.lammpstrj", skiprows=9, max_rows=6440)
    ids, mols, types = (table[:, k].astype(int) for k in range(3))
    masses, charges = table[:, 3], table[:, 4]
    dump_text = (reference_trajectory / "traj.lammpstrj").read_text().splitlines()
    box = [float(dump_text[5 + d].split()[1]) for d in range(3)]
    _write_data_file(tmp_path / "system.data", ids, mols, types, masses, charges, box)
    # unwrapped positions of every atom, frame by frame
    n_frames = 7
    unwrapped = []
    for f in range(n_frames):
        rows = np.loadtxt(reference_trajectory / "traj.lammpstrj",
                          skiprows=9 + f * (9 + 6440), max_rows=6440)
        unwrapped.append(rows[:, 5:8] + rows[:, 8:11] * np.array(box))
    universe = mda.Universe(str(tmp_path / "system.data"), atom_style="id resid type charge x y z")
    with mda.Writer(str(tmp_path / "traj.dcd"), n_atoms=len(ids)) as writer:
        for positions in unwrapped:
            universe.atoms.positions = positions
            universe.dimensions = [*box, 90.0, 90.0, 90.0]
            writer.write(universe.atoms)
    shutil.copy(reference_trajectory / "meta.json", tmp_path)
    result = analyze_path(tmp_path / "traj.dcd", topology=tmp_path / "system.data")
    reference = analyze_path(reference_trajectory)
    assert result.n_frames == 7
    # DCD stores float32: agreement to single precision
    for key in ["li_diffusivity", "tfsi_diffusivity", "poly_diffusivity", "conductivity_ne",
                "molality"]:
        assert getattr(result, key) == pytest.approx(getattr(reference, key), rel=2e-4)
    np.testing.assert_array_equal(result.population, reference.population)
