#!/bin/bash
# Screenshot a report.html (or any page) in headless Chromium (Debian's `chromium`), to check that
# the self-contained page renders: curves, confusion matrix, top-losses gallery.
# usage: scripts/screenshot_report.sh RUN/report.html OUT.png [WIDTHxHEIGHT]
set -euo pipefail
page=$(realpath "$1"); out=$(realpath -m "$2"); size=${3:-1100x4200}
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "chromium not found: apt-get install chromium" >&2; exit 1; }
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --allow-file-access-from-files \
  --window-size="${size/x/,}" --screenshot="$out" "file://$page" 2>/dev/null
echo "wrote $out"
