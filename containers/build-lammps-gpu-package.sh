#!/usr/bin/env bash
# Build a GPU-package `lmp` (CLASS2 KSPACE MOLECULE GPU, CUDA, mixed precision, no MPI) from
# the trimmed source that make-lammps-gpu-source.sh writes.
#
#   build-lammps-gpu-package.sh ARCH SRC_TARBALL OUTDIR [JOBS]
#
#   ARCH         sm_90 (H100, H200, GH200) or sm_80 (A100, A30)
#   SRC_TARBALL  lammps-gpu-src.tar.xz from make-lammps-gpu-source.sh
#   OUTDIR       gets src/ (the unpacked tree), build/, bin/lmp and build.json
#   JOBS         parallel compile jobs (default: nproc)
#   --configure-only (first argument) stops after the CMake configure.
#
# Kernels are compiled for ARCH alone (CUDA_BUILD_MULTIARCH off: LAMMPS's GPU.cmake would
# otherwise pass nvcc -arch=all for CUDA 12 and newer, every architecture the toolkit knows,
# several times the compile time). FFT=KISS: the bundled FFT, so the build needs no FFTW.
# CUDA_MPS_SUPPORT as in build-lammps.sh: several runs per GPU under NVIDIA MPS.
# The GPU library calls the CUDA driver API, so `lmp` links libcuda: the driver's library, or
# the toolkit's stub (lib64/stubs/libcuda.so); CUDA_CUDA_LIBRARY=/path/libcuda.so.1 names one.
# It must be as new as the toolkit: CUDA 13's headers call cuEventElapsedTime_v2, which a
# CUDA 12.2 driver (535) lacks, so `lmp` then fails to link.
# Prints the configure and compile times and writes them to OUTDIR/build.json.
set -euo pipefail

die() {
    echo "build-lammps-gpu-package.sh: $*" >&2
    exit 2
}

configure_only=0
if [ "${1:-}" = "--configure-only" ]; then
    configure_only=1
    shift
fi
[ "$#" -ge 3 ] && [ "$#" -le 4 ] ||
    die "usage: build-lammps-gpu-package.sh [--configure-only] ARCH SRC_TARBALL OUTDIR [JOBS]"
arch=$1 tarball=$2 outdir=$3 jobs=${4:-$(nproc)}
case "$arch" in sm_90 | sm_80) ;; *) die "ARCH '$arch' is not sm_90 (H100/H200) or sm_80 (A100)" ;; esac
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die "JOBS '$jobs' is not a positive integer"
[ -f "$tarball" ] || die "SRC_TARBALL $tarball is missing (make it with containers/make-lammps-gpu-source.sh)"
# CUDA: the compiler first, since LAMMPS's own message for a missing toolkit names neither it nor PATH
nvcc=$(command -v nvcc || true)
[ -n "$nvcc" ] || die "nvcc not found on PATH: the GPU package (GPU_API=cuda) needs the CUDA toolkit (add its bin/ to PATH)"
# the toolkit: CUDA_HOME, else the folder above nvcc, else /usr/local/cuda (nvcc on PATH may be
# a wrapper script elsewhere)
cuda_home=${CUDA_HOME:-$(cd "$(dirname "$(readlink -f "$nvcc")")/.." && pwd)}
[ -f "$cuda_home/include/cuda_runtime.h" ] || cuda_home=/usr/local/cuda
[ -f "$cuda_home/include/cuda_runtime.h" ] ||
    die "no CUDA toolkit headers (include/cuda_runtime.h) above $nvcc or in /usr/local/cuda: set CUDA_HOME"
[ -x "$cuda_home/bin/nvcc" ] && nvcc=$cuda_home/bin/nvcc
bin2c=$(command -v bin2c || true)
[ -n "$bin2c" ] || bin2c=$cuda_home/bin/bin2c
[ -x "$bin2c" ] || die "bin2c not found beside $nvcc or on PATH (the GPU package embeds its kernels with it)"
command -v cmake >/dev/null || die "cmake not found on PATH"

find_libcuda() {
    local candidate
    if [ -n "${CUDA_CUDA_LIBRARY:-}" ]; then
        [ -f "$CUDA_CUDA_LIBRARY" ] || die "CUDA_CUDA_LIBRARY=$CUDA_CUDA_LIBRARY is not a file"
        echo "$CUDA_CUDA_LIBRARY"
        return
    fi
    for candidate in "$cuda_home/lib64/stubs/libcuda.so" "$cuda_home/lib/stubs/libcuda.so" \
        "$cuda_home/targets/x86_64-linux/lib/stubs/libcuda.so" \
        /usr/local/nvidia/lib64/libcuda.so.1 /usr/local/nvidia/lib/libcuda.so.1; do
        [ -f "$candidate" ] && { echo "$candidate"; return; }
    done
    candidate=$(ldconfig -p 2>/dev/null | awk '$1 == "libcuda.so.1" || $1 == "libcuda.so" {print $NF; exit}')
    [ -n "$candidate" ] && { echo "$candidate"; return; }
    die "libcuda (the CUDA driver library) not found: no driver on this machine and no stub in $cuda_home; set CUDA_CUDA_LIBRARY=/path/libcuda.so"
}
libcuda=$(find_libcuda)

# seconds between two `date +%s%N` readings, one decimal
elapsed_s() {
    awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", (b - a) / 1e9}'
}

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
rm -rf "$outdir/src" "$outdir/build" "$outdir/cuda-driver"
mkdir -p "$outdir/src" "$outdir/cuda-driver"
# FindCUDA looks for libcuda.so by name and drops a CUDA_CUDA_LIBRARY given on a first
# configure, so the library found above goes on its search path under that name
ln -s "$libcuda" "$outdir/cuda-driver/libcuda.so"
tar -xJf "$tarball" -C "$outdir/src" --strip-components=1
[ -f "$outdir/src/cmake/CMakeLists.txt" ] || die "$tarball holds no LAMMPS tree (cmake/CMakeLists.txt)"

start=$(date +%s%N)
cmake -S "$outdir/src/cmake" -B "$outdir/build" \
    -D CMAKE_BUILD_TYPE=Release \
    -D BUILD_MPI=off \
    -D BUILD_OMP=on \
    -D FFT=KISS \
    -D PKG_CLASS2=on -D PKG_KSPACE=on -D PKG_MOLECULE=on -D PKG_GPU=on \
    -D GPU_API=cuda -D GPU_PREC=mixed -D "GPU_ARCH=$arch" \
    -D CUDA_BUILD_MULTIARCH=off \
    -D CUDA_MPS_SUPPORT=on \
    -D "CUDA_TOOLKIT_ROOT_DIR=$cuda_home" \
    -D "CUDA_NVCC_EXECUTABLE=$nvcc" \
    -D "BIN2C=$bin2c" \
    -D "CMAKE_LIBRARY_PATH=$outdir/cuda-driver" \
    -D WITH_JPEG=off -D WITH_PNG=off >"$outdir/configure.log" 2>&1 ||
    die "CMake configure failed: see $outdir/configure.log ($(grep -m1 -A1 'CMake Error' "$outdir/configure.log" | tr '\n' ' '))"
configured=$(date +%s%N)
configure_s=$(elapsed_s "$start" "$configured")
echo "build-lammps-gpu-package.sh: configured for $arch in ${configure_s} s (nvcc $nvcc, libcuda $libcuda)"
if [ "$configure_only" = 1 ]; then
    exit 0
fi

cmake --build "$outdir/build" --parallel "$jobs" >"$outdir/build.log" 2>&1 ||
    die "compile failed: see $outdir/build.log ($(grep -m1 -E 'error:|undefined reference|Error [0-9]' "$outdir/build.log"))"
built=$(date +%s%N)
compile_s=$(elapsed_s "$configured" "$built")
install -D -m 0755 "$outdir/build/lmp" "$outdir/bin/lmp"

# lmp -h must list the four packages; the GPU package's part of it asks the driver for the
# devices, so this check needs the GPU machine (without a device lmp -h stops with
# "Cuda driver error 100")
help_text=$("$outdir/bin/lmp" -h | sed -n '/^Installed packages:/,/^List of individual/p')
for name in CLASS2 GPU KSPACE MOLECULE; do
    grep -qw -- "$name" <<<"$help_text" || die "$outdir/bin/lmp -h does not list package $name"
done
version=$("$outdir/bin/lmp" -h | awk 'NF {print; exit}')
nvcc_version=$("$nvcc" --version | awk '/release/ {print $0; exit}')
cat >"$outdir/build.json" <<EOF
{"arch": "$arch", "jobs": $jobs, "configure_s": $configure_s, "compile_s": $compile_s,
 "lmp": "$outdir/bin/lmp", "lammps": "$version", "nvcc": "$nvcc_version",
 "libcuda": "$libcuda", "source_sha256": "$(sha256sum "$tarball" | cut -d' ' -f1)",
 "packages": ["CLASS2", "GPU", "KSPACE", "MOLECULE"], "gpu_prec": "mixed", "fft": "KISS"}
EOF
echo "build-lammps-gpu-package.sh: $outdir/bin/lmp for $arch: configure ${configure_s} s, compile ${compile_s} s with $jobs jobs"
