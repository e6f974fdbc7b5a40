#!/usr/bin/env sh
# Renders the Marketplace images from HTML with headless Chromium and trims them with ImageMagick
# (Debian packages `chromium` and `imagemagick`; not needed to build or test). Run `npm run demo`
# first: it writes dist/summary-screenshot.html, a real run summary of its network check.
# The PNGs are committed; this script is not part of the build.
set -eu
cd "$(dirname "$0")/../.."
# /usr/bin/convert: the real ImageMagick, not a stand-in earlier on PATH.
CONVERT=/usr/bin/convert
shot() { # html out width height
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$(mktemp -d)" \
    --window-size="$3,$4" --screenshot="$2" "file://$PWD/$1" >/dev/null 2>&1
}
# A tall window, then the empty space below the page trimmed away and an even white margin put back.
fit() { # png
  "$CONVERT" "$1" -trim +repage -bordercolor white -border 24 "$1"
}
shot scripts/images/flow.html images/flow.png 1200 425
if [ -f dist/summary-screenshot.html ]; then
  shot dist/summary-screenshot.html images/run-summary.png 1100 3000
  fit images/run-summary.png
else
  echo "dist/summary-screenshot.html is missing: run npm run demo first" >&2
  exit 1
fi
# Lossless re-encode: the PNGs ship in the vsix (2 MiB budget).
node scripts/images/compress-png.mjs images/flow.png images/run-summary.png
