"""Force-field files that change a few entries of another ``.frc`` (e.g. PCFF+ values).

:func:`write_frc_variant` copies a ``.frc`` file and adds entries with a higher
version to its sections; :func:`polyhpc.md.frc.read_frc` keeps the highest
version of a key, so the added entries win. :func:`write_htpmd_peo_frc` writes
the public ``pcff.frc`` with the PCFF+ nonbond parameters and ether charges
of the HTP-MD PEO data file, the force field of the HTP-MD data for PEO, so
polyhpc can run PEO with either force field (``polyhpc bench md --compare-ff``).
"""

from __future__ import annotations

from pathlib import Path

from polyhpc.errors import PolyhpcError
from polyhpc.fileio import write_text_atomic
from polyhpc.md.frc import default_frc_path

VERSION = "9.9 99"  # above every version of the public file

#: PCFF+ values of the HTP-MD PEO data file (TRI-AMDD/PolyGen ``Example-simulation-files/
#: equilibration/system.lmp``, CC0; the shared ``htpmd-peo-litfsi-protocol``): 9-6 r* [A]
#: and epsilon [kcal/mol] of its four sp3 carbons (CH2 and CH3, with and without an
#: oxygen neighbour), hydrogen and ether oxygen, and the c-o bond increment that
#: gives its charges (O -0.32, O-CH2 +0.054, O-CH3 +0.001).
HTPMD_PEO_NONBOND = {"c2": (3.7584, 0.0634), "c2o": (3.6348, 0.0674), "c3": (3.884, 0.071),
                     "c3o": (3.8727, 0.0688), "h": (2.878, 0.023), "oc": (3.30, 0.12)}
HTPMD_PEO_INCREMENTS = {("c", "o"): (0.16, -0.16)}


def write_frc_variant(base: Path, out: Path, sections: dict[str, list[str]]) -> Path:
    """Copy ``base`` to ``out`` with ``sections[name]`` rows added under ``#name``.

    Rows are the key and values of an entry (``"c2o 3.6348 0.0674"``); each is
    written with a version above the file's own, so it overrides the entry of
    the same key.

    Raises
    ------
    PolyhpcError
        ``base`` lacks one of the sections.
    """
    lines = Path(base).read_text(errors="replace").splitlines()
    out_lines = []
    pending = dict(sections)
    for line in lines:
        out_lines.append(line)
        name = line[1:].split()[0] if line.startswith("#") and line[1:].split() else None
        if name in pending:
            out_lines += [f" {VERSION}  {row}" for row in pending.pop(name)]
    if pending:
        raise PolyhpcError(f"{base} has no section(s) {', '.join('#' + s for s in pending)}")
    write_text_atomic(out, "\n".join(out_lines) + "\n")
    return Path(out)


def write_htpmd_peo_frc(out: Path, base: Path | None = None) -> Path:
    """The public ``pcff.frc`` with the HTP-MD (PCFF+) PEO nonbond terms and charges.

    Defines the subtypes ``c2o``/``c3o`` (:data:`polyhpc.md.typing.SUBTYPES`) with the
    bonded terms of ``c2``/``c3`` and gives c2, c2o, c3, c3o, h and oc their own
    nonbond entries.
    """
    base = Path(base) if base is not None else default_frc_path()
    atom_types = [f"{t:<5} 12.01115  C  4  sp3 carbon bonded to oxygen (PCFF+ environment)"
                  for t in ("c2o", "c3o")]
    equivalence = [f"{t:<5} {t:<5} {bond:<5} {bond:<5} {bond:<5} {bond}"
                   for t, bond in (("c2", "c"), ("c2o", "c"), ("c3", "c"), ("c3o", "c"),
                                   ("oc", "o"))]
    auto = [f"{t:<5} c  c  c_  c_  c_  c_  c_  c_  c_" for t in ("c2o", "c3o")]
    nonbond = [f"{t:<5} {r:.4f} {eps:.4f}" for t, (r, eps) in HTPMD_PEO_NONBOND.items()]
    increments = [f"{a:<5} {b:<5} {x:.4f} {y:.4f}"
                  for (a, b), (x, y) in HTPMD_PEO_INCREMENTS.items()]
    return write_frc_variant(base, out, {
        "atom_types": atom_types, "equivalence": equivalence, "auto_equivalence": auto,
        "nonbond(9-6)": nonbond, "bond_increments": increments})
