#!/bin/sh
# Renders the icon sources in scripts/icons/*.svg to the committed PNGs.
# The PNGs are committed; this converter is not needed to build or package.
#   apt-get update && apt-get install -y librsvg2-bin     # provides rsvg-convert
#   sh scripts/icons/render.sh
set -eu
cd "$(dirname "$0")/../.."
command -v rsvg-convert >/dev/null || { echo "rsvg-convert not found: apt-get install -y librsvg2-bin" >&2; exit 1; }
for task in AmlPrivateLinkCheck AmlPipelineJob AmlModelRegister AmlAksDeploy; do
  rsvg-convert -w 32 -h 32 -o "tasks/$task/icon.png" "scripts/icons/$task.svg"
done
mkdir -p images
rsvg-convert -w 128 -h 128 -o images/extension-icon.png scripts/icons/extension-icon.svg
# Lossless re-encode: the PNGs ship in the vsix (2 MiB budget).
node scripts/images/compress-png.mjs tasks/*/icon.png images/extension-icon.png
# Larger previews, handy to review the designs (not committed).
if [ "${PREVIEW:-}" = 1 ]; then
  mkdir -p .tmp/icons
  for f in scripts/icons/*.svg; do rsvg-convert -w 256 -h 256 -o ".tmp/icons/$(basename "$f" .svg).png" "$f"; done
fi
echo "icons rendered"
