#!/bin/sh
# deps.sh — installs the Debian packages the build and the default run need,
# only those missing (so a warm machine pays nothing). Used by `make deps`;
# packages named as arguments are added (`make device` adds gfortran, whose
# static runtime the bundle's OpenBLAS LAPACK needs).
set -eu
need=""
for p in build-essential libc6-dev libopenblas-dev libsqlite3-dev libyaml-dev gnuplot-nox bible-kjv bible-kjv-text unzip python3-pip "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need="$need $p"
done
[ -z "$need" ] && exit 0
echo "deps: installing$need" >&2
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
