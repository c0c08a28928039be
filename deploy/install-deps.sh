#!/usr/bin/env bash
# Installs the Debian packages shoal needs to build, test and run.
# Idempotent: packages already installed are skipped, and `apt-get update`
# runs only when something is missing. Needs root (or sudo) on Debian 12.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache
  libcaf-dev libboost1.81-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev librocksdb-dev libzstd-dev
  libxxhash-dev libcli11-dev libtomlplusplus-dev libhiredis-dev libjemalloc-dev
  redis-server
  curl
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
  --no-install-recommends "${missing[@]}" >/dev/null
