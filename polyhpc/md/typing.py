"""PCFF atom typing of polymer chains by graph rules.

Types follow the PCFF/CFF91 type definitions of ``pcff.frc`` for the
chemistries of the HTP-MD set (ethers and acetals, esters, carbonates,
amides, amines, urethanes and ureas, thioethers, fluoroalkyls, alcohols,
alkenes, alkynes, aromatics). Rules look at element, hydrogens, bond orders,
ring size and the types' defining neighbours; an atom no rule covers raises
an error that names the atom and its environment.
"""

from __future__ import annotations

from rdkit import Chem

from polyhpc.errors import PolyhpcError


class TypingError(PolyhpcError):
    """An atom that no typing rule covers."""


def _bonds(atom: Chem.Atom) -> list[tuple[Chem.Atom, float]]:
    return [(b.GetOtherAtom(atom), b.GetBondTypeAsDouble()) for b in atom.GetBonds()]


def _double_partner(atom: Chem.Atom) -> Chem.Atom | None:
    for other, order in _bonds(atom):
        if order == 2.0:
            return other
    return None


def _is_carbonyl_carbon(atom: Chem.Atom) -> bool:
    partner = _double_partner(atom)
    return atom.GetSymbol() == "C" and partner is not None and partner.GetSymbol() == "O"


def _carbonyl_kind(carbon: Chem.Atom) -> str:
    """c_0 ketone/aldehyde, c_1 acid/ester/amide, c_2 carbamate/urea, cz carbonate."""
    singles = [o.GetSymbol() for o, order in _bonds(carbon) if order == 1.0]
    n_o, n_n = singles.count("O"), singles.count("N")
    if n_o >= 2:
        return "cz"
    if (n_o and n_n) or n_n >= 2:
        return "c_2"
    if n_o or n_n:
        return "c_1"
    return "c_0"


def _ring_size(atom: Chem.Atom) -> int:
    info = atom.GetOwningMol().GetRingInfo()
    sizes = [len(ring) for ring in info.AtomRings() if atom.GetIdx() in ring]
    return min(sizes) if sizes else 0


def _small_ring(atom: Chem.Atom, three: str, four: str) -> str | None:
    """The 3- or 4-membered-ring variant of a type, if the atom is in such a ring."""
    return {3: three, 4: four}.get(_ring_size(atom))


def _carbon(atom: Chem.Atom) -> str:
    if atom.GetIsAromatic():
        ring = _ring_size(atom)
        if ring == 5:
            return "cs" if any(n.GetSymbol() == "S" for n in atom.GetNeighbors()) else "c5"
        return "cp"
    orders = [order for _, order in _bonds(atom)]
    if 3.0 in orders:
        return "ct"
    partner = _double_partner(atom)
    if partner is not None:
        if partner.GetSymbol() == "O":
            return _carbonyl_kind(atom)
        if partner.GetSymbol() == "S":
            return "c_1"
        if partner.GetSymbol() == "C":
            if atom.GetTotalNumHs(True) == 2:
                return "c="
            if partner.GetTotalNumHs(True) == 2:
                return "c=1"
            return "c=2"
        return "c=2"
    hydrogens = atom.GetTotalNumHs(True)
    strained = _small_ring(atom, "c3h" if hydrogens else "c3m", "c4h" if hydrogens else "c4m")
    if strained:
        return strained
    oxygens = sum(n.GetSymbol() == "O" for n, order in _bonds(atom) if order == 1.0)
    if oxygens >= 2:
        return "coh" if hydrogens else "co"
    return {3: "c3", 2: "c2", 1: "c1"}.get(hydrogens, "c")


def _oxygen(atom: Chem.Atom) -> str:
    neighbours = _bonds(atom)
    if atom.GetIsAromatic():
        return "op"
    if len(neighbours) == 1 and neighbours[0][1] == 2.0:
        other = neighbours[0][0]
        if other.GetSymbol() == "C":
            return "oo" if _carbonyl_kind(other) == "cz" else "o_1"
        return "o="
    if atom.GetTotalNumHs(True) >= 1:
        return "oh"
    strained = _small_ring(atom, "o3e", "o4e")
    if strained:
        return strained
    carbons = [n for n, _ in neighbours if n.GetSymbol() == "C"]
    carbonyls = [c for c in carbons if _is_carbonyl_carbon(c)]
    if carbonyls:
        return "oz" if any(_carbonyl_kind(c) == "cz" for c in carbonyls) else "o_2"
    if len(carbons) == 2:
        return "oc"
    return "o"


def _nitrogen(atom: Chem.Atom) -> str:
    neighbours = _bonds(atom)
    orders = [order for _, order in neighbours]
    if 3.0 in orders:
        return "nt"
    if atom.GetIsAromatic():
        bare = atom.GetTotalNumHs(True) == 0 and atom.GetDegree() == 2
        return "np" if bare else "nh"
    if 2.0 in orders:
        return "n=2"
    carbonyls = [n for n, _ in neighbours if _is_carbonyl_carbon(n)]
    if any(_double_partner(n) is not None and _double_partner(n).GetSymbol() == "S"
           for n, _ in neighbours if n.GetSymbol() == "C"):
        return "n"  # thioamide/thiourea N, typed like the amide N
    if carbonyls:
        return "n_2" if any(_carbonyl_kind(c) == "c_2" for c in carbonyls) else "n"
    if any(n.GetIsAromatic() for n, _ in neighbours):
        return "nb"
    return _small_ring(atom, "n3m", "n4m") or "na"


def _sulfur(atom: Chem.Atom) -> str:
    neighbours = _bonds(atom)
    if atom.GetIsAromatic():
        return "sp"
    if len(neighbours) == 1 and neighbours[0][1] == 2.0:
        return "s'"
    if any(n.GetSymbol() == "O" and order == 2.0 for n, order in neighbours):
        return "sf"  # sulfone/sulfoxide S(=O): PCFF's sulfonate S (bond type s', with o=)
    if atom.GetTotalNumHs(True) >= 1:
        return "sh"
    if any(n.GetSymbol() == "S" for n, _ in neighbours):
        return "s1"
    strained = _small_ring(atom, "s3e", "s4e")
    if strained:
        return strained
    if len(neighbours) == 2 and all(n.GetSymbol() == "C" for n, _ in neighbours):
        return "sc"
    return "s"


def _hydrogen(atom: Chem.Atom) -> str:
    heavy = atom.GetNeighbors()[0]
    if heavy.GetSymbol() == "N" and _nitrogen(heavy) == "n_2":
        return "hn2"  # urethane/urea N-H: PCFF's v2.1 amino hydrogen, paired with n_2
    return {"C": "h", "N": "hn", "O": "ho", "S": "hs", "P": "hp"}.get(heavy.GetSymbol(), "h")


_RULES = {"C": _carbon, "O": _oxygen, "N": _nitrogen, "S": _sulfur, "H": _hydrogen,
          "F": lambda atom: "f", "P": lambda atom: "p"}


def describe_atom(atom: Chem.Atom) -> str:
    """Element, index and neighbours, for error messages."""
    neighbours = ", ".join(f"{o.GetSymbol()}{'=' if order == 2 else '#' if order == 3 else '-'}"
                           for o, order in _bonds(atom))
    return (f"{atom.GetSymbol()} atom {atom.GetIdx()} (H {atom.GetTotalNumHs(True)}, "
            f"aromatic {atom.GetIsAromatic()}, bonds: {neighbours})")


def assign_types(mol: Chem.Mol) -> list[str]:
    """PCFF type of every atom of a molecule with explicit hydrogens.

    Raises
    ------
    TypingError
        For an element or charge outside the rules, naming the atom.
    """
    types = []
    for atom in mol.GetAtoms():
        rule = _RULES.get(atom.GetSymbol())
        if rule is None or atom.GetFormalCharge() != 0:
            raise TypingError(f"no PCFF typing rule for {describe_atom(atom)}")
        types.append(rule(atom))
    return types


#: Environment subtypes beyond PCFF's own: an sp3 CH2/CH3 bonded to oxygen. PCFF+
#: (the force field of the HTP-MD data) gives these carbons their own nonbond
#: parameters (its PEO data file: four sp3 carbon types). They are used only when a
#: force field defines them, with equivalences to c2/c3 for the bonded terms
#: (:mod:`polyhpc.md.frc_variant` writes such a file); with the public pcff.frc
#: the types are exactly those of :func:`assign_types`.
SUBTYPES = {"c2": "c2o", "c3": "c3o"}


def refine_types(mol: Chem.Mol, types: list[str], defined: set[str]) -> list[str]:
    """Replace c2/c3 by their oxygen-bonded subtypes where the force field ``defined`` them."""
    refined = list(types)
    for atom in mol.GetAtoms():
        subtype = SUBTYPES.get(types[atom.GetIdx()])
        if subtype in defined and any(n.GetSymbol() == "O" for n in atom.GetNeighbors()):
            refined[atom.GetIdx()] = subtype
    return refined
