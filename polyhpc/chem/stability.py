"""Stability and synthesizability screen for polymer repeat units.

Named SMARTS rules for motifs that do not survive in a polymer electrolyte
(weak bonds, hydrolytically or reductively labile groups), each with a
one-line reason and a citation, plus the SA score threshold. Khajeh et al.
2025 (section 4.2) name N-O, S-O, S-N, O-O-NH and O-NH-O bonds in half of
their 14 best polymers as unstable; the other rules come from the
polymer-degradation and battery-electrolyte literature cited with each.

Rules are matched on three units joined head to tail (ends kept as dummy
atoms), so bonds across the junction count: ``*OCCOCCN*`` polymerizes to
``...CCN-OCC...`` and breaks ``n_o_single`` although no N-O bond is written.
The SA score (Ertl & Schuffenhauer, J. Cheminf. 1, 8 (2009),
DOI 10.1186/1758-2946-1-8) is that of :func:`polyhpc.chem.sa_score` with
hydrogen ends, on the shortest oligomer with at least three backbone atoms
(one- and two-atom molecules score as hard: methane 7.33); units at or
above ``sa_threshold`` (5, the paper's synthesizability cut, section 3.2)
break the rule ``sa_score``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from rdkit import Chem

from polyhpc.chem.canonical import canonical_repeat_unit
from polyhpc.chem.descriptors import sa_score
from polyhpc.chem.polymerize import repeat_unit
from polyhpc.chem.smiles import parse_repeat_unit
from polyhpc.errors import ConfigError

_PAPER = "Khajeh et al., Digital Discovery 2025, section 4.2, DOI 10.1039/d4dd00293h"
# S(VI) (sulfonyl, sulfonate, sulfonamide, as in TFSI itself) is stable; S(II)/S(IV) is not.
_LOW_VALENT_S = "[#16;!$([#16](=[#8])=[#8])]"


@dataclass(frozen=True)
class StabilityRule:
    """One unstable motif: a name, a SMARTS pattern, why, and where that is said."""

    name: str
    smarts: str
    reason: str
    citation: str

    def to_dict(self) -> dict:
        """Plain-data form."""
        return {"name": self.name, "smarts": self.smarts, "reason": self.reason,
                "citation": self.citation}


RULES: tuple[StabilityRule, ...] = (
    StabilityRule(
        "peroxide", "[#8]-[#8]",
        "O-O single bond (~35-50 kcal/mol) cleaves homolytically; peroxides are oxidizers",
        "Bach, Ayala & Schlegel, J. Am. Chem. Soc. 118, 12758 (1996), "
        "DOI 10.1021/ja961838i; " + _PAPER),
    StabilityRule(
        "n_o_single", "[#7]-[#8]",
        "N-O single bond (hydroxylamine, alkoxyamine) is weak and cleaves reductively",
        _PAPER),
    StabilityRule(
        "s_o_single", f"{_LOW_VALENT_S}-[#8]",
        "S(II)/S(IV)-O esters (sulfenates, sulfinates) hydrolyse and rearrange; "
        "sulfonates are exempt", _PAPER),
    StabilityRule(
        "s_n_single", f"{_LOW_VALENT_S}-[#7]",
        "S(II)/S(IV)-N (sulfenamides, sulfinamides) cleave easily; sulfonamides such as "
        "TFSI are exempt", _PAPER),
    StabilityRule(
        "n_n_chain", "[#7]-!@[#7]",
        "acyclic N-N single bond (hydrazine, hydrazide) is weak and easily oxidized",
        "one-line reason: mean N-N single-bond enthalpy ~160 kJ/mol, about half that of "
        "C-N"),
    StabilityRule(
        "azo", "[#6]-[#7]=[#7]-[#6]",
        "azo groups lose N2 on heating (they are radical initiators, e.g. AIBN)",
        "one-line reason: thermal N2 extrusion of dialkyl diazenes"),
    StabilityRule(
        "orthoester", "[CX4](-[#8])(-[#8])-[#8]",
        "sp3 carbon with three or more oxygens hydrolyses in mild acid",
        "Heller et al., Adv. Drug Deliv. Rev. 54, 1015 (2002): poly(ortho esters) are "
        "designed to erode by hydrolysis"),
    StabilityRule(
        "hemiacetal", "[CX4](-[OX2H1])-[#7,#8]",
        "hemiacetals, hemiaminals and gem-diols fall apart into a carbonyl and an "
        "alcohol or amine", "one-line reason: carbonyl addition equilibria"),
    StabilityRule(
        "anhydride", "[#6,#15,#16](=[#8])-[#8]-[#6,#15,#16]=[#8]",
        "acid anhydrides hydrolyse and acylate nucleophiles",
        "Kumar, Langer & Domb, Adv. Drug Deliv. Rev. 54, 889 (2002): polyanhydrides "
        "are designed to erode by hydrolysis"),
    StabilityRule(
        "acyl_fluoride", "[CX3](=[#8])-[#9]",
        "acyl fluorides hydrolyse to HF and acylate nucleophiles",
        "one-line reason: acid halides are acylating agents; HF attacks electrodes"),
    StabilityRule(
        "heteroatom_fluoride", "[#7,#8]-[#9]",
        "N-F and O-F bonds are strong oxidizers (electrophilic fluorinating agents)",
        "one-line reason: N-F/O-F reagents fluorinate electron-rich sites"),
    StabilityRule(
        "disulfide", "[#16X2]-[#16X2]",
        "S-S bonds are cleaved on reduction (organodisulfide cathodes rely on it)",
        "Liu, Visco & De Jonghe, J. Electrochem. Soc. 138, 1891 (1991)"),
    StabilityRule(
        "strained_heterocycle", "[#7,#8,#16;r3]",
        "three-membered heterocycles (epoxides, aziridines, thiiranes) ring-open with "
        "nucleophiles and Lewis acids such as Li+",
        "one-line reason: ~27 kcal/mol ring strain"),
    StabilityRule(
        "enol", "[CX3]=[CX3]-[OX2H1,NX3H1,NX3H2]",
        "enols and NH-enamines tautomerize to carbonyls and imines",
        "one-line reason: keto-enol and imine-enamine tautomerism"),
    StabilityRule(
        "aldehyde", "[CX3H1](=[#8])",
        "aldehydes oxidize and condense (aldol, acetal formation with the polymer)",
        "one-line reason: the most reactive carbonyl"),
    StabilityRule(
        "acid", "[$([CX3](=[#8])-[OX2H1]),$([#16X4](=[#8])(=[#8])-[OX2H1]),"
                "$([#15X4](=[#8])-[OX2H1])]",
        "acidic O-H is reduced at lithium to H2 and protonates the anion",
        "Xu, Chem. Rev. 104, 4303 (2004), DOI 10.1021/cr030203g (protic impurities in "
        "lithium-battery electrolytes)"),
)

#: Name of the SA score rule (not a SMARTS rule).
SA_RULE = "sa_score"
#: The SA score is taken on an oligomer with at least this many backbone atoms.
SA_MIN_BACKBONE_ATOMS = 3


@functools.lru_cache(maxsize=1)
def _compiled() -> dict[str, Chem.Mol]:
    patterns = {}
    for rule in RULES:
        pattern = Chem.MolFromSmarts(rule.smarts)
        if pattern is None:  # a broken pattern is a bug, not bad input
            raise RuntimeError(f"SMARTS of rule {rule.name} does not parse: {rule.smarts}")
        patterns[rule.name] = pattern
    return patterns


def rule_names() -> tuple[str, ...]:
    """Every rule name, SMARTS rules first, then ``sa_score``."""
    return (*(rule.name for rule in RULES), SA_RULE)


def polymer_context(smiles: str) -> Chem.Mol:
    """Three units joined head to tail with dummy ends: every junction bond is present."""
    return repeat_unit(parse_repeat_unit(smiles), 3)


@dataclass(frozen=True)
class StabilityCheck:
    """Which rules a unit breaks."""

    smiles: str
    broken: tuple[str, ...]
    sa_score: float | None

    @property
    def stable(self) -> bool:
        """Whether no rule is broken."""
        return not self.broken

    def to_dict(self) -> dict:
        """Plain-data form."""
        return {"smiles": self.smiles, "stable": self.stable, "broken": list(self.broken),
                "sa_score": self.sa_score}


class StabilityScreen:
    """A selection of rules and the SA threshold, compiled once.

    Parameters
    ----------
    rules : sequence of str, optional
        Rule names to apply (default: all, ``sa_score`` included).
    sa_threshold : float
        Units with an SA score at or above it break ``sa_score``.
    """

    def __init__(self, rules=None, sa_threshold: float = 5.0):
        known = rule_names()
        chosen = tuple(rules) if rules else known
        unknown = [name for name in chosen if name not in known]
        if unknown:
            raise ConfigError(f"unknown stability rule(s) {', '.join(unknown)}; "
                              f"known: {', '.join(known)}")
        self.rules = chosen
        self.sa_threshold = sa_threshold
        patterns = _compiled()
        self._patterns = [(name, patterns[name]) for name in chosen if name != SA_RULE]

    def check(self, smiles: str, first_only: bool = False) -> StabilityCheck:
        """Rules ``smiles`` (a valid repeat unit) breaks, in rule order.

        Raises
        ------
        InvalidSmilesError
            When the unit fails validation.
        """
        context = polymer_context(smiles)
        broken = []
        for name, pattern in self._patterns:
            if context.HasSubstructMatch(pattern):
                broken.append(name)
                if first_only:
                    return StabilityCheck(smiles, tuple(broken), None)
        score = None
        if SA_RULE in self.rules:
            score = sa_score(canonical_repeat_unit(smiles), canonical=True,
                             min_backbone_atoms=SA_MIN_BACKBONE_ATOMS)
            if score >= self.sa_threshold:
                broken.append(SA_RULE)
        return StabilityCheck(smiles, tuple(broken), score)

    def first_broken(self, smiles: str) -> str | None:
        """The first rule ``smiles`` breaks, or ``None`` (cheaper than :meth:`check`)."""
        broken = self.check(smiles, first_only=True).broken
        return broken[0] if broken else None


def check_stability(smiles: str, rules=None, sa_threshold: float = 5.0) -> StabilityCheck:
    """Rules of the stability screen that a repeat unit breaks.

    Parameters
    ----------
    smiles : str
        A valid repeat unit with two end markers.
    rules : sequence of str, optional
        Rule names (default: every rule of :data:`RULES` and ``sa_score``).
    sa_threshold : float
        SA score cut (default 5).
    """
    return StabilityScreen(rules, sa_threshold).check(smiles)
