"""Prepare what the GPU measurement carries (``analysis/gpu/measure.sh prepare``), on a CPU.

The GPU machine has no RDKit and no network, so everything that needs them happens here:

1. ``polyhpc md build '*CCO*' --profile paper`` (``--smoke``: ``--profile smoke``), the
   HTP-MD PEO + LiTFSI system (6,275 atoms: 15 chains of DP 51, 50 LiTFSI pairs);
2. a brief relaxation of that system with ``polyhpc md run --profile
   analysis/gpu/md-relax.yaml`` (the 14 HTP-MD stages scaled down; a minimization and a
   few ps, enough for a throughput measurement and not an equilibrated state);
3. the production segment input rendered from polyhpc's own ``production.in.j2`` with the
   ``gpu-package`` profile's settings and a short ``production_ps``, and the input that
   turns the relaxed data file into a restart file with the LAMMPS that will run it
   (restart files are not portable between LAMMPS versions, data files are);
4. for a real measurement: polyhpc's wheel, RDKit's wheel and the HTP-MD training set,
   which the generator benchmark needs on the GPU machine.

What travels lands in the carry folder (``md/``, ``wheels/``, ``data/``, ``manifest.json``
naming what was made and how); the build and relaxation folders stay in ``prep/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from polyhpc.data.registry import resolve
from polyhpc.fileio import sha256_file, write_json_atomic
from polyhpc.md.protocol import load_protocol, render_input
from polyhpc.md.thermo import read_thermo
from polyhpc.resources import resolve_yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SMILES = "*CCO*"
#: The wheel the GPU machine's Python 3.12 installs (the version CI tests).
RDKIT = "rdkit==2026.9.1"


def polyhpc_command(*args: str) -> list[str]:
    """The ``polyhpc`` command line of this environment."""
    return [str(Path(sys.executable).parent / "polyhpc"), *args]


def run_json(command: list[str]) -> dict | list:
    """Run a ``polyhpc ... --json`` command; its JSON output."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: {' '.join(command)} failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


def build_and_relax(carry: Path, smoke: bool, threads: int) -> dict:
    """System built with the paper (or smoke) profile, relaxed in ``carry/prep/relax``.

    A step whose outputs are in ``prep/`` from an earlier call with the same profiles is not
    run again (the relaxation takes tens of minutes on two cores); delete ``prep/`` to redo it.
    """
    prep = carry / "prep"
    build_dir, relax_dir = prep / "build", prep / "relax"
    profile = "smoke" if smoke else "paper"
    relax_profile = HERE / ("md-relax-smoke.yaml" if smoke else "md-relax.yaml")
    build_command = polyhpc_command("md", "build", SMILES, "--profile", profile, "--out",
                                    str(build_dir), "--json")
    relax_command = polyhpc_command("md", "run", str(relax_dir), "--profile", str(relax_profile),
                                    "--threads", str(threads), "--json")
    done_file = prep / "done.json"
    done = json.loads(done_file.read_text()) if done_file.is_file() else {}
    if done.get("build_command") != build_command or not (build_dir / "system.lmp").is_file():
        shutil.rmtree(prep, ignore_errors=True)
        prep.mkdir(parents=True)
        start = time.perf_counter()
        done = {"build_command": build_command, "summary": run_json(build_command),
                "build_s": round(time.perf_counter() - start, 1)}
        write_json_atomic(done_file, done)
    if done.get("relax_command") != relax_command or not (relax_dir / "relaxed.lmp").is_file():
        shutil.rmtree(relax_dir, ignore_errors=True)
        relax_dir.mkdir(parents=True)
        shutil.copy2(build_dir / "system.lmp", relax_dir / "system.lmp")
        start = time.perf_counter()
        records = run_json(relax_command)["rows"]  # md run --json: {rows, units}
        done |= {"relax_command": relax_command, "records": records,
                 "relax_s": round(time.perf_counter() - start, 1)}
        write_json_atomic(done_file, done)
    summary = done["summary"]
    relax = load_protocol(relax_profile)
    thermo = {t.name: t for t in read_thermo(relax_dir, relax)}
    density = float(thermo["eq14"].column("v_sysdensity")[-1])
    return {
        "build_command": " ".join(build_command[1:]).replace(str(carry), "CARRY"),
        "build_s": done["build_s"],
        "system": {k: summary[k] for k in (
            "atoms", "chains", "atoms_per_chain", "degree_of_polymerization", "ion_pairs",
            "molality_mol_per_kg", "box_A", "initial_density_g_cm3")} | {
            "counts": summary["counts"]},
        "relax_command": " ".join(relax_command[1:]).replace(str(carry), "CARRY"),
        "relax_s": done["relax_s"],
        "relax_threads": threads,
        "relax_profile": relax.name,
        "relax_deviations": list(relax.deviations),
        "relax_eqfactor": relax.eqfactor,
        "relax_stages": [{"name": r["name"], "status": r["status"], "wall_s": round(r["wall_s"], 1)}
                         for r in done["records"]],
        "relaxed_density_g_cm3": round(density, 4),
        "note": "briefly relaxed (minimizations and under a ps of MD through the 14 HTP-MD "
                "stages): enough for a throughput measurement, not an equilibrated state; the "
                "density stays near the built one, and production at the equilibrated density "
                "(~1.1 g/cm3 for PEO/LiTFSI) has ~4x the pair neighbours and a smaller box",
    }


def render_inputs(carry: Path, segment_ps: float, timeout_s: int) -> dict:
    """``md/production.in`` (gpu-package settings, a short segment) and ``md/convert.in``."""
    md = carry / "md"
    md.mkdir(parents=True, exist_ok=True)
    gpu = load_protocol(resolve_yaml("gpu-package", "md"))
    segment = dataclasses.replace(
        gpu, name=f"{gpu.name}-segment", production_ps=segment_ps,
        deviations=(*gpu.deviations, f"throughput measurement: a production segment of "
                    f"{segment_ps:g} ps stopped after at most {timeout_s} s (timer timeout)"))
    text = render_input("production.in.j2", segment, seed=1000, last_polymer_type=89,
                        restart_file="relaxed.restart", timeout_s=timeout_s)
    (md / "production.in").write_text(text)
    # the settings of every polyhpc input, then the relaxed data file to a restart file of
    # the LAMMPS that reads it (no accelerator flags: this runs on the CPU)
    convert = (render_input("settings.in.j2", segment)
               + "read_data       relaxed.lmp\nwrite_restart   relaxed.restart\n")
    (md / "convert.in").write_text(convert)
    shutil.copy2(carry / "prep" / "relax" / "relaxed.lmp", md / "relaxed.lmp")
    steps = round(segment_ps * 1000 / segment.timestep_fs)
    return {"profile": segment.name, "from_profile": gpu.name, "production_ps": segment_ps,
            "steps": steps, "timeout_s": timeout_s, "timestep_fs": segment.timestep_fs,
            "respa": segment.respa, "lmp_args": list(gpu.lmp_args),
            "deviations": list(segment.deviations)}


def carry_python(carry: Path) -> dict:
    """polyhpc's and RDKit's wheels and the training set, for the generator benchmark there."""
    wheels = carry / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir(parents=True)
    pip = [sys.executable, "-m", "pip", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                    str(ROOT)], check=True)
    subprocess.run([*pip, "download", "--no-deps", "--only-binary=:all:", "--python-version",
                    "3.12", "--implementation", "cp", "--platform", "manylinux_2_28_x86_64",
                    "--platform", "manylinux_2_17_x86_64", "-d", str(wheels), RDKIT], check=True)
    data = carry / "data" / "htpmd"
    data.mkdir(parents=True, exist_ok=True)
    train = resolve("htpmd-train")
    shutil.copy2(train, data / train.name)
    return {"wheels": sorted(p.name for p in wheels.glob("*.whl")),
            "data": f"data/htpmd/{train.name}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("carry", type=Path, help="carry folder (e.g. .gpu-carry)")
    parser.add_argument("--smoke", action="store_true",
                        help="smoke-size system, no wheels (the CPU dry run)")
    parser.add_argument("--segment-ps", type=float, default=4.0,
                        help="production segment of each measured run (ps)")
    parser.add_argument("--segment-timeout-s", type=int, default=25,
                        help="LAMMPS timer timeout of each segment (s)")
    parser.add_argument("--threads", type=int, default=2, help="OpenMP threads of the relaxation")
    args = parser.parse_args()
    if args.segment_ps <= 0 or args.segment_timeout_s < 1 or args.threads < 1:
        sys.exit("error: --segment-ps, --segment-timeout-s and --threads must be positive")
    carry = args.carry.resolve()
    carry.mkdir(parents=True, exist_ok=True)
    manifest = {"smiles": SMILES, "smoke": args.smoke,
                "state": build_and_relax(carry, args.smoke, args.threads),
                "segment": render_inputs(carry, args.segment_ps, args.segment_timeout_s)}
    if not args.smoke:
        manifest["python"] = carry_python(carry)
    manifest["files"] = {str(p.relative_to(carry)): sha256_file(p)
                         for p in sorted((carry / "md").iterdir())}
    write_json_atomic(carry / "manifest.json", manifest)
    print(f"prepared {carry}: {manifest['state']['system']['atoms']} atoms, relaxed to "
          f"{manifest['state']['relaxed_density_g_cm3']} g/cm3")


if __name__ == "__main__":
    main()
