#!/bin/sh
# vendor.sh refreshes assets/vendor from the npm packages of package.json (run it after
# changing a version there; commit what it copies). Nothing is built: the files are the
# packages' own ES module builds. TestVendoredFiles checks the copies match package.json.
set -e
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp package.json "$tmp/"
(cd "$tmp" && npm install --no-audit --no-fund --ignore-scripts >/dev/null)
m="$tmp/node_modules"
cp "$m/htm/preact/standalone.module.js" assets/vendor/preact-htm.js   # Preact + hooks + htm in one module
cp "$m/uplot/dist/uPlot.esm.js" assets/vendor/uPlot.esm.js
cp "$m/uplot/dist/uPlot.min.css" assets/vendor/uPlot.min.css
for p in htm uplot; do
  printf '%s %s\n' "$p" "$(node -p "require('$m/$p/package.json').version")"
done > assets/vendor/VERSIONS
cp "$m/htm/LICENSE" assets/vendor/LICENSE.htm 2>/dev/null || true
cp "$m/uplot/LICENSE" assets/vendor/LICENSE.uplot 2>/dev/null || true
