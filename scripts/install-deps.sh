#!/usr/bin/env bash
# Installs the native libraries Graft links (Debian 12 or Ubuntu), as root or through sudo.
# Does nothing when they are already installed.
set -euo pipefail
# --with-mpi adds Open MPI (optional: finetune-mpi and its tests are built only where it is installed).
packages=(libopenblas-dev libdnnl-dev libhdf5-dev libpng-dev libjpeg62-turbo-dev libexif-dev pkg-config)
if [ "${1:-}" = "--with-mpi" ]; then packages+=(libopenmpi-dev openmpi-bin); fi
if dpkg -s "${packages[@]}" >/dev/null 2>&1; then exit 0; fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "error: installing ${packages[*]} needs root: run this as root, or install sudo" >&2
    exit 1
  fi
  as_root=(sudo)
fi
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
