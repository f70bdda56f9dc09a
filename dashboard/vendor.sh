#!/bin/sh
# vendor.sh refreshes assets/vendor from the npm packages of package.json (run it after
# changing a version there; commit what it copies). Nothing is built: the files are the
# packages' own ES module builds. It records each package's version in VERSIONS and each
# file's SHA-256 in SHA256SUMS; TestVendoredFiles checks both against package.json and the
# files, so a version bump without a re-vendor, or a hand edit, fails CI.
set -e
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp package.json "$tmp/"
(cd "$tmp" && npm install --no-audit --no-fund --ignore-scripts >/dev/null)
m="$tmp/node_modules"
v=assets/vendor
rm -f "$v"/*
cp "$m/htm/preact/standalone.module.js" "$v/preact-htm.js"   # Preact + hooks + htm in one module
cp "$m/uplot/dist/uPlot.esm.js" "$v/uPlot.esm.js"
cp "$m/uplot/dist/uPlot.min.css" "$v/uPlot.min.css"
# dagre's ES module build is self-contained (graphlib included); its source map is not shipped.
sed '/^\/\/# sourceMappingURL=/d' "$m/@dagrejs/dagre/dist/dagre.esm.js" > "$v/dagre.esm.js"
cp "$m/htm/LICENSE" "$v/LICENSE.htm"
cp "$m/uplot/LICENSE" "$v/LICENSE.uplot"
cp "$m/@dagrejs/dagre/LICENSE" "$v/LICENSE.dagre"
for p in @dagrejs/dagre htm uplot; do
  printf '%s %s\n' "$p" "$(node -p "require('$m/$p/package.json').version")"
done > "$v/VERSIONS"
(cd "$v" && sha256sum $(ls | grep -v '^SHA256SUMS$') > SHA256SUMS)
