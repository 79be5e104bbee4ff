#!/usr/bin/env bash
# The web UI's third-party browser files (htmx, Chart.js, and axe-core for the accessibility
# tests), installed from web/package-lock.json and copied into the package, so that Assay serves
# them itself (no CDN; works offline). They are built here, never committed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
vendor="$root/src/assay/web/static/vendor"
if ! command -v npm >/dev/null 2>&1; then
    echo "build_web_assets: npm not found; install Node.js 18+ with npm (Debian: apt-get install npm) and run scripts/build_web_assets.sh, or the web UI shows a notice instead of its pages' scripts" >&2
    exit 0
fi
cd "$root/web"
npm ci --no-audit --no-fund --loglevel=error
mkdir -p "$vendor"
cp node_modules/htmx.org/dist/htmx.min.js "$vendor/htmx.min.js"
cp node_modules/chart.js/dist/chart.umd.js "$vendor/chart.umd.js"
cp node_modules/axe-core/axe.min.js "$vendor/axe.min.js"
echo "build_web_assets: htmx, Chart.js and axe-core copied to src/assay/web/static/vendor/"
