#!/usr/bin/env bash
# Install polyhpc into an image: a virtual environment with every package from a lock file
# (exact versions and sha256 hashes), then polyhpc itself as a regular wheel built from the
# source tree, never an editable install. The source tree is removed afterwards, so the
# image can only use what the wheel ships (templates, profiles, configs, sites).
#
#   install-polyhpc.sh PYTHON LOCK SRC PREFIX
#
#   PYTHON  interpreter the environment is made from (python3.12, /usr/local/bin/python3.11)
#   LOCK    containers/polyhpc-gpu.lock or containers/polyhpc-cpu.lock
#   SRC     copy of the source tree (pyproject.toml, README.md, polyhpc/, lammps_templates/,
#           workflows/)
#   PREFIX  where the environment goes (/opt/polyhpc/venv)
set -euo pipefail

die() {
    echo "install-polyhpc.sh: $*" >&2
    exit 2
}

[ "$#" -eq 4 ] || die "usage: install-polyhpc.sh PYTHON LOCK SRC PREFIX"
python=$1
lock=$2
src=$3
prefix=$4
[ -f "$lock" ] || die "lock file $lock is missing"
[ -f "$src/pyproject.toml" ] || die "$src has no pyproject.toml"

"$python" -m venv "$prefix"
pip=("$prefix/bin/python" -m pip --no-cache-dir --disable-pip-version-check)

# every dependency pinned and hash-checked; --no-deps: the lock already lists the closure
"${pip[@]}" install --require-hashes --no-deps --only-binary=:all: -r "$lock"

# polyhpc as a regular wheel, built with the pinned setuptools of the lock
wheel_dir=$(mktemp -d)
"${pip[@]}" wheel --no-deps --no-build-isolation --wheel-dir "$wheel_dir" "$src"
"${pip[@]}" install --no-deps --no-index "$wheel_dir"/polyhpc-*.whl
"${pip[@]}" check
rm -rf "$wheel_dir" "$src"

# what the image can do must come from the wheel, not from a source checkout
cd /
"$prefix/bin/python" - <<'EOF'
import polyhpc
from polyhpc.resources import shipped, templates_dir

assert "site-packages" in polyhpc.__file__, polyhpc.__file__
assert (templates_dir() / "production.in.j2").is_file()
assert {"paper", "smoke", "gpu"} <= set(shipped("md")), shipped("md")
EOF
