#!/usr/bin/env bash
# The README's sweep of `digitd synth` options ("Outside the generator's defaults"): each option
# on seeds 1 and 1000, 400 pages, one line per run: OPTION | SEED | the --json figures.
#   bash scripts/sweep.sh > runs/sweep.txt        (DIGITD=path/to/digitd to try another build)
set -euo pipefail
cd "$(dirname "$0")/.."
digitd=${DIGITD:-.build/release/digitd}
for option in "" "--digit-height 0.025-0.07" "--digit-height 0.14-0.28" "--touching 0" "--touching 0.36" \
              "--stroke-gamma 1.6-3.5" "--stroke-gamma 0.2-0.5" "--boxes 0.5" "--ink-contrast 0.2-0.5" "--defocus 1-2" \
              "--page-rotation 10" "--page-rotation 20" "--perspective 0.5"; do
  for seed in 1 1000; do
    # shellcheck disable=SC2086  # the option is two words
    echo "$option | $seed | $("$digitd" synth --score 400 --seed "$seed" $option --json)"
  done
done
