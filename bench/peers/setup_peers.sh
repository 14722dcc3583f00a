#!/usr/bin/env bash
# Recreate the peer venv (.venv-bench) of the fe2 RVE benchmark from scratch:
# muSpectre and fedoo (+ pypardiso/MKL for fedoo), pinned in requirements.txt.
# They are benchmark peers only, never fe2 runtime dependencies.
#
#   bash bench/peers/setup_peers.sh            # (re)creates <repo>/.venv-bench
#
# Environment knobs:
#   PYTHON=/path/to/python3.12   interpreter for the venv (default: pyenv's 3.12.x, else python3.12)
#   BENCH_VENV=/path             venv location (default: <repo>/.venv-bench)
#   BENCH_NO_PARDISO=1           skip pypardiso + MKL (~1 GB installed); fedoo then uses scipy SuperLU
#   BENCH_SKIP_SMOKE=1           skip the smoke run of the two peer scripts
#   BENCH_ALLOW_ANY_PYTHON=1     do not insist on 3.12 (pip then fails with a clear message
#                                where muSpectre has no wheel, e.g. 3.13; an sdist exists but
#                                needs a meson/C++ build that this script does not attempt)
#
# System packages: none. Every pin installs from a manylinux binary wheel
# (--only-binary :all:), so no compiler, FFTW, MPI or other apt package is
# needed; muSpectre's wheel bundles its own FFT (pocketfft). The apt hook below
# stays for the day a pin needs one: list packages in APT_PACKAGES.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${BENCH_VENV:-$REPO/.venv-bench}"
REQ="$HERE/requirements.txt"
APT_PACKAGES=()   # none needed today

die() { echo "setup_peers.sh: ERROR: $*" >&2; exit 1; }
log() { echo "setup_peers.sh: $*" >&2; }

# ---- system packages (guarded: works as root without sudo) ------------------------------
if ((${#APT_PACKAGES[@]})); then
    if [ "$(id -u)" -eq 0 ]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo); else
        die "need root or sudo to apt-get install ${APT_PACKAGES[*]}"; fi
    command -v apt-get >/dev/null || die "apt-get not found; install by hand: ${APT_PACKAGES[*]}"
    log "apt-get install ${APT_PACKAGES[*]}"
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
        "${APT_PACKAGES[@]}" || die "apt-get install ${APT_PACKAGES[*]} failed"
fi

# ---- interpreter: CPython 3.12 (muSpectre 0.27.0 has cp312 wheels only) -------------------
if [ -z "${PYTHON:-}" ]; then
    if command -v pyenv >/dev/null && ls -d "$(pyenv root)"/versions/3.12.* >/dev/null 2>&1; then
        PYTHON="$(ls -d "$(pyenv root)"/versions/3.12.* | sort -V | tail -1)/bin/python"
    elif command -v python3.12 >/dev/null; then
        PYTHON="$(command -v python3.12)"
    else
        die "no Python 3.12 found (muSpectre 0.27.0 ships cp312 wheels only); set PYTHON=/path/to/python3.12"
    fi
fi
PYVER="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
    || die "cannot run PYTHON=$PYTHON"
[ "$PYVER" = "3.12" ] || [ -n "${BENCH_ALLOW_ANY_PYTHON:-}" ] || die "PYTHON=$PYTHON is $PYVER; muSpectre 0.27.0 needs CPython 3.12 (cp312 wheel)"
[ "$(uname -m)" = "x86_64" ] || die "muSpectre 0.27.0 wheels exist for x86_64 Linux only (this is $(uname -m))"
log "using $PYTHON ($("$PYTHON" -V 2>&1)), venv $VENV"

# ---- fresh venv -------------------------------------------------------------------------
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV" || die "python -m venv failed"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

req_file="$REQ"
if [ "${BENCH_NO_PARDISO:-0}" = "1" ]; then
    req_file="$(mktemp)"
    trap 'rm -f "$req_file"' EXIT
    grep -v -E '^(pypardiso|mkl|intel-openmp|intel-cmplr-lib-ur|tbb|tcmlib|umf)==' "$REQ" >"$req_file"
    log "BENCH_NO_PARDISO=1: fedoo will use scipy's SuperLU"
fi

install_log="$VENV/pip-install.log"
if ! "${PIP[@]}" install --only-binary :all: -r "$req_file" >"$install_log" 2>&1; then
    tail -n 25 "$install_log" >&2
    for peer in muSpectre fedoo; do
        pin="$(grep -E "^$peer==" "$REQ" | head -1)"
        grep -qi "No matching distribution found for ${pin}" "$install_log" \
            && die "peer '$pin' cannot be installed here: no binary wheel for this Python/platform (see above)"
    done
    die "pip install -r $req_file failed (full log: $install_log)"
fi

# ---- check that the peers import and report the pinned versions -------------------------
"$VENV/bin/python" - "$REQ" <<'PY' || die "peer import check failed"
import sys, re, warnings
from importlib.metadata import version
warnings.simplefilter("ignore")
pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", open(sys.argv[1]).read(), re.M))
import muSpectre, muFFT, fedoo  # noqa: F401
for name in ("muSpectre", "fedoo"):
    got = version(name)
    if got != pins[name]:
        sys.exit(f"{name} {got} installed, {pins[name]} pinned")
    print(f"setup_peers.sh: {name} {got} OK", file=sys.stderr)
PY

# ---- smoke run: tiny grids through both scripts, output must be valid JSON ----------------
if [ "${BENCH_SKIP_SMOKE:-0}" != "1" ]; then
    smoke() {
        "$VENV/bin/python" "$HERE/$1" --resolutions 8 --no-warmup 2>/dev/null \
            | "$VENV/bin/python" -c 'import json,sys; d=json.load(sys.stdin); assert all(p["results"] for p in d["peers"]); print("setup_peers.sh: smoke", [p["peer"] for p in d["peers"]], "OK", file=sys.stderr)' \
            || die "smoke run of $1 failed"
    }
    smoke muspectre_rve.py
    smoke fedoo_rve.py
fi
log "done: $VENV"
