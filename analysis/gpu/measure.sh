#!/usr/bin/env bash
# The GPU rates measurement of issue 23 in one run (analysis/gpu/README.md says when to run what).
#
#   measure.sh prepare [CARRY]      on the CPU machine (polyhpc's venv, RDKit, network):
#                                   the trimmed LAMMPS source (containers/make-lammps-gpu-source.sh,
#                                   unless CARRY holds it), the relaxed HTP-MD PEO state, the
#                                   rendered inputs, polyhpc's and RDKit's wheels, the training set
#   measure.sh run [CARRY]          on the GPU machine (CUDA, CMake, 16 cores, python3 with torch,
#                                   no network): builds lmp from the carried source, then the
#                                   runs of analysis/gpu/rates.py; everything goes to $OUT
#   measure.sh --dry-run [OUTDIR]   on the CPU machine, end to end on a smoke-size system with the
#                                   venv's CPU lmp (no GPU flags, no build, no MPS): the same
#                                   report.json shape, in OUTDIR (default: a temporary folder)
#
# CARRY defaults to .gpu-carry (git-ignored). MEASURE_BUDGET_S (default 540) bounds `run`:
# the build first, then rates.py gets what is left less 30 s for the report.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
# the reference data beside the checkout, as the tests read it (the training set, for prepare
# and the dry run's generator benchmark)
if [ -z "${POLYHPC_DATA:-}" ] && [ -d "$root/../shared/data" ]; then
    POLYHPC_DATA=$(cd "$root/../shared/data" && pwd)
    export POLYHPC_DATA
fi

die() {
    echo "measure.sh: $*" >&2
    exit 2
}

seconds() {
    date +%s
}

prepare() {
    local carry=${1:-$root/.gpu-carry}
    [ -x "$python" ] || die "$python not found: make setup (or set PYTHON)"
    mkdir -p "$carry"
    if [ ! -f "$carry/lammps-gpu-src.tar.xz" ]; then
        bash "$root/containers/make-lammps-gpu-source.sh" "$carry/lammps-gpu-src.tar.xz"
    fi
    "$python" "$here/prepare.py" "$carry"
    du -sh "$carry/lammps-gpu-src.tar.xz" "$carry/md" "$carry/wheels" "$carry/data"
}

gpu_arch() {
    local cap
    cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1)
    case "$cap" in
        9.*) echo sm_90 ;;
        8.*) echo sm_80 ;;
        *) die "GPU compute capability '$cap' is neither 9.x (sm_90) nor 8.x (sm_80)" ;;
    esac
}

run() {
    local carry=${1:-$root/.gpu-carry} start budget build_dir arch left site
    start=$(seconds)
    budget=${MEASURE_BUDGET_S:-540}
    [ -n "${OUT:-}" ] || die "OUT is not set: the folder that gets report.json and the logs"
    [ -f "$carry/manifest.json" ] || die "$carry/manifest.json is missing: run 'measure.sh prepare' on the CPU machine"
    command -v nvidia-smi >/dev/null || die "nvidia-smi not found: run this on the GPU machine (or use --dry-run)"
    mkdir -p "$OUT"
    nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1 || true
    # polyhpc and RDKit from the carried wheels (the machine's python3 has torch, numpy, pandas)
    site=$(mktemp -d)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" \
        "$carry"/wheels/*.whl
    export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}
    export POLYHPC_DATA=$carry/data
    build_dir=$(mktemp -d)/lammps-gpu
    arch=$(gpu_arch)
    local build_args=(--build-error "the GPU lmp build failed: see build.log")
    # the build may take the budget less 150 s: the generator benchmark still fits after it
    if timeout "$((budget - 150))" bash "$root/containers/build-lammps-gpu-package.sh" "$arch" \
        "$carry/lammps-gpu-src.tar.xz" "$build_dir" "$(nproc)" 2>&1 | tee "$OUT/build.log"; then
        build_args=(--build-json "$build_dir/build.json")
        export PATH=$build_dir/bin:$PATH
    fi
    cp "$build_dir/configure.log" "$OUT/configure.log" 2>/dev/null || true
    tail -n 200 "$build_dir/build.log" >"$OUT/compile-tail.log" 2>/dev/null || true
    left=$((budget - ($(seconds) - start) - 30))
    [ "$left" -ge 60 ] || left=60
    python3 "$here/rates.py" --carry "$carry" --out "$OUT" --mode gpu --budget-s "$left" \
        "${build_args[@]}" --command "analysis/gpu/measure.sh run (budget $budget s)"
}

dry_run() {
    local out=${1:-} carry
    [ -x "$python" ] || die "$python not found: make setup (or set PYTHON)"
    [ -n "$out" ] || out=$(mktemp -d)
    carry=$out/carry
    # the smoke system: a few hundred atoms, segments of 0.1 ps (50 steps)
    "$python" "$here/prepare.py" "$carry" --smoke --segment-ps 0.1 --segment-timeout-s 20
    POLYHPC_GPU_WORK=$out/work "$python" "$here/rates.py" --carry "$carry" --out "$out" \
        --mode cpu --budget-s 300 --generator-iters 30 --generator-samples 16 \
        --command "analysis/gpu/measure.sh --dry-run"
}

[ "$#" -ge 1 ] || die "usage: measure.sh prepare [CARRY] | run [CARRY] | --dry-run [OUTDIR]"
command=$1
shift
[ "$#" -le 1 ] || die "usage: measure.sh prepare [CARRY] | run [CARRY] | --dry-run [OUTDIR]"
case "$command" in
    prepare) prepare "$@" ;;
    run) run "$@" ;;
    --dry-run) dry_run "$@" ;;
    *) die "unknown command '$command' (prepare, run, --dry-run)" ;;
esac
