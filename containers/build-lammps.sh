#!/usr/bin/env bash
# Build the LAMMPS binaries of the polyhpc GPU image (the %post steps of polyhpc-gpu.def).
#
#   build-lammps.sh fetch VERSION SHA256 SRC       download the release tag VERSION from
#                                                  GitHub, refuse it unless its sha256 is
#                                                  SHA256, unpack it into SRC
#   build-lammps.sh kokkos ARCH SRC PREFIX JOBS    KOKKOS/CUDA build for one GPU architecture
#                                                  (AMPERE80 or HOPPER90) -> PREFIX/bin/lmp
#   build-lammps.sh gpu SRC PREFIX JOBS            GPU-package build (CUDA, mixed precision,
#                                                  every architecture the toolkit knows)
#   build-lammps.sh stub PREFIX                    the CUDA driver stub, for `lmp -h` on a
#                                                  machine without a GPU (image build, %test)
#   build-lammps.sh frc SRC PREFIX                 the public PCFF force field of the same
#                                                  release (tools/msi2lmp/frc_files/pcff.frc)
#                                                  -> PREFIX/frc_files, for `polyhpc md build`
#
# The packages come from lammps-packages.txt beside this script, one list for every build;
# each build is checked with `lmp -h` before it is installed.
#
# Facts these flags rest on (LAMMPS docs, doc/src/Build_extras.rst, and issues):
#   - Kokkos compiles for exactly one GPU architecture and a binary does not run across
#     compute-capability majors ("Kokkos::Cuda::initialize ERROR: likely mismatch of
#     architecture"), hence one KOKKOS build per architecture.
#   - cmake/presets/kokkos-cuda.cmake turns Kokkos_ARCH_PASCAL60 on; a second architecture
#     next to it fails with "Multiple GPU architectures given!" (lammps#4178), so it is
#     switched off here. Autodetection cannot work without a GPU at build time (kokkos#5124).
#   - The GPU package compiles for all architectures of the CUDA toolkit; GPU_ARCH only adds
#     native code for the preferred one (CUDA_ENABLE_MULTIARCH, on by default).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
packages_file="$here/lammps-packages.txt"

die() {
    echo "build-lammps.sh: $*" >&2
    exit 2
}

# -D PKG_<NAME>=on for every package of lammps-packages.txt
package_flags() {
    local name role reason
    [ -f "$packages_file" ] || die "missing $packages_file"
    while read -r name role reason; do
        case "$name" in "" | "#"*) continue ;; esac
        [ -n "$role" ] && [ -n "$reason" ] || die "$packages_file: '$name' needs a role and a reason"
        printf -- '-DPKG_%s=on\n' "$name"
    done <"$packages_file"
}

package_names() {
    sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$packages_file" | awk '{print $1}'
}

fetch() {
    [ "$#" -eq 3 ] || die "usage: fetch VERSION SHA256 SRC"
    local version=$1 sha256=$2 src=$3
    [[ "$version" =~ ^(stable|patch)_[0-9]{1,2}[A-Z][a-z]{2}[0-9]{4}(_update[0-9]+)?$ ]] ||
        die "VERSION '$version' is not a LAMMPS release tag such as stable_22Jul2025_update4"
    [[ "$sha256" =~ ^[0-9a-f]{64}$ ]] || die "SHA256 '$sha256' is not 64 hex digits"
    local tarball
    tarball=$(mktemp --suffix=.tar.gz)
    curl --fail --location --retry 3 --silent --show-error \
        --output "$tarball" "https://github.com/lammps/lammps/archive/${version}.tar.gz"
    # refuse anything but the release the definition names
    echo "${sha256}  ${tarball}" | sha256sum --check --strict -
    mkdir -p "$src"
    tar -xzf "$tarball" -C "$src" --strip-components=1
    rm -f "$tarball"
    [ -f "$src/cmake/CMakeLists.txt" ] || die "$src has no cmake/CMakeLists.txt"
}

# lmp -h must list every package of the list plus the accelerator
check_binary() {
    local lmp=$1 accelerator=$2 stubs=$3 help_text name
    # Open MPI refuses root unless told; image builds run as (fake) root
    help_text=$(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
        LD_LIBRARY_PATH="$stubs:${LD_LIBRARY_PATH:-}" "$lmp" -h |
        sed -n '/^Installed packages:/,/^List of individual/p')
    for name in $(package_names) "$accelerator"; do
        grep -qw -- "$name" <<<"$help_text" || die "$lmp -h does not list package $name"
    done
}

build() {
    local src=$1 build_dir=$2 prefix=$3 jobs=$4 accelerator=$5
    shift 5
    local flags
    mapfile -t flags < <(package_flags)
    cmake -S "$src/cmake" -B "$build_dir" "$@" \
        -D CMAKE_BUILD_TYPE=Release \
        -D BUILD_MPI=on \
        -D BUILD_OMP=on \
        -D FFT=FFTW3 \
        "${flags[@]}"
    cmake --build "$build_dir" --parallel "$jobs"
    mkdir -p "$prefix/bin"
    install -m 0755 "$build_dir/lmp" "$prefix/bin/lmp"
    check_binary "$prefix/bin/lmp" "$accelerator" "$(stub_dir)"
    rm -rf "$build_dir"
}

stub_dir() {
    local dir
    dir=$(mktemp -d)
    ln -sf /usr/local/cuda/lib64/stubs/libcuda.so "$dir/libcuda.so.1"
    echo "$dir"
}

kokkos() {
    [ "$#" -eq 4 ] || die "usage: kokkos ARCH SRC PREFIX JOBS"
    local arch=$1 src=$2 prefix=$3 jobs=$4
    case "$arch" in AMPERE80 | HOPPER90) ;; *) die "ARCH '$arch' is not AMPERE80 or HOPPER90" ;; esac
    [[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die "JOBS '$jobs' is not a positive integer"
    build "$src" "$src/build-kokkos-$arch" "$prefix" "$jobs" KOKKOS \
        -C "$src/cmake/presets/kokkos-cuda.cmake" \
        -D PKG_KOKKOS=on \
        -D Kokkos_ENABLE_CUDA=on \
        -D Kokkos_ARCH_PASCAL60=OFF \
        -D "Kokkos_ARCH_${arch}=ON" \
        -D Kokkos_ENABLE_IMPL_CUDA_MALLOC_ASYNC=OFF \
        -D FFT_KOKKOS=CUFFT
}

gpu() {
    [ "$#" -eq 3 ] || die "usage: gpu SRC PREFIX JOBS"
    local src=$1 prefix=$2 jobs=$3
    [[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die "JOBS '$jobs' is not a positive integer"
    # several replicas per GPU need NVIDIA MPS; CUDA_MPS_SUPPORT makes the GPU library use it
    build "$src" "$src/build-gpu" "$prefix" "$jobs" GPU \
        -D PKG_GPU=on \
        -D GPU_API=cuda \
        -D GPU_PREC=mixed \
        -D GPU_ARCH=sm_80 \
        -D CUDA_MPS_SUPPORT=on
}

stub() {
    [ "$#" -eq 1 ] || die "usage: stub PREFIX"
    mkdir -p "$1/stubs"
    cp /usr/local/cuda/lib64/stubs/libcuda.so "$1/stubs/libcuda.so.1"
}

frc() {
    [ "$#" -eq 2 ] || die "usage: frc SRC PREFIX"
    local frc_file="$1/tools/msi2lmp/frc_files/pcff.frc"
    [ -f "$frc_file" ] || die "$frc_file is missing"
    install -D -m 0644 "$frc_file" "$2/frc_files/pcff.frc"
}

[ "$#" -ge 1 ] || die "usage: build-lammps.sh fetch|kokkos|gpu|stub|frc ARGS..."
command=$1
shift
case "$command" in
    fetch) fetch "$@" ;;
    kokkos) kokkos "$@" ;;
    gpu) gpu "$@" ;;
    stub) stub "$@" ;;
    frc) frc "$@" ;;
    *) die "unknown command '$command' (fetch, kokkos, gpu, stub, frc)" ;;
esac
