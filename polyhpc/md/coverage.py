"""How many repeat units get a complete PCFF parameter set."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from rdkit import Chem

from polyhpc.chem.polymerize import repeat_unit
from polyhpc.chem.smiles import parse_repeat_unit
from polyhpc.errors import InvalidSmilesError
from polyhpc.md.forcefield import ParameterLookup, assign_parameters
from polyhpc.md.frc import ForceField


@dataclass(frozen=True)
class CoverageReport:
    """Complete parameter sets over a list of units, with what was missing."""

    n_units: int
    n_complete: int
    failures: dict[str, int]  # "kind: types" -> number of units
    failed_units: tuple[tuple[str, str], ...]

    @property
    def fraction(self) -> float:
        """Fraction of units with a complete parameter set."""
        return self.n_complete / self.n_units if self.n_units else 0.0


def unit_assignment(smiles: str, lookup: ParameterLookup, copies: int = 3):
    """Assignment of a methyl-capped oligomer (junctions between units included)."""
    oligomer = repeat_unit(parse_repeat_unit(smiles), copies, caps="C")
    return assign_parameters(Chem.AddHs(oligomer), lookup)


def parameter_coverage(units: list[str], forcefield: ForceField) -> CoverageReport:
    """Type and parameterize a capped trimer of every unit; count complete sets."""
    lookup = ParameterLookup(forcefield)
    failures: Counter = Counter()
    failed = []
    complete = 0
    for smiles in units:
        try:
            assignment = unit_assignment(smiles, lookup)
        except InvalidSmilesError as exc:  # the unit itself: group by the rule it breaks
            reason = "invalid: " + str(exc).rsplit("': ", 1)[-1].split(" (atom")[0]
            failures[reason] += 1
            failed.append((smiles, str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 - typing: record, never stop
            reason = f"untyped: {exc}".split(" atom ")[0]
            failures[reason] += 1
            failed.append((smiles, reason))
            continue
        if assignment.complete:
            complete += 1
            continue
        reasons = sorted({f"{kind}: {'-'.join(key)}" for kind, keys in assignment.missing.items()
                          for key in keys})
        for reason in reasons:
            failures[reason] += 1
        failed.append((smiles, "; ".join(reasons)))
    return CoverageReport(len(units), complete, dict(failures.most_common()), tuple(failed))
