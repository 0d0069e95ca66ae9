#!/usr/bin/env bash
# Builds the "digits in handwriting fonts" evaluation set (MNIST-form gzip IDX files) with
# scripts/font-digits.py. Installs the Debian font packages and Pillow first if they are missing.
#
#   scripts/font-digits.sh [OUT]          # default OUT=/tmp/font-digits; extra args go to the .py
#   digitd eval --images OUT/fonts-images-idx3-ubyte.gz --labels OUT/fonts-labels-idx1-ubyte.gz
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-/tmp/font-digits}"
[ $# -gt 0 ] && shift

packages=(
  fonts-dkg-handwriting
  fonts-breip
  fonts-bwht
  fonts-dancingscript
  fonts-comic-neue
  fonts-ecolier-court
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "font-digits: installing ${missing[*]}" >&2
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python3 -c 'import numpy' 2>/dev/null || python3 -m pip install --quiet numpy
python3 -c 'import PIL' 2>/dev/null || python3 -m pip install --quiet pillow

exec python3 "$here/font-digits.py" --out "$out" "$@"
