#!/usr/bin/env bash
# Screenshots of built docs pages in headless Chromium (Debian package `chromium`; not a project
# dependency): checks by eye that math, API and demo pages render offline (MathJax is served
# from the site). Usage: make docs && bash scripts/docs_screenshots.sh [OUT_DIR]
#   writes OUT_DIR/{math_darcy,api_contract,demo_rve,gallery}.png (default /tmp/fe2-shots)
set -euo pipefail
out=${1:-/tmp/fe2-shots}
site=${SITE:-site}
port=${PORT:-8765}
command -v chromium >/dev/null || { echo "error: chromium not found (apt-get install -y chromium)" >&2; exit 1; }
[ -f "$site/index.html" ] || { echo "error: $site/index.html missing: run make docs first" >&2; exit 1; }
mkdir -p "$out"
python3 -m http.server "$port" --directory "$site" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 1
shot() {  # name, page path, height
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$(mktemp -d)" --virtual-time-budget=8000 --window-size=1280,"$3" \
        --screenshot="$out/$1.png" "http://localhost:$port/$2" >/dev/null 2>&1
    echo "$out/$1.png"
}
shot math_darcy darcy/ 1600
shot api_contract api/contract/ 1600
shot demo_rve demos/rve_homogenization/ 4200
shot gallery gallery/ 2400
