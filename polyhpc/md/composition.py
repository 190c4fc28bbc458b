"""What an HTP-MD system is made of: chain length, number of chains, ion pairs.

The rules are those of the HTP-MD training set (Xie et al., Nat. Commun. 13,
3415 (2022)), checked against every parsable row of ``htpmd-properties.csv``:

- degree of polymerization ``DP = backbone_atoms_above // per_unit + 1``, the
  backbone strictly longer than 150 heavy atoms (PEO: DP 51, 153 backbone atoms);
- a fixed number of Li+/TFSI- pairs (50);
- the fewest whole chains that keep ``pairs / polymer mass`` at or below the
  molality bound: ``chains = ceil(pairs / (bound x chain mass))``.

Everything here is arithmetic on the unit's graph, no 3D work, so the plan of
thousands of units takes seconds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from polyhpc.chem.polymerize import Chain, degree_of_polymerization, polymerize
from polyhpc.errors import PolyhpcError
from polyhpc.md.settings import BuildSettings

__all__ = ["Composition", "degree_of_polymerization", "fewest_chains", "plan_composition"]


@dataclass(frozen=True)
class Composition:
    """Chains and salt of one system.

    Attributes
    ----------
    degree_of_polymerization : int
        Repeat units per chain.
    backbone_atoms_per_unit, backbone_atoms : int
        Heavy atoms on the end-to-end path of one unit and of the chain (caps excluded).
    chain_mass_g_per_mol : float
        Molar mass of one methyl-capped chain.
    chains, ion_pairs : int
        Number of chains and of Li+/TFSI- pairs.
    """

    unit_smiles: str
    degree_of_polymerization: int
    backbone_atoms_per_unit: int
    backbone_atoms: int
    chain_mass_g_per_mol: float
    chains: int
    ion_pairs: int

    @property
    def polymer_mass_g_per_mol(self) -> float:
        """Mass of all chains."""
        return self.chains * self.chain_mass_g_per_mol

    @property
    def molality_mol_per_kg(self) -> float:
        """Li+ per kg of polymer."""
        return self.ion_pairs / (self.polymer_mass_g_per_mol / 1000.0)

    def to_dict(self) -> dict:
        """Plain-data form, molality included."""
        return {**asdict(self), "molality_mol_per_kg": self.molality_mol_per_kg}


#: The largest chain polyhpc builds (heavy atoms, caps included): twice HTP-MD's largest
#: (498 in htpmd-properties.csv). A comb with a 2-atom backbone and 14-atom side groups gets
#: DP 76, 1,216 heavy atoms a chain: its build ran for many minutes without a word.
MAX_CHAIN_HEAVY_ATOMS = 1000


class BuildLimitError(PolyhpcError):
    """A unit's HTP-MD chain is larger than polyhpc builds."""


def fewest_chains(pairs: int, chain_mass_g_per_mol: float, max_molality_mol_per_kg: float) -> int:
    """Fewest whole chains with ``pairs / (chains x mass)`` at or below the bound."""
    def molality(n: int) -> float:
        return pairs / (n * chain_mass_g_per_mol / 1000.0)

    n = max(1, math.ceil(pairs * 1000.0 / (max_molality_mol_per_kg * chain_mass_g_per_mol)))
    while molality(n) > max_molality_mol_per_kg:  # guard the ceil against rounding
        n += 1
    while n > 1 and molality(n - 1) <= max_molality_mol_per_kg:
        n -= 1
    return n


def plan_composition(smiles: str, settings: BuildSettings | None = None,
                     chain: Chain | None = None) -> Composition:
    """Chain length, chains and ion pairs of a unit's system under ``settings``.

    Raises
    ------
    InvalidSmilesError
        The unit is not a valid repeat unit.
    """
    settings = settings or BuildSettings()
    chain = chain or polymerize(smiles, settings.backbone_atoms_above)
    heavy = chain.mol.GetNumHeavyAtoms()
    if heavy > MAX_CHAIN_HEAVY_ATOMS:
        raise BuildLimitError(
            f"{smiles}: a chain of {chain.degree_of_polymerization} units holds {heavy} heavy "
            f"atoms; polyhpc builds chains of at most {MAX_CHAIN_HEAVY_ATOMS} (twice the "
            "largest HTP-MD chain, 498): a unit with long side groups on a short backbone "
            "needs a lower backbone_atoms_above (a deviation from the protocol)")
    per_unit = chain.backbone_atoms // chain.degree_of_polymerization
    chains = settings.chains or fewest_chains(settings.ion_pairs, chain.molar_mass_g_per_mol,
                                              settings.max_molality_mol_per_kg)
    return Composition(chain.unit_smiles, chain.degree_of_polymerization, per_unit,
                       chain.backbone_atoms, chain.molar_mass_g_per_mol, chains,
                       settings.ion_pairs)
