#!/usr/bin/env bash
# `lmp` of the polyhpc GPU image: runs the LAMMPS build that fits the GPU this process sees.
#
# KOKKOS binaries run only on the compute-capability major they were built for, so the
# image ships one per architecture (/opt/lammps/kokkos-sm80, /opt/lammps/kokkos-sm90) and
# this script picks one from `nvidia-smi --query-gpu=compute_cap` of the first GPU in
# CUDA_VISIBLE_DEVICES (the GPU a Parsl worker was given), as NVIDIA's LAMMPS images do.
# Arguments that ask for the GPU package (-sf gpu, -pk gpu) select /opt/lammps/gpu, a
# single build for every architecture.
#
#   POLYHPC_LMP_VARIANT=kokkos-sm80|kokkos-sm90|gpu   skip detection and use that build
#   POLYHPC_LMP_SELECT_DRYRUN=1                       print the chosen binary, run nothing
#
# Exit status 2 with one `lmp: error: ...` line when no build fits.
set -euo pipefail

root=${POLYHPC_LAMMPS_ROOT:-/opt/lammps}

fail() {
    echo "lmp: error: $*" >&2
    exit 2
}

wants_gpu_package=0
help_only=1
previous=""
for arg in "$@"; do
    case "$previous:$arg" in
        -sf:gpu | -suffix:gpu | -pk:gpu | -package:gpu) wants_gpu_package=1 ;;
    esac
    case "$arg" in -h | -help) ;; *) help_only=0 ;; esac
    previous=$arg
done
[ "$#" -gt 0 ] || help_only=0

# compute capability of the first visible GPU, e.g. "9.0"; empty without a GPU
compute_capability() {
    local device=${CUDA_VISIBLE_DEVICES:-}
    device=${device%%,*}
    command -v nvidia-smi >/dev/null 2>&1 || return 0
    if [ -n "$device" ]; then
        nvidia-smi --query-gpu=compute_cap --format=csv,noheader --id="$device" 2>/dev/null |
            head -n 1 | tr -d ' ' || true
    else
        nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null |
            head -n 1 | tr -d ' ' || true
    fi
}

variant=${POLYHPC_LMP_VARIANT:-}
if [ -z "$variant" ]; then
    capability=$(compute_capability)
    if [ -z "$capability" ]; then
        if [ "$help_only" -eq 1 ]; then
            # `lmp -h` touches no GPU: any build answers it, the CUDA driver stub stands in
            variant=kokkos-sm80
            export LD_LIBRARY_PATH="$root/stubs:${LD_LIBRARY_PATH:-}"
        else
            fail "no NVIDIA GPU visible (nvidia-smi found none): run the image with" \
                "'apptainer exec --nv' on a GPU node, use polyhpc-cpu.sif on CPU nodes, or" \
                "set POLYHPC_LMP_VARIANT"
        fi
    elif [ "$wants_gpu_package" -eq 1 ]; then
        variant=gpu
    else
        case "${capability%%.*}" in
            8) variant=kokkos-sm80 ;;
            9) variant=kokkos-sm90 ;;
            *) fail "GPU compute capability $capability has no KOKKOS build in this image" \
                "(built: sm80 for 8.x, sm90 for 9.x); use the GPU package (-sf gpu) or" \
                "rebuild polyhpc-gpu.def for this GPU" ;;
        esac
    fi
fi

case "$variant" in
    kokkos-sm80 | kokkos-sm90 | gpu) ;;
    *) fail "POLYHPC_LMP_VARIANT '$variant' is not one of kokkos-sm80, kokkos-sm90, gpu" ;;
esac
binary="$root/$variant/bin/lmp"
[ -x "$binary" ] || fail "$binary is missing (the GPU-package build is built only with" \
    "GPU_PACKAGE=yes, the default; this image was built with GPU_PACKAGE=no)"
if [ "${POLYHPC_LMP_SELECT_DRYRUN:-0}" = 1 ]; then
    echo "$binary"
    exit 0
fi
exec "$binary" "$@"
