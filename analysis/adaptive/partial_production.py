"""How the conductivity of a partial production relates to the full one: the early-stop study.

The campaign's analysis estimates each ion diffusivity from the endpoint MSD,
``D(t) = <|r(t) - r(0)|^2> / (6 t)``, over the production so far. Where ions
move sub-diffusively (caged by the polymer, then hopping), ``D(t)`` falls with
``t`` towards the long-time D, so a partial production *over*-estimates the
conductivity. This script measures that on trajectories whose truth is set,
through polyhpc's own analysis (``polyhpc.analysis.analyze``):

- ``brownian``: free ions, ``MSD = 6 D t`` at every t: no bias, only noise;
- ``caged``: each ion rattles in a cage (Ornstein-Uhlenbeck, variance ``a^2`` per
  axis, time ``tau``) whose centre hops (long-time ``D``): ``MSD = 6 D t +
  6 a^2 (1 - exp(-t / tau))``, so ``D(t) / D = 1 + a^2 (1 - exp(-t / tau)) / (D t)``:
  the closed form the measured ratios are held against;

and, given ``--lammps DIR...`` (replica folders of real productions), on real
LAMMPS trajectories. It prints, per production length, the mean and the spread
over replicas of sigma(p) / sigma(T) and writes ``partial-production.json``.

    python analysis/adaptive/partial_production.py --out runs/adaptive
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np

FRAME_PS = 2.0  # one frame per 2 ps, as the HTP-MD production dumps
TOTAL_PS = 5000.0
LENGTHS_PS = (250.0, 500.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0)
# a caged ion: cage size and time, and the long-time diffusivity (A^2, ps, A^2/ps)
CAGE_A2, CAGE_TAU_PS, LONG_D = 2.0, 50.0, 1e-3


def _ion_paths(rng, n_ions: int, n_frames: int, model: str) -> np.ndarray:
    """Unwrapped centres (n_frames, n_ions, 3) in A of one species."""
    if model == "brownian":
        steps = rng.normal(0.0, math.sqrt(2 * LONG_D * FRAME_PS), (n_frames - 1, n_ions, 3))
        return np.concatenate([np.zeros((1, n_ions, 3)), np.cumsum(steps, axis=0)])
    # caged: cage centres hop with rate 1/hop_ps by steps of length l (D = l^2 / (6 hop_ps))
    hop_ps = 100.0
    step = math.sqrt(6 * LONG_D * hop_ps)
    hops = rng.random((n_frames - 1, n_ions)) < FRAME_PS / hop_ps
    directions = rng.normal(size=(n_frames - 1, n_ions, 3))
    directions /= np.linalg.norm(directions, axis=2, keepdims=True)
    centres = np.concatenate([np.zeros((1, n_ions, 3)),
                              np.cumsum(hops[..., None] * step * directions, axis=0)])
    keep = math.exp(-FRAME_PS / CAGE_TAU_PS)
    rattle = np.empty((n_frames, n_ions, 3))
    rattle[0] = rng.normal(0.0, math.sqrt(CAGE_A2), (n_ions, 3))
    noise = rng.normal(0.0, math.sqrt(CAGE_A2 * (1 - keep**2)), (n_frames - 1, n_ions, 3))
    for k in range(1, n_frames):
        rattle[k] = keep * rattle[k - 1] + noise[k - 1]
    return centres + rattle


def write_trajectory(folder: Path, model: str, seed: int, n_pairs: int = 20,
                     n_polymer: int = 200) -> Path:
    """A dump of ``n_pairs`` LiTFSI and a static polymer in the HTP-MD layout, and its meta."""
    from polyhpc.analysis.synthetic import _META, _TFSI

    rng = np.random.default_rng(seed)
    n_frames = int(TOTAL_PS / FRAME_PS) + 1
    box = 30.0
    li = _ion_paths(rng, n_pairs, n_frames, model) + rng.uniform(0, box, (1, n_pairs, 3))
    tfsi = _ion_paths(rng, n_pairs, n_frames, model) + rng.uniform(0, box, (1, n_pairs, 3))
    polymer = rng.uniform(0, box, (n_polymer, 3))
    offsets = np.array([t[3] for t in _TFSI])
    types = [8] * n_polymer + [90] * n_pairs + [t[0] for t in _TFSI] * n_pairs
    masses = [15.999] * n_polymer + [6.941] * n_pairs + [t[1] for t in _TFSI] * n_pairs
    charges = [0.0] * n_polymer + [0.7] * n_pairs + [t[2] * 0.7 / 0.46 / 3.3
                                                     for t in _TFSI] * n_pairs
    mols = [1] * n_polymer + list(range(2, 2 + n_pairs)) + \
        [m for m in range(2 + n_pairs, 2 + 2 * n_pairs) for _ in _TFSI]
    n_atoms = len(types)
    folder.mkdir(parents=True, exist_ok=True)
    header = "ITEM: ATOMS id mol type mass q x y z ix iy iz\n"
    with open(folder / "traj.lammpstrj", "w") as out:
        for frame in range(n_frames):
            xyz = np.concatenate([polymer, li[frame],
                                  (tfsi[frame][:, None, :] + offsets[None]).reshape(-1, 3)])
            image = np.floor(xyz / box).astype(int)
            wrapped = xyz - image * box
            out.write(f"ITEM: TIMESTEP\n{frame * 1000}\nITEM: NUMBER OF ATOMS\n{n_atoms}\n"
                      f"ITEM: BOX BOUNDS pp pp pp\n0 {box}\n0 {box}\n0 {box}\n{header}")
            rows = [f"{k + 1} {mols[k]} {types[k]} {masses[k]} {charges[k]:.4f} "
                    f"{wrapped[k, 0]:.4f} {wrapped[k, 1]:.4f} {wrapped[k, 2]:.4f} "
                    f"{image[k, 0]} {image[k, 1]} {image[k, 2]}" for k in range(n_atoms)]
            out.write("\n".join(rows) + "\n")
    (folder / "meta.json").write_text(json.dumps({**_META, "mol_smiles": f"*{model}*"}))
    return folder


def conductivity_by_length(folder: Path, lengths_ps=LENGTHS_PS,
                           frame_ps: float = FRAME_PS) -> dict:
    """The analysis' conductivity and Li diffusivity after each production length."""
    from polyhpc.analysis import analyze

    out = {}
    for p in lengths_ps:
        frames = int(round(p / frame_ps)) + 1
        cut = folder.parent / f"{folder.name}-{int(p)}"
        _truncate(folder, cut, frames)
        result = analyze(cut)
        shutil.rmtree(cut)
        out[p] = {"conductivity": result.conductivity, "li_diffusivity": result.li_diffusivity}
    return out


def _truncate(source: Path, target: Path, frames: int) -> None:
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "meta.json", target / "meta.json")
    with open(source / "traj.lammpstrj") as inp, open(target / "traj.lammpstrj", "w") as out:
        seen = 0
        for line in inp:
            if line.startswith("ITEM: TIMESTEP"):
                seen += 1
                if seen > frames:
                    break
            out.write(line)


def caged_ratio(t_ps: float, total_ps: float = TOTAL_PS) -> float:
    """Closed form D(t) / D(T) of the caged model."""
    def estimate(t):
        return LONG_D + CAGE_A2 * (1 - math.exp(-t / CAGE_TAU_PS)) / t

    return estimate(t_ps) / estimate(total_ps)


def study(folders: list[Path], lengths_ps=LENGTHS_PS, frame_ps: float = FRAME_PS) -> dict:
    """sigma(p) / sigma(T) and D_Li(p) / D_Li(T) per length: mean and std over replicas."""
    ratios = {p: [] for p in lengths_ps}
    li = {p: [] for p in lengths_ps}
    for folder in folders:
        values = conductivity_by_length(folder, lengths_ps, frame_ps)
        final = values[lengths_ps[-1]]
        for p in lengths_ps:
            if final["conductivity"] > 0:
                ratios[p].append(values[p]["conductivity"] / final["conductivity"])
            li[p].append(values[p]["li_diffusivity"] / final["li_diffusivity"])
    return {str(p): {"sigma_ratio_mean": float(np.mean(ratios[p])) if ratios[p] else None,
                     "sigma_ratio_std": float(np.std(ratios[p], ddof=1))
                     if len(ratios[p]) > 1 else None,
                     "li_d_ratio_mean": float(np.mean(li[p])),
                     "li_d_ratio_std": float(np.std(li[p], ddof=1)) if len(li[p]) > 1 else None,
                     "replicas": len(li[p])} for p in lengths_ps}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/adaptive"))
    parser.add_argument("--replicas", type=int, default=6)
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--lammps", type=Path, nargs="*", default=[],
                        help="replica folders of real LAMMPS productions to add")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"frame_ps": FRAME_PS, "total_ps": TOTAL_PS,
              "caged_model": {"cage_a2_A2": CAGE_A2, "cage_tau_ps": CAGE_TAU_PS,
                              "long_time_d_A2_per_ps": LONG_D,
                              "closed_form_d_ratio": {str(p): caged_ratio(p)
                                                      for p in LENGTHS_PS}}}
    for model in () if args.skip_synthetic else ("brownian", "caged"):
        folders = [write_trajectory(args.out / f"{model}-{k}", model, seed=k)
                   for k in range(args.replicas)]
        report[model] = study(folders)
        for folder in folders:
            shutil.rmtree(folder)
    if args.lammps:
        meta = json.loads((args.lammps[0] / "meta.json").read_text())
        frame_ps = float(meta["time_step"])
        with open(args.lammps[0] / "traj.lammpstrj") as dump:
            frames = sum(line.startswith("ITEM: TIMESTEP") for line in dump)
        total = (frames - 1) * frame_ps
        lengths = tuple(round(total * f / frame_ps) * frame_ps
                        for f in (0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0))
        report["lammps"] = study(args.lammps, lengths, frame_ps)
    (args.out / "partial-production.json").write_text(json.dumps(report, indent=2))
    for model in ("brownian", "caged", "lammps"):
        if model not in report:
            continue
        print(f"{model}: production ps -> sigma(p)/sigma(T) mean (std), D_Li(p)/D_Li(T) mean")
        for p, row in report[model].items():
            form = report["caged_model"]["closed_form_d_ratio"].get(p)
            closed = f"  closed form D ratio {form:.3f}" if model == "caged" else ""
            sigma = "n/a" if row["sigma_ratio_mean"] is None else \
                f"{row['sigma_ratio_mean']:.3f} ({row['sigma_ratio_std'] or 0:.3f})"
            print(f"  {float(p):6.0f}: {sigma}   {row['li_d_ratio_mean']:.3f}{closed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
