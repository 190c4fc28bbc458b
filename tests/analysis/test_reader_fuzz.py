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

Seeded (``derandomize``) and bounded: a few seconds. The counts are the
``max_examples`` below plus the explicit examples.
"""

import functools
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from polyhpc.analysis.io import read_lammps_dump, read_meta
from polyhpc.analysis.pipeline import analyze_path
from polyhpc.errors import PolyhpcError
from tests import naive
from tests.conftest import TRAJECTORY

N_TRUNCATIONS = 40
N_FLIPS = 40
PROPERTIES = ["conductivity", "transference_number", "conductivity_ne", "li_diffusivity",
              "tfsi_diffusivity", "poly_diffusivity", "molality", "density",
              "free_cation_fraction"]
FUZZ = settings(derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
OUTCOMES = Counter()


@functools.lru_cache(maxsize=1)
def _original() -> bytes:
    return (TRAJECTORY / "traj.lammpstrj").read_bytes()


@functools.lru_cache(maxsize=1)
def _frame_ends() -> list[int]:
    data = _original()
    starts = [m.start() for m in re.finditer(rb"(?m)^ITEM: TIMESTEP", data)]
    return [*starts[1:], len(data)]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """One folder per module, its dump rewritten by every example."""
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "meta.json").write_bytes((TRAJECTORY / "meta.json").read_bytes())
    return folder


@functools.lru_cache(maxsize=8)
def _reference(n_frames: int):
    return analyze_path(TRAJECTORY, frames=slice(0, n_frames))


def _write(folder: Path, data: bytes) -> Path:
    path = folder / "traj.lammpstrj"
    path.write_bytes(data)
    return path


def _same_result(result, reference):
    assert result.n_frames == reference.n_frames
    for key in PROPERTIES:
        assert getattr(result, key) == pytest.approx(getattr(reference, key), rel=1e-12,
                                                     nan_ok=True), key
    np.testing.assert_array_equal(result.population, reference.population)


# (frame, offset): a cut ``offset`` bytes from the end of ``frame`` (its last newline is at
# -1, the next header at 0.. where the reader's decisions are made); frame -1: anywhere
_CUTS = st.one_of(st.tuples(st.just(-1), st.integers(0, 2_492_900)),
                  st.tuples(st.integers(1, 6), st.integers(-80, 40)))


@settings(FUZZ, max_examples=N_TRUNCATIONS)
@given(cut=_CUTS)
@example(cut=(-1, 0))
@example(cut=(-1, 100))
@example(cut=(1, -1))  # two frames, the second without its final newline
@example(cut=(2, 8))  # three frames, then 'ITEM: TI'
def test_a_truncated_dump_is_refused_or_gives_the_analysis_of_its_complete_frames(workdir, cut):
    data = _original()
    frame, offset = cut
    cut = offset if frame < 0 else _frame_ends()[frame] + offset
    cut = min(max(cut, 0), len(data))
    # frame boundaries of the reference file: each end is the next frame's start
    complete = sum(end <= cut for end in _frame_ends())
    assert _frame_ends()[-1] == len(data)
    _write(workdir, data[:cut])
    try:
        result = analyze_path(workdir, allow_truncated=True)
    except PolyhpcError:
        OUTCOMES["truncated: error"] += 1
        assert complete < 2, f"{complete} complete frames, yet refused"
    else:
        OUTCOMES["truncated: result"] += 1
        _same_result(result, _reference(complete))
    at_boundary = cut == 0 or cut in _frame_ends()
    try:
        strict = analyze_path(workdir)
    except PolyhpcError as error:
        assert not at_boundary or complete < 2, str(error)
    else:
        assert at_boundary, "a truncated frame was read without --allow-truncated"
        _same_result(strict, _reference(complete))


_BYTES = st.one_of(st.sampled_from(list(b"0123456789.-+eE \t\n\rxI:")), st.integers(0, 255))
_POSITIONS = st.one_of(
    st.integers(0, 2_492_899),
    # headers and the first rows of a frame, which random positions rarely hit
    st.tuples(st.integers(0, 6), st.integers(0, 400)).map(
        lambda t: 2_492_900 * t[0] // 7 + t[1]))


@settings(FUZZ, max_examples=N_FLIPS)
@given(flips=st.lists(st.tuples(_POSITIONS, _BYTES), min_size=1, max_size=4))
@example(flips=[(10, ord("x"))])  # the first timestep
@example(flips=[(600, ord("7"))])  # a coordinate digit of the first frame
def test_flipped_bytes_are_refused_or_read_as_the_strict_twin_reads_them(workdir, flips):
    data = bytearray(_original())
    for position, value in flips:
        data[min(position, len(data) - 1)] = value
    path = _write(workdir, bytes(data))
    meta = read_meta(workdir / "meta.json")
    try:
        trajectory = read_lammps_dump(path, meta)
    except PolyhpcError:
        OUTCOMES["flipped: error"] += 1
        return
    try:
        twin = naive.kept_trajectory(naive.read_dump(path), meta)
    except naive.DumpRejected as rejected:
        pytest.fail(f"the reader accepted a dump the strict twin refuses: {rejected}")
    np.testing.assert_array_equal(trajectory.ids, twin["ids"])
    np.testing.assert_array_equal(trajectory.types, twin["types"])
    np.testing.assert_array_equal(trajectory.timesteps, twin["timesteps"])
    np.testing.assert_allclose(trajectory.boxes, twin["boxes"], rtol=1e-15)
    np.testing.assert_allclose(trajectory.positions, twin["positions"], rtol=1e-12, atol=1e-9)
    try:
        analyze_path(workdir)
    except PolyhpcError:
        OUTCOMES["flipped: read, analysis refused"] += 1
    else:
        OUTCOMES["flipped: read and analyzed"] += 1


def test_zz_fuzzing_covered_every_outcome():
    """Runs after the fuzz tests (file order): each kind of outcome was exercised."""
    if sum(OUTCOMES.values()) < N_TRUNCATIONS + N_FLIPS:
        pytest.skip("run together with the fuzz tests")
    for outcome in ["truncated: error", "truncated: result", "flipped: error",
                    "flipped: read and analyzed"]:
        assert OUTCOMES[outcome] > 0, dict(OUTCOMES)
