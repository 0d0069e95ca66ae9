#!/usr/bin/env bash
# Sets up (Debian packages) and runs the whole test suite. Used by CI (.ci/run) and the README.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
# Window tests render through SDL's offscreen driver: no display needed.
export SDL_VIDEODRIVER="${SDL_VIDEODRIVER:-offscreen}"
swift build --build-tests || exit 1
swift test --skip-build 2>&1 | tee /tmp/digitd-test.log
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] && echo "all tests passed" || echo "tests failed (exit $status); log in /tmp/digitd-test.log" >&2
exit "$status"
