#!/usr/bin/env bash
# Installs the Debian packages digitd needs to build, test and run, plus any packages named as
# arguments (scripts/font-digits.sh passes its fonts). Idempotent: packages already present are
# skipped, so running it twice costs one dpkg query per package.
set -euo pipefail

packages=(
  pkg-config
  libopenblas-dev      # cblas_sgemm for the CNN engine
  zlib1g-dev           # gzip IDX files, PNG deflate
  libjpeg62-turbo-dev  # JPEG decode/encode
  libpng-dev           # PNG decode
  libv4l-dev           # V4L2 capture through libv4l2/libv4lconvert
  libsdl2-dev          # the live window
  xvfb                 # window tests without a display
  curl ca-certificates # MNIST fetch
  "$@"                 # extra packages from the caller
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "setup: swift (6.x) is not on PATH; install it from https://swift.org/install/linux/ and run again" >&2
  exit 1
fi
