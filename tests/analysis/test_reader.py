"""The dump reader: layouts it accepts and bad input it refuses with one line."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from polyhpc.analysis.io import TrajectoryMeta, read_lammps_dump, read_meta
from polyhpc.analysis.pipeline import analyze_path
from polyhpc.analysis.synthetic import write_synthetic_dump
from polyhpc.cli import main
from polyhpc.errors import TrajectoryError


@pytest.fixture(scope="module")
def reference_result(reference_trajectory):
    return analyze_path(reference_trajectory)


def _frames(path):
    """Split a dump into (header lines, atom table) per frame."""
    lines = path.read_text().splitlines()
    frames, i = [], 0
    while i < len(lines):
        n = int(lines[i + 3])
        header = lines[i:i + 9]
        table = pd.DataFrame([row.split() for row in lines[i + 9:i + 9 + n]],
                             columns=header[8].split()[2:])
        frames.append((header, table))
        i += 9 + n
    return frames


def _write(path, frames):
    with open(path, "w") as handle:
        for header, table in frames:
            handle.write("\n".join(header[:8]) + "\n")
            handle.write("ITEM: ATOMS " + " ".join(table.columns) + "\n")
            handle.write("\n".join(" ".join(row) for row in table.to_numpy()) + "\n")


def test_shuffled_rows_and_columns_and_unwrapped_coordinates_give_the_same_result(
        tmp_path, reference_trajectory, reference_result):
    rng = np.random.default_rng(0)
    frames = []
    for header, table in _frames(reference_trajectory / "traj.lammpstrj"):
        length = float(header[5].split()[1]) - float(header[5].split()[0])
        for axis in "xyz":
            unwrapped = table[axis].astype(float) + table[f"i{axis}"].astype(int) * length
            table[f"{axis}u"] = [repr(v) for v in unwrapped]
        table = table[["z" + "u", "type", "q", "xu", "id", "mass", "mol", "yu"]]
        frames.append((header, table.iloc[rng.permutation(len(table))]))
    _write(tmp_path / "traj.lammpstrj", frames)
    shutil.copy(reference_trajectory / "meta.json", tmp_path)
    result = analyze_path(tmp_path)
    for key in ["li_diffusivity", "tfsi_diffusivity", "poly_diffusivity", "conductivity",
                "transference_number", "molality"]:
        assert getattr(result, key) == pytest.approx(getattr(reference_result, key), rel=1e-6)
    np.testing.assert_array_equal(result.population, reference_result.population)


@pytest.fixture()
def small_dump(tmp_path):
    return write_synthetic_dump(tmp_path / "run" / "traj.lammpstrj", n_frames=6, n_atoms=240,
                                n_pairs=5)


def _run(*args):
    return CliRunner().invoke(main, ["analyze", *map(str, args)])


def test_truncated_final_frame_is_named_and_can_be_dropped(small_dump):
    data = small_dump.read_bytes()
    small_dump.write_bytes(data[: len(data) - 700])
    result = _run(small_dump.parent)
    assert result.exit_code == 2
    assert result.output.strip().endswith(
        "frame 5 (timestep 5000) is truncated; pass --allow-truncated to drop it")
    assert len(result.output.strip().splitlines()) == 1
    result = _run(small_dump.parent, "--allow-truncated", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["replicas"][0]["n_frames"] == 5


def test_missing_columns_are_named(small_dump):
    text = small_dump.read_text().replace("ITEM: ATOMS id mol type mass q x y z ix iy iz",
                                          "ITEM: ATOMS id mol type q x y z")
    small_dump.write_text(text)
    result = _run(small_dump.parent)
    assert result.exit_code == 2
    assert "dump lacks column(s) mass ix iy iz" in result.output


def test_triclinic_box_is_reported_unsupported(small_dump):
    text = small_dump.read_text().replace("ITEM: BOX BOUNDS pp pp pp",
                                          "ITEM: BOX BOUNDS xy xz yz pp pp pp")
    small_dump.write_text(text)
    result = _run(small_dump.parent)
    assert result.exit_code == 2
    assert "triclinic box" in result.output and "unsupported" in result.output


def test_meta_missing_fields_are_listed(small_dump):
    meta = json.loads((small_dump.parent / "meta.json").read_text())
    del meta["temperature"], meta["cation_raw_type"]
    (small_dump.parent / "meta.json").write_text(json.dumps(meta))
    result = _run(small_dump.parent)
    assert result.exit_code == 2
    assert "lacks field(s): temperature, cation_raw_type" in result.output


def test_meta_fields_can_be_overridden_on_the_command_line(small_dump):
    meta = json.loads((small_dump.parent / "meta.json").read_text())
    del meta["temperature"]
    (small_dump.parent / "meta.json").write_text(json.dumps(meta | {"temperature": 1.0}))
    result = _run(small_dump.parent, "--temperature", "353", "--json")
    assert json.loads(result.stdout)["replicas"][0]["temperature"] == 353.0


def test_changing_atom_count_between_frames_is_an_error(small_dump):
    lines = small_dump.read_text().splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.startswith("ITEM: TIMESTEP")]
    third = starts[2]
    lines[third + 3] = "239\n"
    del lines[third + 9]
    small_dump.write_text("".join(lines))
    result = _run(small_dump.parent)
    assert result.exit_code == 2
    assert "frame 2 has 239 atoms, the first frame 240" in result.output


def _damage_row(lines, frame, row, column, value):
    """Set one field of atom row ``row`` (0-based) of ``frame`` in a dump's lines."""
    starts = [i for i, line in enumerate(lines) if line.startswith("ITEM: TIMESTEP")]
    fields = lines[starts[frame] + 9 + row].split()
    fields[column] = value
    lines[starts[frame] + 9 + row] = " ".join(fields) + "\n"


def _extra_row(lines, frame, row, column, value):
    """Repeat the last atom row of ``frame``: one line more than its atoms."""
    starts = [*(i for i, line in enumerate(lines) if line.startswith("ITEM: TIMESTEP")),
              len(lines)]
    lines.insert(starts[frame + 1], lines[starts[frame + 1] - 1])


@pytest.mark.parametrize("damage, frame, row, column, value, message", [
    (_damage_row, 3, 4, 0, "4", "frame 3 (timestep 3000) has atom id 4 twice or not in the "
     "first frame (or not an integer)"),
    (_damage_row, 2, 0, 0, "4.5", "frame 2 (timestep 2000) has atom id 4 twice or not in the "
     "first frame (or not an integer)"),
    (_damage_row, 1, 9, 5, "1000.0", "frame 1 (timestep 1000) puts atom 10 outside the box "
     "(wrapped x y z must lie in it)"),
    (_damage_row, 4, 0, 8, "0.5", "frame 4 (timestep 4000) is malformed (a number could not "
     "be parsed, or a line has too many or too few columns)"),
    (_extra_row, 2, None, None, None, "frame 2 (timestep 2000) has more lines than its 240 "
     "atoms"),
])
def test_a_damaged_frame_is_refused_naming_the_frame_and_the_reason(small_dump, damage, frame,
                                                                    row, column, value,
                                                                    message):
    lines = small_dump.read_text().splitlines(keepends=True)
    damage(lines, frame, row, column, value)
    small_dump.write_text("".join(lines))
    for args in ([], ["--allow-truncated"]):  # only a damaged end can be dropped
        result = _run(small_dump.parent, *args)
        assert result.exit_code == 2
        assert result.output.strip() == f"error: {small_dump}: {message}"


def test_a_last_frame_cut_in_its_header_is_named_and_can_be_dropped(small_dump):
    with open(small_dump, "ab") as handle:
        handle.write(b"ITEM: TIMES")
    result = _run(small_dump.parent)
    assert result.exit_code == 2
    assert result.output.strip() == (f"error: {small_dump}: frame 6 is truncated in its "
                                     "header; pass --allow-truncated to drop it")
    result = _run(small_dump.parent, "--allow-truncated", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["replicas"][0]["n_frames"] == 6


def test_garbage_in_a_frame_is_reported_not_parsed(small_dump):
    lines = small_dump.read_text().splitlines(keepends=True)
    row = lines.index("ITEM: TIMESTEP\n", 3 * (9 + 240)) + 9 + 17
    fields = lines[row].split()
    fields[6] = "1.5e+x"  # a y coordinate that is not a number
    lines[row] = " ".join(fields) + "\n"
    small_dump.write_text("".join(lines))
    with pytest.raises(TrajectoryError, match="frame 3 .* malformed"):
        read_lammps_dump(small_dump, read_meta(small_dump.parent / "meta.json"))


def test_not_a_dump_gives_a_clear_error(tmp_path):
    (tmp_path / "traj.lammpstrj").write_text("hello\n")
    (tmp_path / "meta.json").write_text("{}")
    meta = TrajectoryMeta(353.0, 2.0, 90, 93, (0, 89), (7, 8, 16))
    with pytest.raises(TrajectoryError, match="not a LAMMPS text dump"):
        read_lammps_dump(tmp_path / "traj.lammpstrj", meta)


def test_chunked_streaming_equals_a_single_read(small_dump, reference_trajectory):
    """Chunks far smaller than a frame give the same positions, centres and boxes."""
    from polyhpc.analysis import dump
    from polyhpc.analysis.elements import atomic_numbers_from_masses, standard_masses

    for path in (small_dump, reference_trajectory / "traj.lammpstrj"):
        meta = read_meta(path.parent / "meta.json")
        whole = read_lammps_dump(path, meta)
        header = dump.read_header(path)
        first = dump.read_first_frame(path, header)
        slot_of_id = np.full(first.ids.max() + 1, -1)
        slot_of_id[first.ids] = np.arange(first.ids.size)
        masses = np.zeros(first.ids.max() + 1)
        masses[first.ids] = standard_masses(atomic_numbers_from_masses(first.masses))
        single = dump.stream_frames(path, header, slot_of_id, masses, first.ids.size)
        for chunk_bytes in (4096, 65536, 1_000_003):
            chunked = dump.stream_frames(path, header, slot_of_id, masses, first.ids.size,
                                         chunk_bytes=chunk_bytes)
            assert chunked.positions.shape == single.positions.shape
            np.testing.assert_array_equal(chunked.positions, single.positions)
            np.testing.assert_array_equal(chunked.com, single.com)
            np.testing.assert_array_equal(chunked.boxes, single.boxes)
            np.testing.assert_array_equal(chunked.timesteps, whole.timesteps)
        # and the reader's kept, drift-free positions are these, row for row
        index = np.searchsorted(first.ids, whole.ids)
        np.testing.assert_array_equal(single.positions[:, index] - single.com[:, None, :],
                                      whole.positions)


def test_solvate_elements_can_be_overridden(reference_trajectory, reference_result):
    result = CliRunner().invoke(main, ["analyze", str(reference_trajectory), "--json",
                                       "--solvate-elements", "8"])
    assert result.exit_code == 0, result.output
    only_oxygen = json.loads(result.stdout)["replicas"][0]["poly_diffusivity"]
    assert only_oxygen != pytest.approx(reference_result.poly_diffusivity, rel=1e-3)
    assert only_oxygen == pytest.approx(reference_result.poly_diffusivity, rel=0.5)
    bad = CliRunner().invoke(main, ["analyze", str(reference_trajectory),
                                    "--solvate-elements", "O"])
    assert bad.exit_code == 2 and "expected comma-separated integers" in bad.output


def test_a_frame_stride_scales_the_time_between_frames(reference_trajectory):
    every = analyze_path(reference_trajectory, frames=slice(0, 7, 1))
    strided = analyze_path(reference_trajectory, frames=slice(0, 7, 3))  # frames 0, 3, 6
    assert strided.n_frames == 3 and strided.time_step == 6.0
    # same first and last frame: the end-to-end diffusivity must not change
    assert strided.li_diffusivity == pytest.approx(every.li_diffusivity, rel=1e-12)
