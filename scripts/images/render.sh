#!/usr/bin/env sh
# Renders the Marketplace images from HTML with headless Chromium (Debian package `chromium`).
# The PNGs are committed; this script is not part of the build.
set -eu
cd "$(dirname "$0")/../.."
shot() { # html out width height
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$(mktemp -d)" \
    --window-size="$3,$4" --screenshot="$2" "file://$PWD/$1" >/dev/null 2>&1
}
shot scripts/images/flow.html images/flow.png 1200 425
if [ -f dist/summary-screenshot.html ]; then shot dist/summary-screenshot.html images/run-summary.png 1100 900; fi
