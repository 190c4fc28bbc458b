"""LAMMPS styles of the rendered protocol inputs, and what the LAMMPS docs say about them.

Every table here is taken from the LAMMPS documentation (doc/src/*.rst of lammps/lammps,
docs.lammps.org/<page>.html); the page is named beside each entry.
"""

from __future__ import annotations

import shlex

from polyhpc.md.lammps import protocol_jobs
from polyhpc.md.protocol import Protocol, load_protocol, render_input
from polyhpc.resources import resolve_yaml

#: commands that name a style, and the style category they name
_STYLE_COMMANDS = {"atom_style": "atom", "pair_style": "pair", "bond_style": "bond",
                   "angle_style": "angle", "dihedral_style": "dihedral",
                   "improper_style": "improper", "kspace_style": "kspace",
                   "run_style": "run", "min_style": "min"}
#: commands whose fourth word is the style: fix ID group style, compute ..., dump ...
_ID_GROUP_STYLE = {"fix", "compute", "dump"}

#: package of each style the inputs use (None: core LAMMPS), from the "Restrictions" section
#: of each style's page.
STYLE_PACKAGE = {
    ("atom", "full"): "MOLECULE",  # atom_style.rst
    ("pair", "lj/class2/coul/long"): "CLASS2",  # pair_class2.rst
    ("bond", "class2"): "CLASS2",  # bond_class2.rst
    ("angle", "class2"): "CLASS2",  # angle_class2.rst
    ("dihedral", "class2"): "CLASS2",  # dihedral_class2.rst
    ("improper", "class2"): "CLASS2",  # improper_class2.rst
    ("kspace", "pppm"): "KSPACE",  # kspace_style.rst
    ("run", "verlet"): None,  # run_style.rst
    ("run", "respa"): None,  # run_style.rst ("respa/omp ... only if the OPENMP package")
    ("min", "cg"): None,  # min_style.rst
    ("fix", "nvt"): None,  # fix_nh.rst
    ("fix", "npt"): None,  # fix_nh.rst
    ("fix", "ave/time"): None,  # fix_ave_time.rst
    ("dump", "custom"): None,  # dump.rst
    ("dump", "dcd"): "EXTRA-DUMP",  # dump.rst: "The xtc, dcd, and yaml styles are part of
                                    # the EXTRA-DUMP package"
}

#: the package behind each accelerator suffix (Run_options.rst, -suffix)
SUFFIX_PACKAGE = {"kk": "KOKKOS", "gpu": "GPU", "omp": "OPENMP"}
#: the suffix polyhpc's runner adds for OpenMP threads (polyhpc/md/runner.py run_lammps:
#: "-sf omp -pk omp N" when threads > 1)
RUNNER_THREADS_SUFFIX = "omp"

#: styles with a KOKKOS (/kk) variant. Bonded: Commands_bond.rst "(k)" marks; kspace:
#: Commands_kspace.rst "pppm (gok)"; fixes: Commands_fix.rst "(k)" marks; pair (the class II
#: family): pair_class2.rst "Accelerator Variants: *lj/class2/kk*, *lj/class2/coul/cut/kk*,
#: *lj/class2/coul/long/kk*"; atom: atom_style.rst "accelerated styles = angle/kk, atomic/kk,
#: bond/kk, charge/kk, full/kk, molecular/kk, spin/kk"; min: min_style.rst "Accelerator
#: Variant: *cg/kk*"; run: src/KOKKOS/verlet_kokkos.cpp (verlet/kk; "KOKKOS package requires
#: run_style verlet/kk", and there is no respa/kk).
KOKKOS_STYLES = {
    "atom": {"angle", "atomic", "bond", "charge", "full", "molecular", "spin"},
    "pair": {"lj/class2", "lj/class2/coul/cut", "lj/class2/coul/long"},
    "bond": {"class2", "fene", "harmonic"},
    "angle": {"charmm", "class2", "cosine", "harmonic"},
    "dihedral": {"charmm", "class2", "harmonic", "opls"},
    "improper": {"class2", "harmonic"},
    "kspace": {"pppm"},
    "fix": {"acks2/reaxff", "deform", "dpd/energy", "dt/reset", "efield", "enforce2d",
            "eos/table/rx", "freeze", "gravity", "langevin", "momentum", "nph", "npt",
            "nve", "nve/sphere", "nvt", "nvt/sllod", "property/atom", "qeq/reaxff",
            "reaxff/bonds", "reaxff/species", "rx", "setforce", "shake", "shardlow",
            "spring/self", "temp/berendsen", "temp/rescale", "viscous", "wall/gran",
            "wall/lj93", "wall/reflect"},
    "run": {"verlet"},
    "min": {"cg"},
}
#: styles without /kk that a KOKKOS run may still use: they run on the host and LAMMPS copies
#: the data they need back from the GPU (Speed_kokkos.rst: "Invoking a non-Kokkos fix or
#: compute, or performing I/O for thermo or dump output will cause data to be copied back to
#: the CPU incurring a performance penalty"). Output and time averaging only.
KOKKOS_HOST_STYLES = {("fix", "ave/time"), ("dump", "custom"), ("dump", "dcd")}

#: styles with a GPU-package (/gpu) variant: pair_class2.rst (lj/class2/gpu,
#: lj/class2/coul/long/gpu), Commands_kspace.rst "pppm (gok)", Commands_fix.rst "nvt (giko)",
#: "npt (giko)", "nve (giko)". Bonded class2 styles are "(ko)" only: they stay on the CPU.
GPU_STYLES = {
    "pair": {"lj/class2", "lj/class2/coul/long"},
    "kspace": {"pppm"},
    "fix": {"nve", "nvt", "npt"},
}


def profile(name: str) -> Protocol:
    """A shipped MD profile, found as a user finds it (``--profile NAME``)."""
    return load_protocol(resolve_yaml(name, "md"))


def rendered_inputs(protocol: Protocol) -> dict[str, str]:
    """Every LAMMPS input a run of this profile renders: 14 stages, production, benchmark."""
    texts = {}
    for name, template, _, context in protocol_jobs(protocol):
        texts[name] = render_input(template, protocol, seed=1000, last_polymer_type=89,
                                   average_box_A=40.0, **context)
    texts["benchmark"] = render_input("benchmark.in.j2", protocol, data_file="system.lmp",
                                      steps=100, seed=1)
    return texts


def styles(text: str) -> set[tuple[str, str]]:
    """``(category, style)`` of every style an input uses, with LAMMPS's defaults.

    run_style defaults to verlet (run_style.rst "Default"); a ``minimize`` uses min_style
    cg unless another is set (min_style.rst "Default").
    """
    found = set()
    minimizes = False
    for line in text.splitlines():
        words = shlex.split(line.split("#", 1)[0])
        if not words:
            continue
        command = words[0]
        if command in _STYLE_COMMANDS:
            found.add((_STYLE_COMMANDS[command], words[1]))
        elif command in _ID_GROUP_STYLE:
            found.add((command, words[3]))
        elif command == "minimize":
            minimizes = True
        elif command == "run" and not any(cat == "run" for cat, _ in found):
            found.add(("run", "verlet"))
    if minimizes and not any(cat == "min" for cat, _ in found):
        found.add(("min", "cg"))
    return found


def accelerator_suffixes(protocol: Protocol) -> set[str]:
    """Suffixes (``-sf X`` / ``-suffix X``) in a profile's lmp arguments."""
    args = list(protocol.lmp_args)
    return {args[i + 1] for i, arg in enumerate(args[:-1]) if arg in {"-sf", "-suffix"}}
