"""The GPU MD profiles render inputs that the GPU image's LAMMPS builds can run.

Checked on the rendered text of every input a run renders (tests/md/test_protocol.py
renders the same way), against the LAMMPS documentation's lists of /kk and /gpu styles
(tests/containers/styles.py names the doc page of each).
"""

import pytest

from polyhpc.resources import shipped
from tests.containers.styles import (
    GPU_STYLES,
    KOKKOS_HOST_STYLES,
    KOKKOS_STYLES,
    accelerator_suffixes,
    profile,
    rendered_inputs,
    styles,
)


def test_gpu_profile_inputs_use_only_styles_the_kokkos_build_provides():
    gpu = profile("gpu")
    texts = rendered_inputs(gpu)
    assert len(texts) == 16  # 14 stages, production, benchmark
    for name, text in texts.items():
        commands = [line.split()[0] for line in text.splitlines() if line.strip()]
        assert "run_style" not in commands, f"{name}: KOKKOS has no rRESPA (no respa/kk)"
        for category, style in sorted(styles(text)):
            if (category, style) in KOKKOS_HOST_STYLES:
                continue
            assert style in KOKKOS_STYLES.get(category, set()), \
                f"{name}: {category} style {style} has no /kk variant in the LAMMPS docs"
    production = texts["production"]
    assert "pair_style      lj/class2/coul/long 9.5" in production
    assert "kspace_style    pppm 0.0001" in production  # becomes pppm/kk under -sf kk
    assert "timestep        1.0" in production


def test_gpu_profile_passes_kokkos_flags_with_the_sites_gpu_count():
    args = list(profile("gpu").lmp_args)
    assert args[:4] == ["-k", "on", "g", "{gpus}"]
    assert args[4:6] == ["-sf", "kk"]
    assert args[6:] == ["-pk", "kokkos", "neigh", "half", "newton", "on"]
    assert profile("gpu").deviations[0].startswith("Verlet at 1 fs instead of rRESPA")


def test_gpu_package_profile_keeps_respa_with_pair_forces_on_the_gpu():
    gp = profile("gpu-package")
    assert list(gp.lmp_args) == ["-sf", "gpu", "-pk", "gpu", "{gpus}"]
    assert gp.respa and gp.timestep_fs == 2.0
    for name, text in rendered_inputs(gp).items():
        assert "run_style       respa 2 4" in text, name
        used = styles(text)
        assert ("pair", "lj/class2/coul/long") in used
        for category, style in used:
            if category in {"pair", "kspace"}:
                assert style in GPU_STYLES[category], f"{name}: {style} has no /gpu variant"
            if category in {"bond", "angle", "dihedral", "improper"}:
                # no /gpu variant: these run on the CPU, as the profile's deviation says
                assert style not in GPU_STYLES.get(category, set())
    assert any("class II bonded terms and the FFTs on the CPU" in d for d in gp.deviations)


@pytest.mark.parametrize("name", sorted(shipped("md")))
def test_every_shipped_profile_fits_the_accelerator_it_asks_for(name):
    protocol = profile(name)
    suffixes = accelerator_suffixes(protocol)
    assert suffixes <= {"kk", "gpu"}, suffixes
    if "kk" in suffixes:
        assert not protocol.respa, f"{name}: -sf kk with run_style respa aborts in LAMMPS"
    if suffixes:
        assert "{gpus}" in protocol.lmp_args, f"{name}: the GPU count must come from the site"
        assert protocol.deviations, f"{name}: a GPU profile states how it departs from the paper"
