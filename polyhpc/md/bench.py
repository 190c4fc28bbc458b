"""``polyhpc bench md``: build time and LAMMPS speed, through polyhpc and by hand.

Builds a system (HTP-MD size PEO by default) and times it, then runs the
same LAMMPS input twice: once through :func:`polyhpc.md.runner.run_lammps`
and once as a bare ``lmp -in`` call with the same environment, the control
that shows whether polyhpc adds overhead. ns/day comes from the LAMMPS
``Performance`` line of the MD run (after a short minimization).

:func:`compare_force_fields` (``polyhpc bench md --compare-ff``) equilibrates
the same PEO system with the public PCFF and with the PCFF+ values of the
HTP-MD data and reports the densities (and conductivities, given a production).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

from polyhpc.md.build import build_system, write_system
from polyhpc.md.protocol import Protocol, render_input
from polyhpc.md.runner import _ns_per_day, find_lmp, lammps_environment, run_lammps


def run_md_benchmark(workdir: Path, protocol: Protocol, smiles: str = "*CCO*",
                     data_file: Path | None = None, steps: int = 500, threads: int = 2,
                     seed: int = 1) -> dict:
    """Build (unless ``data_file`` is given) and time the same MD input two ways."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    report: dict = {"smiles": smiles, "steps": steps, "threads": threads,
                    "protocol": protocol.name, "respa": protocol.respa}
    if data_file is None:
        start = time.perf_counter()
        built = build_system(smiles, protocol.build, seed)
        counts = write_system(workdir, built)
        report["build_s"] = time.perf_counter() - start
        report["system"] = {k: built.summary[k] for k in (
            "atoms", "chains", "atoms_per_chain", "degree_of_polymerization", "ion_pairs",
            "molality_mol_per_kg", "box_A", "initial_density_g_cm3")}
        report["system"]["counts"] = counts
        data_file = workdir / "system.lmp"
    report["data_file"] = str(data_file)
    text = render_input("benchmark.in.j2", protocol,
                        data_file=_local_name(Path(data_file), workdir), steps=steps, seed=seed)
    (workdir / "bench.in").write_text(text)
    record = run_lammps("bench-polyhpc", workdir / "bench.in", workdir, threads=threads)
    report["polyhpc"] = {"ok": record.ok, "error": record.error, "wall_s": record.wall_s,
                         "ns_per_day": record.ns_per_day}
    command = [str(find_lmp()), "-in", "bench.in", "-log", "bench-hand.log"]
    if threads > 1:
        command += ["-sf", "omp", "-pk", "omp", str(threads)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=workdir, env=lammps_environment(threads),
                          capture_output=True, text=True)
    report["by_hand"] = {"ok": done.returncode == 0, "command": " ".join(command),
                         "wall_s": time.perf_counter() - start,
                         "ns_per_day": _ns_per_day(workdir / "bench-hand.log")}
    return report


def _local_name(data_file: Path, workdir: Path) -> str:
    """The name LAMMPS reads the data file by, in ``workdir`` (copied there unless it is).

    The input holds a plain file name only: a path with a space, ``#`` or ``$``
    would be split, cut or substituted when LAMMPS parses the line.
    """
    if data_file.resolve().parent == workdir.resolve() and re.fullmatch(r"[A-Za-z0-9_.+-]+",
                                                                         data_file.name):
        return data_file.name
    shutil.copyfile(data_file, workdir / "bench-data.lmp")
    return "bench-data.lmp"


def format_report(report: dict) -> str:
    """Plain-text table of a benchmark report."""
    lines = []
    if "system" in report:
        s = report["system"]
        lines.append(f"system: {s['atoms']} atoms = {s['chains']} chains x {s['atoms_per_chain']} "
                     f"(DP {s['degree_of_polymerization']}) + {s['ion_pairs']} LiTFSI pairs "
                     f"({s['molality_mol_per_kg']:.3f} mol/kg), box {s['box_A']:.2f} A")
        lines.append(f"build: {report['build_s']:.2f} s")
    for name in ("polyhpc", "by_hand"):
        r = report[name]
        lines.append(f"{name:<8} {report['steps']} steps: {r['ns_per_day'] or float('nan'):.3f} "
                     f"ns/day, wall {r['wall_s']:.1f} s" + ("" if r["ok"] else "  FAILED"))
    return "\n".join(lines)


def compare_force_fields(workdir: Path, protocol: Protocol, eqfactor: float = 0.005,
                         production_ps: float = 0.0, frc_b: Path | None = None,
                         smiles: str = "*CCO*", threads: int = 2, seed: int = 1,
                         on_record=None) -> dict:
    """The same system equilibrated with the public PCFF and with PCFF+ values.

    Builds ``smiles`` (PEO) at the profile's size twice from the same seed (same
    coordinates, other parameters): with the wheel's public ``pcff.frc`` and with
    ``frc_b`` (default: the HTP-MD PCFF+ PEO values, :func:`write_htpmd_peo_frc`),
    and runs the profile's equilibration scaled to ``eqfactor`` (a stated
    shortening, listed in the run's deviations) and ``production_ps`` of
    production. Reports the density at the stage-13 average box (what stage 14
    runs at) and, with a production, the analysis' conductivity.
    """
    import dataclasses

    from polyhpc.md.frc import default_frc_path
    from polyhpc.md.frc_variant import write_htpmd_peo_frc
    from polyhpc.md.lammps import evaluate
    from polyhpc.md.thermo import read_thermo

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if frc_b is None:
        frc_b = write_htpmd_peo_frc(workdir / "htpmd-peo-pcffplus.frc")
    shortened = dataclasses.replace(
        protocol, name=f"{protocol.name}-eqfactor-{eqfactor:g}", eqfactor=eqfactor,
        production_ps=production_ps, restart_every_steps=protocol.dump_every_steps,
        deviations=(*protocol.deviations,
                    f"equilibration shortened to eqfactor {eqfactor:g} "
                    f"({6050 * eqfactor:g} ps), production {production_ps:g} ps "
                    "(polyhpc bench md --compare-ff)"))
    report: dict = {"smiles": smiles, "protocol": shortened.name, "eqfactor": eqfactor,
                    "production_ps": production_ps, "threads": threads, "runs": {}}
    for label, frc in (("pcff", default_frc_path()), ("pcff+", Path(frc_b))):
        folder = workdir / label.replace("+", "plus")
        start = time.perf_counter()
        outcome = evaluate(smiles, folder, shortened, seed=seed, frc=frc, threads=threads,
                           on_record=on_record)
        run = {"frc": str(frc), "ok": outcome["ok"], "error": outcome["error"],
               "wall_s": time.perf_counter() - start}
        if outcome["ok"]:
            thermo = {t.name: t for t in read_thermo(folder, shortened)}
            run["density_g_cm3"] = float(thermo["eq14"].column("v_sysdensity")[-1])
            run["box_A"] = float((folder / "box_average.txt").read_text().split()[0])
            run["system"] = {k: json.loads((folder / "meta.json").read_text())["build"][k]
                             for k in ("atoms", "chains", "degree_of_polymerization",
                                       "ion_pairs", "molality_mol_per_kg")}
            if production_ps > 0:
                from polyhpc.analysis.pipeline import analyze_path

                result = analyze_path(folder)
                run["conductivity_S_per_cm"] = float(result.conductivity)
        report["runs"][label] = run
    return report


def format_compare(report: dict) -> str:
    """Plain-text table of a force-field comparison."""
    lines = [f"{report['smiles']}, profile {report['protocol']} (eqfactor "
             f"{report['eqfactor']:g}), {report['threads']} threads"]
    for label, r in report["runs"].items():
        if not r["ok"]:
            lines.append(f"{label:<6} FAILED: {r['error']}")
            continue
        s = r["system"]
        cond = r.get("conductivity_S_per_cm")
        lines.append(f"{label:<6} density {r['density_g_cm3']:.4f} g/cm3 (box {r['box_A']:.3f} "
                     f"A), {s['atoms']} atoms = {s['chains']} x DP {s['degree_of_polymerization']}"
                     f" + {s['ion_pairs']} pairs, wall {r['wall_s']:.0f} s"
                     + (f", conductivity {cond:.3g} S/cm" if cond is not None else ""))
    return "\n".join(lines)
