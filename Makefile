# fe2 — build, test, demo, docs and Docker entry points.
#
#   make demo    create .venv if needed, run the RVE demo on 2 MPI ranks
#   make test    create .venv if needed, lint (ruff and mypy, both must pass), then run the test
#                suite serially, then on 2 MPI ranks
#
# .venv is made by scripts/bootstrap_venv.sh from a Python >= 3.12 (python3.13 /
# python3.12 on PATH, or pyenv) with the exact versions of constraints.txt (ranges in pyproject.toml).
# Everything below calls .venv/bin/... explicitly: no activation needed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV     ?= .venv
PY       := $(VENV)/bin/python
NP       ?= 2
DEMO_OUT ?= out/demo
# Wall-clock limit of each pytest run (serial, MPI), in seconds: a rank that
# fails before a collective leaves the other waiting forever; this turns such
# a deadlock into a failure instead of eating the whole CI budget.
TEST_TIMEOUT ?= 2400
PYTEST_ARGS ?=
# `make lint` = ruff check on LINT_PATHS + mypy on fe2 (configuration in pyproject.toml).
# `make test` runs it first; ruff and mypy failures fail `make test` (MYPY_STRICT=0 reports mypy's
# errors without failing, e.g. on an install whose dolfinx/numpy stubs differ from the pinned ones).
MYPY_STRICT ?= 1
LINT_PATHS  ?= fe2 tests bench demos scripts

# mpirun of the mpich wheel lives in .venv/bin; with a system dolfinx (conda,
# Docker images) there is none there and the system mpirun is used.
# Expanded when a recipe runs, i.e. after `venv` has made .venv.
MPIRUN = $(shell [ -x $(VENV)/bin/mpirun ] && echo $(VENV)/bin/mpirun || echo mpirun)
# .venv/bin first on PATH so that mpich's hydra finds hydra_pmi_proxy.
RUN_ENV = PATH="$(CURDIR)/$(VENV)/bin:$$PATH" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
          MPLBACKEND=Agg PYVISTA_OFF_SCREEN=true

.PHONY: help venv demo lint test test-serial test-mpi test-fast test-slow bench docs docs-serve docker clean

help:
	@echo "make venv       create/update $(VENV) (scripts/bootstrap_venv.sh; fast when up to date)"
	@echo "make demo       run demos/rve_homogenization.py on $(NP) MPI ranks, output in $(DEMO_OUT)"
	@echo "make lint       ruff check $(LINT_PATHS); mypy fe2 (both always run)"
	@echo "make test       lint (ruff fatal; mypy fatal unless MYPY_STRICT=0, now $(MYPY_STRICT)), then the whole test suite:"
	@echo "                serial, then under mpirun -n $(NP) (the CI command)"
	@echo "make test-fast  serial suite only, stop at the first failure"
	@echo "make test-slow  only the long verification tests (marked slow; skipped by make test), on $(NP) ranks"
	@echo "make bench      run bench/run.py (writes a JSON record)"
	@echo "make docs       build the MkDocs site into site/ (--strict)"
	@echo "make docker     docker build -f docker/Dockerfile -t fe2 ."
	@echo "make clean      remove outputs and caches (keeps $(VENV))"

venv:
	@bash scripts/bootstrap_venv.sh $(VENV) test

demo: venv
	@test -f demos/rve_homogenization.py || { echo "error: demos/rve_homogenization.py does not exist yet" >&2; exit 1; }
	$(RUN_ENV) $(MPIRUN) -n $(NP) $(PY) demos/rve_homogenization.py --out $(DEMO_OUT)
	@echo
	@echo "Demo output in $(DEMO_OUT)/ -- open the .xdmf files in ParaView (File > Open, reader 'Xdmf3 Reader S'):"
	@find $(DEMO_OUT) -maxdepth 2 \( -name '*.xdmf' -o -name '*.bp' -o -name '*.json' -o -name '*.png' \) -print 2>/dev/null | sort | sed 's/^/  /'

# ruff and mypy are in pyproject's `test` extra, pinned in constraints.txt. ruff must pass; mypy always runs and
# fails `make lint` (and so `make test`) unless MYPY_STRICT=0.
lint: venv
	@rc=0; \
	echo "== ruff check $(LINT_PATHS) =="; \
	$(VENV)/bin/ruff check --output-format concise $(LINT_PATHS) || rc=1; \
	echo "== mypy fe2 (fatal unless MYPY_STRICT=0, now $(MYPY_STRICT)) =="; \
	if ! $(VENV)/bin/mypy fe2 | tail -n 1; then :; fi; \
	if [ "$(MYPY_STRICT)" = 1 ]; then $(VENV)/bin/mypy fe2 >/dev/null || rc=1; fi; \
	exit $$rc

# Lint first, then both test runs; all three always execute. The target fails if any failed.
test: venv
	@rc=0; \
	$(MAKE) --no-print-directory lint || rc=1; \
	$(MAKE) --no-print-directory test-serial || rc=1; \
	$(MAKE) --no-print-directory test-mpi || rc=1; \
	if [ $$rc -ne 0 ]; then echo "make test: FAILED (see the lint, serial and MPI runs above)" >&2; fi; \
	exit $$rc

# The serial run includes tests/test_docs_build.py (mkdocs build --strict, ~10 s): it needs the docs extra.
test-serial: venv $(VENV)/.fe2-docs
	@echo "== pytest, serial (tests marked 'parallel' are skipped) =="
	$(RUN_ENV) timeout -k 30 $(TEST_TIMEOUT) $(PY) -m pytest tests -q $(PYTEST_ARGS)

# The MPI run is split into groups, one mpirun each: petsc4py defers the (collective) destruction of
# objects on communicators of size > 1 that tests drop without destroy(), and every such object keeps
# MPI context ids; one process for the whole suite exhausted MPICH's 2048 ("Too many communicators").
MPI_GROUPS ?= "tests/apps tests/io tests/geometry tests/solvers" "tests/macro tests/materials" "tests/micro" \
              "tests/physics/darcy" "tests/physics/phasefield tests/physics/reactions" "tests/uq tests/reduction $(wildcard tests/test_*.py)"
test-mpi: venv
	@echo "== pytest, mpirun -n $(NP) (tests marked 'serial' are skipped, 'parallel' ones run) =="
	@rc=0; for group in $(MPI_GROUPS); do \
		echo "-- $$group"; \
		$(RUN_ENV) timeout -k 30 $(TEST_TIMEOUT) $(MPIRUN) -n $(NP) $(PY) -m mpi4py -m pytest $$group -q -m "not serial" \
			-p no:cacheprovider $(PYTEST_ARGS) || { c=$$?; [ $$c -eq 5 ] || rc=1; }; \
	done; exit $$rc

test-fast: venv
	$(RUN_ENV) $(PY) -m pytest tests -q -x $(PYTEST_ARGS)

# Tests marked `slow` (skipped by `make test`, see tests/conftest.py), distributed over NP ranks.
test-slow: venv
	$(RUN_ENV) timeout -k 30 $(TEST_TIMEOUT) $(MPIRUN) -n $(NP) $(PY) -m mpi4py -m pytest tests -q -m "slow and not serial" --run-slow -p no:cacheprovider $(PYTEST_ARGS)

# FiPy (phase-field peer) is in pyproject's `bench` extra (pinned in constraints.txt); installed once per change.
$(VENV)/.fe2-bench: pyproject.toml constraints.txt | venv
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[bench]"
	@touch $@

bench: venv $(VENV)/.fe2-bench
	@if [ -f bench/run.py ]; then \
		$(RUN_ENV) $(PY) bench/run.py $(BENCH_ARGS); \
	else \
		echo "bench/run.py does not exist yet: nothing to run"; \
	fi

# mkdocs is in pyproject's `docs` extra (pinned in constraints.txt); installed once per change.
$(VENV)/.fe2-docs: pyproject.toml constraints.txt | venv
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[docs]"
	@touch $@

docs: venv $(VENV)/.fe2-docs
	$(VENV)/bin/mkdocs build --strict -d site

docs-serve: venv $(VENV)/.fe2-docs
	$(VENV)/bin/mkdocs serve

docker:
	docker build -f docker/Dockerfile -t fe2 .

clean:
	rm -rf out site build .pytest_cache .ruff_cache .mypy_cache
	find . -path ./$(VENV) -prune -o -path './.venv-*' -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
