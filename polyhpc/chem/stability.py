"""Stability and synthesizability screen for polymer repeat units.

Named SMARTS rules for motifs that do not survive in a polymer electrolyte
(weak bonds, hydrolytically or reductively labile groups), each with a
one-line reason that says what it matches and a citation, plus the SA score
threshold. Khajeh et al. 2025 (section 4.2) name N-O, S-O, S-N, O-O-NH and
O-NH-O bonds in half of their 14 best polymers as unstable (rules
``peroxide``, ``n_o_single``, ``s_o_single``, ``s_n_single``); the other
rules come from the polymer-degradation and battery-electrolyte literature
cited with each.

Rules are matched on three units joined head to tail (ends kept as dummy
atoms), so bonds across the junction count: ``*OCCOCCN*`` polymerizes to
``...CCN-OCC...`` and breaks ``n_o_single`` although no N-O bond is written.

What is deliberately not flagged:

- Acetals (a carbon with two ether oxygens): the paper's polyacetals
  (``*OCCOC*``, poly(1,3-dioxolane), and 1-4, 2-1, 2-5) are among its best
  polymers, P(EO-MO) and P(2EO-MO) have been made and measured (its refs. 62
  and 63), and acetals are stable to base, nucleophiles and reduction
  (1,3-dioxolane is a common solvent of lithium-metal cells); they hydrolyse
  only in aqueous acid.
  A third oxygen on that carbon (an orthoester) makes it hydrolyse in mild
  acid, and ``orthoester`` flags it.
- Formamides and formates (``N-CH=O``, ``O-CH=O``): amides and esters, not
  aldehydes.
- Azides, diazo compounds, nitro groups, N-oxides and nitrate esters: RDKit
  writes every one of them with charged atoms (``N=[N+]=[N-]``,
  ``[N+](=O)[O-]``, also when given as ``N=N#N`` or ``N(=O)=O``), and
  :func:`polyhpc.chem.check_repeat_unit` refuses charged atoms, so no such
  unit reaches the screen; ``n_o_single`` ignores charged N for molecules
  matched directly with :meth:`StabilityScreen.match`.

The SA score (Ertl & Schuffenhauer, J. Cheminf. 1, 8 (2009),
DOI 10.1186/1758-2946-1-8) is that of :func:`polyhpc.chem.sa_score` with
hydrogen ends, on the shortest oligomer with at least three backbone atoms
(one- and two-atom molecules score as hard: methane 7.33); units at or
above ``sa_threshold`` break the rule ``sa_score``. The default cut, 5, is
PolyGen's (:data:`SA_CITATION`): the paper's section 3.2 lists
synthesizability among its six generation metrics without giving the cut.
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
#: Where the SA cut of 5 comes from: PolyGen, the authors' code (not the paper's text).
SA_CITATION = ("Ertl & Schuffenhauer, J. Cheminf. 1, 8 (2009); cut 5: TRI-AMDD/PolyGen "
               "minGPT/pipeline.py (minGPT.evaluate counts samples with SA < 5 as synthesizable)")
#: What the SA rule flags.
SA_REASON = "SA score at or above the threshold (default 5): hard to make"
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
        "O-O single bond (peroxides, hydroperoxides, peresters; ~35-50 kcal/mol) cleaves "
        "homolytically; peroxides are oxidizers",
        "Bach, Ayala & Schlegel, J. Am. Chem. Soc. 118, 12758 (1996), "
        "DOI 10.1021/ja961838i; " + _PAPER),
    StabilityRule(
        "n_o_single", "[#7;+0]-[#8;+0]",
        "N-O single bond between uncharged N and O (hydroxylamines, alkoxyamines, hydroxamic "
        "acids, oximes, nitrite esters) is weak and cleaves reductively; the N+-O bonds of "
        "nitro groups, N-oxides and nitrate esters are not matched",
        _PAPER),
    StabilityRule(
        "s_o_single", f"{_LOW_VALENT_S}-[#8]",
        "O on S(II)/S(IV) (sulfenate, sulfinate and sulfite esters) hydrolyses and "
        "rearranges; S(VI) sulfonates and sulfates are not matched", _PAPER),
    StabilityRule(
        "s_n_single", f"{_LOW_VALENT_S}-[#7]",
        "N on S(II)/S(IV) (sulfenamides, sulfinamides) cleaves easily; S(VI) sulfonamides "
        "such as TFSI are not matched", _PAPER),
    StabilityRule(
        "n_n_chain", "[#7]-!@[#7]",
        "acyclic N-N single bond (hydrazines, hydrazides, hydrazones, N-nitrosamines) is "
        "weak and easily oxidized; N-N bonds inside rings are not matched",
        "one-line reason: mean N-N single-bond enthalpy ~160 kJ/mol, about half that of "
        "C-N"),
    StabilityRule(
        "azo_alkyl", "[#6;!a]-[NX2]=[NX2]-[#6;!a]",
        "N=N between non-aromatic carbons (azoalkanes, azo esters) loses N2 to radicals on "
        "heating (AIBN: half-life 10 h at 65 C) and tautomerizes to a hydrazone when it has "
        "an alpha-H; aryl azo groups are azo_aryl",
        "one-line reason: thermal N2 extrusion of dialkyl diazenes, the radical initiators"),
    StabilityRule(
        "azo_aryl", "[NX2](-a)=[NX2]-[#6]",
        "N=N on an aromatic ring (azobenzenes, aryl alkyl diazenes) is thermally robust but "
        "redox-active: azobenzenes take up Li+ and electrons reversibly (battery active "
        "materials), so the electrolyte is reduced at the anode",
        "Zhang et al., Nat. Commun. 11, 3843 (2020), DOI 10.1038/s41467-020-17662-y "
        "(azobenzenes as lithium-coupled redox-flow active materials)"),
    StabilityRule(
        "orthoester", "[CX4](-[#8])(-[#8])-[#8]",
        "sp3 carbon with three or four oxygens (orthoesters, orthocarbonates) hydrolyses in "
        "mild acid; acetals (two oxygens, the paper's polyacetals such as *OCCOC*) are not "
        "matched",
        "Heller, Barr, Ng, Schwach-Abdellaoui & Gurny, Adv. Drug Deliv. Rev. 54, 1015 (2002), "
        "DOI 10.1016/S0169-409X(02)00055-8: poly(ortho esters) are designed to erode by "
        "hydrolysis"),
    StabilityRule(
        "hemiacetal", "[CX4](-[OX2H1])-[#7,#8]",
        "hemiacetals, hemiaminals and gem-diols (C bearing OH and another O or N) fall apart "
        "into a carbonyl and an alcohol or amine", "one-line reason: carbonyl addition "
        "equilibria"),
    StabilityRule(
        "anhydride", "[#6,#15,#16](=[#8])-[#8]-[#6,#15,#16]=[#8]",
        "acid anhydrides (carboxylic, sulfonic, phosphoric, mixed) hydrolyse and acylate "
        "nucleophiles",
        "'Toxicity, biodegradation and elimination of polyanhydrides', Adv. Drug Deliv. Rev. "
        "54, 933 (2002), DOI 10.1016/S0169-409X(02)00052-2: polyanhydrides degrade by "
        "hydrolysis of the anhydride bond"),
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
        "S-S bonds (disulfides, polysulfides) are cleaved on reduction (organodisulfide "
        "electrodes rely on it)",
        "Jin, Zhong, Li & Li, J. Appl. Electrochem. 43, 783 (2013), "
        "DOI 10.1007/s10800-013-0576-8 (S-S cleavage and recombination of an organodisulfide "
        "cathode in a lithium cell)"),
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
        "aldehyde", "[$([CX3H1](=[OX1])-[#6]),$([CX3H2]=[OX1])]",
        "aldehydes (CHO on carbon, and formaldehyde) oxidize and condense (aldol, acetals "
        "with the polymer); formamides and formates (CHO on N or O) are not matched",
        "one-line reason: the most reactive carbonyl"),
    StabilityRule(
        "acid", "[$([CX3](=[#8])-[OX2H1]),$([#16X4](=[#8])(=[#8])-[OX2H1]),"
                "$([#15X4](=[#8])-[OX2H1])]",
        "acidic O-H (carboxylic, sulfonic, phosphoric and phosphonic acids) is reduced at "
        "lithium to H2 and protonates the anion",
        "Xu, Chem. Rev. 104, 4303 (2004), DOI 10.1021/cr030203g (protic impurities in "
        "lithium-battery electrolytes)"),
    StabilityRule(
        "thiol", "[SX2H1]",
        "thiols (S-H) are oxidized by air to disulfides, cross-linking the chains, and, "
        "~10^6 times more acidic than alcohols (pKa ~10 vs ~16), react with lithium to H2",
        "one-line reason: thiol-disulfide oxidation; thiolate acidity"),
    StabilityRule(
        "nitroso", "[#6,#7]-[NX2;+0]=[OX1]",
        "C- and N-nitroso groups (R-N=O) are reactive: C-nitroso compounds dimerize and "
        "tautomerize to oximes, N-nitrosamines lose NO on heating or light; nitrite esters "
        "(O-N=O) are n_o_single",
        "one-line reason: the weak, polarized N=O of nitroso compounds"),
    StabilityRule(
        "isocyanate", "[NX2]=[CX2]=[OX1,SX1]",
        "isocyanates and isothiocyanates (N=C=O, N=C=S) add water, alcohols and amines "
        "(water gives an amine and CO2); carbamates and ureas are not matched",
        "one-line reason: heterocumulene electrophiles (the chemistry of polyurethane "
        "curing)"),
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

    def match(self, mol: Chem.Mol, first_only: bool = False) -> tuple[str, ...]:
        """SMARTS rules (of this selection, in rule order) that a molecule matches.

        Parameters
        ----------
        mol : rdkit.Chem.Mol
            Any molecule; :meth:`check` passes a unit's three-unit polymer context.
        first_only : bool
            Stop at the first match.
        """
        matched = []
        for name, pattern in self._patterns:
            if mol.HasSubstructMatch(pattern):
                matched.append(name)
                if first_only:
                    break
        return tuple(matched)

    def check(self, smiles: str, first_only: bool = False) -> StabilityCheck:
        """Rules ``smiles`` (a valid repeat unit) breaks, in rule order.

        Raises
        ------
        InvalidSmilesError
            When the unit fails validation.
        """
        broken = list(self.match(polymer_context(smiles), first_only))
        if first_only and broken:
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
