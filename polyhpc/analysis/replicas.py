"""Replicas of one system: the check that they are, their mean ± std, and saving.

Trajectories averaged as replicas must describe the same system: the same
polymer (``mol_smiles`` and ``poly_smiles`` of ``meta.json``), the same salt
(Li+ and TFSI- counts found in the trajectory), temperature, MD protocol and
force field. :func:`aggregate_replicas` refuses anything else and says which
of these differ, so unrelated runs are never averaged into one number.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from polyhpc.analysis.results import PROPERTIES, UNITS, Provenance, TransportResult
from polyhpc.errors import ReplicaMismatchError
from polyhpc.fileio import finite_json, write_json_atomic

#: File name of the replica summary that ``analyze --save`` writes.
AGGREGATE_FILE = "aggregate.json"


def _identity(result: TransportResult) -> dict[str, object]:
    """What replicas of one system share, by the name a user reads in an error."""
    p = result.provenance
    return {
        "polymer (mol_smiles)": p.unit_label() if p.mol_smiles else None,
        "chain (poly_smiles)": p.poly_smiles,
        "Li+ count": result.n_cations,
        "TFSI- count": result.n_anions,
        "temperature (K)": result.temperature,
        "protocol": p.protocol,
        "protocol settings (sha256)": p.protocol_sha256,
        "force field": p.force_field,
        "force-field file sha256": (p.force_field_file or {}).get("sha256"),
    }


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…'"


def check_replicas(results: list[TransportResult], names: list[str] | None = None) -> None:
    """Raise :class:`ReplicaMismatchError` naming every quantity the replicas differ in.

    Parameters
    ----------
    results : list of TransportResult
        One per replica.
    names : list of str, optional
        Replica names for the message (default: their sources).
    """
    names = names or [r.source for r in results]
    identities = [_identity(r) for r in results]
    differences = []
    for key in identities[0]:
        values = [identity[key] for identity in identities]
        if key == "temperature (K)":
            same = all(math.isclose(v, values[0], rel_tol=1e-9) for v in values)
        else:
            same = all(v == values[0] for v in values)
        if not same:
            shown = ", ".join(f"{n}: {_show(v)}" for n, v in zip(names, values, strict=True))
            differences.append(f"{key} ({shown})")
    if differences:
        raise ReplicaMismatchError(
            f"{len(results)} trajectories are not replicas of one system, they differ in "
            + "; ".join(differences) + ". Analyze different systems in separate calls")


#: The one NaN policy of replica aggregation (``polyhpc analyze A B ...`` and the campaign).
NAN_POLICY = (
    "a property's mean and std are over the replicas in which it is defined: a replica "
    "where it is undefined (NaN, e.g. a transference number without any charged cluster) "
    "is left out of that property only, and the count says over how many replicas it is; "
    "a property undefined in every replica is undefined")


def replica_statistics(values) -> tuple[float, float, int]:
    """Mean, sample std (ddof=1) and count of the finite values of one property.

    The policy is :data:`NAN_POLICY`: undefined values (None, NaN, infinities) are left
    out, because an undefined value says the property does not exist in that trajectory,
    not that the other replicas' values are wrong (making the mean NaN would discard the
    valid replicas for one undefined one). No finite value gives a NaN mean; fewer than two
    give a NaN std.
    """
    finite = np.array([v for v in values if v is not None and math.isfinite(v)], np.float64)
    mean = float(finite.mean()) if len(finite) else math.nan
    std = float(finite.std(ddof=1)) if len(finite) > 1 else math.nan
    return mean, std, len(finite)


def aggregate_properties(rows: list[dict]) -> tuple[dict, dict, dict]:
    """Per-property ``mean``, ``std`` and ``n`` over replicas' property dicts."""
    mean, std, count = {}, {}, {}
    for name in PROPERTIES:
        mean[name], std[name], count[name] = replica_statistics([r.get(name) for r in rows])
    return mean, std, count


@dataclass(frozen=True)
class ReplicaSummary:
    """Mean and sample standard deviation of each property over replicas.

    Aggregated by :func:`aggregate_properties` (the policy is :data:`NAN_POLICY`): ``n``
    says over how many replicas each property's mean is. ``notes`` says why a mean or std
    is missing or over fewer replicas (``std``: one replica; a property: the replicas'
    own reasons); ``values`` keeps every replica's value, in the order of ``names``.
    """

    n_replicas: int
    mean: dict[str, float]
    std: dict[str, float]
    sources: tuple[str, ...]
    names: tuple[str, ...] = ()
    values: dict[str, list[float]] = field(default_factory=dict)
    provenance: Provenance = field(default_factory=Provenance)
    notes: dict[str, str] = field(default_factory=dict)
    n: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {"n_replicas": self.n_replicas, "mean": self.mean, "std": self.std,
                "n": self.n, "nan_policy": NAN_POLICY,
                "sources": list(self.sources), "names": list(self.names),
                "values": self.values, "provenance": self.provenance.to_dict(),
                "notes": self.notes, "units": UNITS}


def aggregate_replicas(results: list[TransportResult],
                       names: list[str] | None = None) -> ReplicaSummary:
    """Replica mean ± std (ddof=1) of every property, after :func:`check_replicas`.

    A property undefined (NaN) in some replicas is averaged over the others
    (:data:`NAN_POLICY`); its note names the replicas left out and why; a single
    replica has no standard deviation.
    """
    if not results:
        raise ValueError("no results to aggregate")
    names = list(names or [r.source for r in results])
    check_replicas(results, names)
    rows = [{name: getattr(r, name) for name in PROPERTIES} for r in results]
    mean, std, count = aggregate_properties(rows)
    values, notes = {}, {}
    for name in PROPERTIES:
        values[name] = [row[name] for row in rows]
        reasons = sorted({r.note(name) for r in results if r.note(name)})
        if 0 < count[name] < len(results):
            left_out = [n for n, v in zip(names, values[name], strict=True) if not math.isfinite(v)]
            reasons.insert(0, f"over {count[name]} of {len(results)} replicas (undefined in "
                              f"{', '.join(left_out)})")
        if reasons:
            notes[name] = "; ".join(reasons)
    if len(results) == 1:
        notes["std"] = "1 replica: no standard deviation"
    first = results[0].provenance
    shared = Provenance(first.mol_smiles, first.poly_smiles, first.protocol, first.deviations,
                        first.protocol_sha256, first.force_field, first.force_field_file)
    return ReplicaSummary(len(results), mean, std, tuple(r.source for r in results),
                          tuple(names), values, shared, notes, count)


_SAFE = re.compile(r"[^A-Za-z0-9._+=@-]+")


def replica_names(trajectory_files: list[Path], paths: list[Path] | None = None) -> list[str]:
    """Distinct file-name stems for results of the given trajectories.

    Each name is the last path component(s) of what the user passed (a
    directory, or a file without its suffix), with as many parent folders
    joined by ``-`` as it takes to tell them apart: ``a/rep0/traj.lammpstrj``
    and ``b/rep0/traj.lammpstrj`` become ``a-rep0-traj`` and ``b-rep0-traj``.

    Raises
    ------
    ReplicaMismatchError
        The same trajectory is given twice, or no names tell them apart.
    """
    files = [Path(f).resolve() for f in trajectory_files]
    seen: dict[Path, int] = {}
    for i, f in enumerate(files):
        if f in seen:
            raise ReplicaMismatchError(f"{f} is given twice; each replica once, please")
        seen[f] = i
    given = [Path(p).resolve() for p in (paths or trajectory_files)]
    parts = [(p if p.is_dir() else p.with_suffix("")).parts[1:] for p in given]
    for depth in range(1, max(len(p) for p in parts) + 1):
        names = [_SAFE.sub("_", "-".join(p[-depth:])) or "result" for p in parts]
        if len(set(names)) == len(names) and AGGREGATE_FILE[:-5] not in names:
            return names
    raise ReplicaMismatchError("cannot give the results distinct file names: "
                               + ", ".join(str(p) for p in given))


def _stale_files(out: Path, names: list[str]) -> list[str]:
    """Result files an earlier ``analyze --save`` left in ``out`` for other trajectories."""
    previous = out / AGGREGATE_FILE
    if not previous.is_file():
        return []
    try:
        earlier = json.loads(previous.read_text()).get("names", [])
    except (json.JSONDecodeError, AttributeError):
        return []
    return [f"{n}.json" for n in earlier if n not in names and (out / f"{n}.json").is_file()]


def save_results(out: Path, results: list[TransportResult], names: list[str],
                 summary: ReplicaSummary | None = None) -> list[Path]:
    """Write ``<name>.json`` per replica and, given a summary, ``aggregate.json`` into ``out``.

    Refuses to write where an earlier call's ``aggregate.json`` lists results
    of other trajectories that would stay beside the new ones (the folder
    would then mix two analyses).
    """
    out = Path(out)
    stale = _stale_files(out, names)
    if stale:
        raise ReplicaMismatchError(
            f"{out} holds results of other trajectories from an earlier analysis "
            f"({', '.join(stale)}); choose another --out or remove them")
    out.mkdir(parents=True, exist_ok=True)
    written = [write_json_atomic(out / f"{name}.json", finite_json(result.to_dict()))
               for name, result in zip(names, results, strict=True)]
    if summary is not None:
        written.append(write_json_atomic(out / AGGREGATE_FILE, finite_json(summary.to_dict())))
    return written
