"""``polyhpc bench md``: build time and LAMMPS speed, through polyhpc and by hand.

Builds a system (HTP-MD size PEO by default) and times it, then runs the
same LAMMPS input twice: once through :func:`polyhpc.md.runner.run_lammps`
and once as a bare ``lmp -in`` call with the same environment, the control
that shows whether polyhpc adds overhead. ns/day comes from the LAMMPS
``Performance`` line of the MD run (after a short minimization).
"""

from __future__ import annotations

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
    text = render_input("benchmark.in.j2", protocol, data_file=str(Path(data_file).resolve()),
                        steps=steps, seed=seed)
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
