#!/usr/bin/env bash
# Install Ubuntu packages as the archive was at one moment (the Ubuntu snapshot service),
# so a rebuild months later installs the same package versions.
#
#   apt-install.sh SNAPSHOT PACKAGE...      SNAPSHOT like 20261101T000000Z
#
# apt 2.7 (Ubuntu 24.04) understands snapshots for every repository whose Release file
# announces them, which the Ubuntu archive does (snapshot.ubuntu.com; "How to use the
# Ubuntu snapshot service", Ubuntu Server documentation). NVIDIA's CUDA repository does
# not, and nothing is installed from it, so its source list is removed first.
set -euo pipefail

usage() {
    echo "usage: apt-install.sh SNAPSHOT PACKAGE..." >&2
    exit 2
}

[ "$#" -ge 2 ] || usage
snapshot=$1
shift
[[ "$snapshot" =~ ^[0-9]{8}T[0-9]{6}Z$ ]] || {
    echo "apt-install.sh: SNAPSHOT '$snapshot' is not of the form 20261101T000000Z" >&2
    exit 2
}

export DEBIAN_FRONTEND=noninteractive
rm -f /etc/apt/sources.list.d/cuda*.list /etc/apt/sources.list.d/cuda*.sources
apt-get -o "APT::Snapshot=${snapshot}" update
apt-get -o "APT::Snapshot=${snapshot}" install -y --no-install-recommends "$@"
rm -rf /var/lib/apt/lists/*
