"""Fuzzing the dump reader with truncations and byte flips of the shared HTP-MD trajectory.

Every damaged file must give a clean ``PolyhpcError`` or a correct result:

- a truncated file, read with ``allow_truncated``, gives exactly the
  reference analysis of its complete frames (or an error when fewer than two
  remain; without ``allow_truncated`` an error unless the cut falls between
  frames);
- a file with flipped bytes is either refused, or read into the same
  trajectory as the strict pure-Python twin (``tests.naive.read_dump``) reads
  from it: the twin must accept it too, and its positions, boxes and
  timesteps must equal the reader's. The whole analysis must then finish or
  raise a ``PolyhpcError``; any other exception is a crash.

Each example is checked in a folder of its own through the public reader and
analysis only; the explicit cases at the end show that every kind of outcome
is reached, whatever runs before them. Seeded (``derandomize``) and bounded:
a few seconds. The counts are the ``max_examples`` below plus the explicit
examples.
"""

import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from polyhpc.analysis.io import read_lammps_dump, read_meta
from polyhpc.analysis.pipeline import analyze_path
from polyhpc.errors import PolyhpcError
from tests import naive

N_TRUNCATIONS = 40
N_FLIPS = 40
PROPERTIES = ["conductivity", "transference_number", "conductivity_ne", "li_diffusivity",
              "tfsi_diffusivity", "poly_diffusivity", "molality", "density",
              "free_cation_fraction"]
FUZZ = settings(derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


class Reference:
    """The untouched trajectory: its bytes, frame ends, and the analysis of its first frames."""

    def __init__(self, folder: Path, scratch: Path):
        self.folder = folder
        self.scratch = scratch
        self.data = (folder / "traj.lammpstrj").read_bytes()
        starts = [m.start() for m in re.finditer(rb"(?m)^ITEM: TIMESTEP", self.data)]
        # each frame ends where the next begins; the last at the end of the file
        self.frame_ends = [*starts[1:], len(self.data)]
        self._analyses = {}

    def analysis(self, n_frames: int):
        """The analysis of the first ``n_frames`` frames of the untouched file."""
        if n_frames not in self._analyses:
            self._analyses[n_frames] = analyze_path(self.folder, frames=slice(0, n_frames))
        return self._analyses[n_frames]

    def damaged(self, data: bytes):
        """A fresh folder holding ``data`` as its dump, beside the reference meta.json."""
        folder = tempfile.TemporaryDirectory(dir=self.scratch)
        shutil.copy(self.folder / "meta.json", folder.name)
        (Path(folder.name) / "traj.lammpstrj").write_bytes(data)
        return folder


@pytest.fixture(scope="module")
def reference(reference_trajectory, tmp_path_factory) -> Reference:
    return Reference(reference_trajectory, tmp_path_factory.mktemp("fuzz"))


def _same_result(result, expected):
    assert result.n_frames == expected.n_frames
    for key in PROPERTIES:
        assert getattr(result, key) == pytest.approx(getattr(expected, key), rel=1e-12,
                                                     nan_ok=True), key
    np.testing.assert_array_equal(result.population, expected.population)


def _check_truncation(reference: Reference, cut: tuple[int, int]) -> str:
    """Check the analysis of the dump cut at ``cut``; return the outcome with --allow-truncated.

    ``cut`` is (frame, offset): a cut ``offset`` bytes from the end of ``frame`` (its last
    newline is at -1, the next header at 0.. where the reader's decisions are made); frame
    -1: ``offset`` bytes from the start of the file.
    """
    frame, offset = cut
    at = offset if frame < 0 else reference.frame_ends[frame] + offset
    at = min(max(at, 0), len(reference.data))
    complete = sum(end <= at for end in reference.frame_ends)
    with reference.damaged(reference.data[:at]) as folder:
        try:
            result = analyze_path(Path(folder), allow_truncated=True)
        except PolyhpcError:
            outcome = "error"
            assert complete < 2, f"{complete} complete frames, yet refused"
        else:
            outcome = "result"
            _same_result(result, reference.analysis(complete))
        at_boundary = at == 0 or at in reference.frame_ends
        try:
            strict = analyze_path(Path(folder))
        except PolyhpcError as error:
            assert not at_boundary or complete < 2, str(error)
        else:
            assert at_boundary, "a truncated frame was read without --allow-truncated"
            _same_result(strict, reference.analysis(complete))
    return outcome


def _check_flips(reference: Reference, flips: list[tuple[int, int]]) -> str:
    """Check the reading of the dump with bytes ``(position, value)`` set; return the outcome."""
    data = bytearray(reference.data)
    for position, value in flips:
        data[min(position, len(data) - 1)] = value
    with reference.damaged(bytes(data)) as folder:
        path = Path(folder) / "traj.lammpstrj"
        meta = read_meta(Path(folder) / "meta.json")
        try:
            trajectory = read_lammps_dump(path, meta)
        except PolyhpcError:
            return "refused"
        try:
            twin = naive.kept_trajectory(naive.read_dump(path), meta)
        except naive.DumpRejected as rejected:
            pytest.fail(f"the reader accepted a dump the strict twin refuses: {rejected}")
        np.testing.assert_array_equal(trajectory.ids, twin["ids"])
        np.testing.assert_array_equal(trajectory.types, twin["types"])
        np.testing.assert_array_equal(trajectory.timesteps, twin["timesteps"])
        np.testing.assert_allclose(trajectory.boxes, twin["boxes"], rtol=1e-15)
        np.testing.assert_allclose(trajectory.positions, twin["positions"], rtol=1e-12,
                                   atol=1e-9)
        try:
            analyze_path(Path(folder))
        except PolyhpcError:
            return "read, analysis refused"
        return "read and analyzed"


_CUTS = st.one_of(st.tuples(st.just(-1), st.integers(0, 2_492_900)),
                  st.tuples(st.integers(1, 6), st.integers(-80, 40)))


@settings(FUZZ, max_examples=N_TRUNCATIONS)
@given(cut=_CUTS)
@example(cut=(-1, 0))
@example(cut=(1, -1))  # two frames, the second without its final newline
def test_a_truncated_dump_is_refused_or_gives_the_analysis_of_its_complete_frames(reference,
                                                                                  cut):
    assert reference.frame_ends[-1] == len(reference.data)
    _check_truncation(reference, cut)


_BYTES = st.one_of(st.sampled_from(list(b"0123456789.-+eE \t\n\rxI:")), st.integers(0, 255))
_POSITIONS = st.one_of(
    st.integers(0, 2_492_899),
    # headers and the first rows of a frame, which random positions rarely hit
    st.tuples(st.integers(0, 6), st.integers(0, 400)).map(
        lambda t: 2_492_900 * t[0] // 7 + t[1]))


@settings(FUZZ, max_examples=N_FLIPS)
@given(flips=st.lists(st.tuples(_POSITIONS, _BYTES), min_size=1, max_size=4))
def test_flipped_bytes_are_refused_or_read_as_the_strict_twin_reads_them(reference, flips):
    _check_flips(reference, flips)


@pytest.mark.parametrize("cut, outcome", [
    ((-1, 100), "error"),  # inside the first header: no complete frame
    ((2, 8), "result"),  # three frames, then 'ITEM: TI'
    ((3, -40), "result"),  # three frames and most of the fourth, dropped
])
def test_each_kind_of_truncation_outcome_is_reached(reference, cut, outcome):
    assert _check_truncation(reference, cut) == outcome


@pytest.mark.parametrize("flips, outcome", [
    ([(10, ord("x"))], "refused"),  # the first timestep
    ([(600, ord("7"))], "read and analyzed"),  # a coordinate digit of the first frame
])
def test_each_kind_of_byte_flip_outcome_is_reached(reference, flips, outcome):
    assert _check_flips(reference, flips) == outcome
