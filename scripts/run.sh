#!/usr/bin/env bash
# The main job in one command: install what is needed, build a release binary, and read digits
# live — from the webcam at /dev/video0 when there is one, else from the bundled demo frames.
# Extra arguments go to `digitd run` (e.g. --headless, --emit events).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product digitd
bin=.build/release/digitd
if [ -e /dev/video0 ]; then
  exec "$bin" run --source /dev/video0 "$@"
fi
echo "run.sh: no camera at /dev/video0; reading the bundled demo frames in demo/ instead" >&2
exec "$bin" run --source demo --realtime --fps 2 "$@"
