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

bash "$here/setup.sh" "${packages[@]}"

python3 -c 'import numpy' 2>/dev/null || python3 -m pip install --quiet numpy
python3 -c 'import PIL' 2>/dev/null || python3 -m pip install --quiet pillow

exec python3 "$here/font-digits.py" --out "$out" "$@"
