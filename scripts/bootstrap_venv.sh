#!/usr/bin/env bash
# Create .venv from a Python >= 3.12 and install fe2 with the pinned versions of constraints.txt.
#
# Interpreter search order: $FE2_PYTHON, python3.13 / python3.12 on PATH,
# then pyenv's installed 3.13.x / 3.12.x. If the chosen interpreter already
# imports dolfinx 0.10 or 0.11 (conda, Docker images), the venv sees its
# site-packages and the PyPI dolfinx wheel is NOT installed.
#
# Usage: scripts/bootstrap_venv.sh [VENV_DIR] [EXTRAS]   (defaults: .venv, test; EXTRAS "" = runtime only)
set -euo pipefail
venv=${1:-.venv}
extras=${2-test}   # "" = runtime dependencies only (the Docker runtime stage)
stamp="$venv/.fe2-installed"

is_py312plus() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}

find_python() {
    local cand
    for cand in "${FE2_PYTHON:-}" python3.13 python3.12 python3; do
        [ -n "$cand" ] || continue
        if command -v "$cand" >/dev/null 2>&1 && is_py312plus "$(command -v "$cand")"; then
            command -v "$cand"; return 0
        fi
    done
    if command -v pyenv >/dev/null 2>&1; then
        local root; root=$(pyenv root)
        for cand in $(ls -d "$root"/versions/3.13.* "$root"/versions/3.12.* 2>/dev/null | sort -rV); do
            if [ -x "$cand/bin/python" ] && is_py312plus "$cand/bin/python"; then
                echo "$cand/bin/python"; return 0
            fi
        done
    fi
    return 1
}

if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ "$stamp" -nt constraints.txt ] \
        && [ "$(cat "$stamp")" = "$extras" ]; then
    exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
    py=$(find_python) || {
        echo "error: no Python >= 3.12 found (tried \$FE2_PYTHON, python3.13, python3.12, python3, pyenv versions); install one or set FE2_PYTHON" >&2
        exit 1
    }
    if "$py" -c 'import dolfinx, sys; v = dolfinx.__version__; sys.exit(0 if v.startswith(("0.10", "0.11")) else 1)' >/dev/null 2>&1; then
        echo "fe2: $py already provides dolfinx; creating $venv with --system-site-packages"
        "$py" -m venv --system-site-packages "$venv"
        # A venv made from another venv's interpreter sees the *base* Python's
        # packages, not that venv's. The FEniCS images keep numpy, mpi4py,
        # petsc4py, basix, ffcx and ufl in such a venv (/dolfinx-env): chain its
        # site-packages after ours with a .pth file.
        parent_sites=$("$py" -c 'import site, sys; print("\n".join(site.getsitepackages()) if sys.prefix != sys.base_prefix else "")')
        if [ -n "$parent_sites" ]; then
            "$venv/bin/python" -c 'import sys, sysconfig; open(sysconfig.get_paths()["purelib"] + "/fe2-parent-env.pth", "w").write(sys.argv[1] + "\n")' "$parent_sites"
        fi
        echo system > "$venv/.fe2-dolfinx"
    else
        echo "fe2: creating $venv from $py ($("$py" --version))"
        "$py" -m venv "$venv"
        echo wheel > "$venv/.fe2-dolfinx"
    fi
fi

all_extras="$extras"
if [ "$(cat "$venv/.fe2-dolfinx")" = wheel ]; then
    all_extras="dolfinx${extras:+,$extras}"
fi
# ranges in pyproject.toml, the tested exact versions from constraints.txt
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".${all_extras:+[$all_extras]}"
echo "$extras" > "$stamp"
