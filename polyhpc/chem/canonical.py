"""Canonical identity of a polymer given by one repeat unit.

Many repeat units describe the same infinite chain: ``*OCC*``, ``*COC*``,
``*CCO*`` and ``*OCCOCC*`` are all poly(ethylene oxide). The canonical form
works on the molecular graph, so side groups and rings are handled:

1. Repetition: if the unit is ``k`` copies of a shorter unit, keep the shorter
   one (the largest such ``k`` gives the minimal period).
2. Translation: every single, acyclic bond on the backbone (the shortest path
   between the ends) is a place where the chain could have been cut; each cut
   gives an equivalent unit. The canonical form is the lexicographically
   smallest RDKit canonical SMILES among them.
3. Direction: both ends are identical dummy atoms, so RDKit's graph
   canonicalization already makes ``*A...Z*`` and ``*Z...A*`` equal.

Stereo and charge follow RDKit canonicalization.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from rdkit import Chem, rdBase

from polyhpc.chem.polymerize import repeat_unit
from polyhpc.chem.smiles import end_atoms, parse_repeat_unit
from polyhpc.fileio import write_text_atomic

log = logging.getLogger(__name__)


def _cut_positions(unit: Chem.Mol) -> tuple[list[int], list[tuple[int, int]]]:
    """Backbone atoms (end to end) and the single acyclic bonds between them."""
    end1, _, end2, _ = end_atoms(unit)
    path = list(Chem.GetShortestPath(unit, end1, end2))[1:-1]
    cuts = []
    for x, y in zip(path[:-1], path[1:], strict=True):
        bond = unit.GetBondBetweenAtoms(x, y)
        if bond.GetBondType() == Chem.BondType.SINGLE and not bond.IsInRing():
            cuts.append((x, y))
    return path, cuts


def _shift(unit: Chem.Mol, x: int, y: int) -> Chem.Mol:
    """The equivalent unit obtained by cutting the chain at bond ``x-y``.

    The old ends ``a`` and ``b`` become an inner bond, ``x`` and ``y`` the new
    ends. Valences are unchanged, so implicit hydrogens stay right.
    """
    end1, a, end2, b = end_atoms(unit)
    shifted = Chem.RWMol(unit)
    shifted.RemoveBond(x, y)
    shifted.RemoveBond(end1, a)
    shifted.RemoveBond(end2, b)
    shifted.AddBond(a, b, Chem.BondType.SINGLE)
    shifted.AddBond(end1, x, Chem.BondType.SINGLE)
    shifted.AddBond(end2, y, Chem.BondType.SINGLE)
    mol = shifted.GetMol()
    Chem.SanitizeMol(mol)
    return mol


def _smallest_translation(unit: Chem.Mol) -> str:
    end1, a, end2, b = end_atoms(unit)
    best = Chem.MolToSmiles(unit)
    if a == b:
        return best
    _, cuts = _cut_positions(unit)
    for x, y in cuts:
        if {x, y} == {a, b}:
            continue
        candidate = Chem.MolToSmiles(_shift(unit, x, y))
        if candidate < best:
            best = candidate
    return best


def _prefix_unit(unit: Chem.Mol, path: list[int], length: int) -> Chem.Mol | None:
    """The first ``length`` backbone atoms with their side groups, as a unit."""
    x, y = path[length - 1], path[length]
    bond = unit.GetBondBetweenAtoms(x, y)
    if bond.GetBondType() != Chem.BondType.SINGLE or bond.IsInRing():
        return None
    end1, _, end2, _ = end_atoms(unit)
    piece = Chem.RWMol(unit)
    piece.RemoveBond(x, y)
    piece.RemoveBond(end2, path[-1])
    # Atoms reachable from the first end without crossing the cut.
    keep, frontier = {end1}, [end1]
    while frontier:
        atom = piece.GetAtomWithIdx(frontier.pop())
        for neighbour in atom.GetNeighbors():
            if neighbour.GetIdx() not in keep:
                keep.add(neighbour.GetIdx())
                frontier.append(neighbour.GetIdx())
    piece.AddBond(end2, x, Chem.BondType.SINGLE)
    keep.add(end2)
    for idx in sorted(set(range(piece.GetNumAtoms())) - keep, reverse=True):
        piece.RemoveAtom(idx)
    mol = piece.GetMol()
    try:
        Chem.SanitizeMol(mol)
    except Exception:  # noqa: BLE001 - a fragment that cannot stand alone is no period
        return None
    return mol


def _minimal_period(unit: Chem.Mol, key: str) -> Chem.Mol:
    """Return the shortest unit whose repetition gives the same polymer."""
    path, _ = _cut_positions(unit)
    n_backbone = len(path)
    n_heavy = unit.GetNumHeavyAtoms()
    for copies in range(n_backbone, 1, -1):
        if n_backbone % copies or n_heavy % copies:
            continue
        piece = _prefix_unit(unit, path, n_backbone // copies)
        if piece is None or piece.GetNumHeavyAtoms() * copies != n_heavy:
            continue
        if _smallest_translation(repeat_unit(piece, copies)) == key:
            return piece
    return unit


def canonical_repeat_unit(smiles: str) -> str:
    """Canonical SMILES of the polymer a repeat unit describes.

    Two units describing the same infinite chain (translated, reversed or
    repeated) return the same string.

    Parameters
    ----------
    smiles : str
        Repeat unit with two end markers.

    Returns
    -------
    str
        Canonical repeat-unit SMILES with ``*`` ends.

    Raises
    ------
    InvalidSmilesError
        When the unit fails validation.
    """
    unit = parse_repeat_unit(smiles)
    key = _smallest_translation(unit)
    minimal = _minimal_period(unit, key)
    if minimal is unit:
        return key
    return _smallest_translation(minimal)


def canonicalize_many(smiles: Iterable[str]) -> list[str | None]:
    """Canonicalize many units; invalid ones give ``None`` instead of raising."""
    out: list[str | None] = []
    for item in smiles:
        try:
            out.append(canonical_repeat_unit(item))
        except Exception:  # noqa: BLE001 - a bad unit must not stop a batch
            out.append(None)
    return out


def _canonical_cache_dir() -> Path:
    from polyhpc.data.registry import cache_dir

    return cache_dir() / "canonical"


def _versions() -> str:
    """What the canonical form depends on besides the input: RDKit and polyhpc versions."""
    from polyhpc import __version__

    return f"rdkit {rdBase.rdkitVersion}; polyhpc {__version__}"


def canonical_keys(smiles: list[str], cache: bool = True, workers: int | None = None) -> list:
    """Canonical identities of a list of units, cached on disk by content.

    The same list (e.g. the 6,024 HTP-MD units) is canonicalized once (in
    parallel over ``workers`` processes) and then read back from
    ``~/.cache/polyhpc/canonical/<sha256>.json``. The key covers the units and
    the RDKit and polyhpc versions (either can change canonical SMILES), so a
    cache written by another version is never read. Invalid units give ``None``.
    """
    digest = hashlib.sha256((_versions() + "\n" + "\n".join(smiles)).encode()).hexdigest()[:32]
    path = _canonical_cache_dir() / f"{digest}.json"
    if cache and path.is_file():
        try:
            keys = json.loads(path.read_text())
            if len(keys) == len(smiles):
                return keys
        except (OSError, ValueError):
            log.warning("ignoring unreadable canonical cache %s", path)
    workers = workers or min(os.cpu_count() or 1, 8)
    if workers > 1 and len(smiles) > 500:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        chunks = [smiles[i::workers] for i in range(workers)]
        # spawn, not fork: callers often have torch/OpenMP threads running already
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            parts = list(pool.map(canonicalize_many, chunks))
        keys = [None] * len(smiles)
        for i, part in enumerate(parts):
            keys[i::workers] = part
    else:
        keys = canonicalize_many(smiles)
    if cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, json.dumps(keys))
        except OSError as exc:
            log.warning("cannot write canonical cache %s: %s", path, exc)
    return keys
