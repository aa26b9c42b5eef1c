# make demo: the main job.  make test: the fast suite (what CI and a developer run each time).
# make test-all: every test, the slow end-to-end checks included.  make test-slow: only those.
# make time-test: measure `make test` from a fresh clone (install included): the README's numbers.
# make lint: ruff's checks and its format check (CI runs it first).
# make test-kernels: the numeric test files again under each forced OpenBLAS kernel of KERNELS
# (numpy's and scipy's OpenBLAS pick a kernel per CPU; results must hold on every one of them).
# All create ./.venv on first use and install the package with the pinned versions of constraints.txt
# (--no-compile: Python compiles only the modules it imports, on first import, not all of torch).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.ssltheory-installed
PYTEST := $(BIN)/python -m pytest -q

NUMERIC_TESTS := tests/test_exact.py tests/test_geometry.py tests/test_conditions.py tests/test_metrics.py \
                 tests/test_efficiency.py tests/test_cli_check.py
KERNELS ?= Haswell Sandybridge Prescott

.PHONY: demo test test-all test-slow test-kernels lint time-test install clean gpu-check

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --no-compile -c constraints.txt torch==2.13.0 -e '.[test,testing,lint,lightning]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ssltheory demo

test: $(STAMP)
	$(PYTEST) -m "not slow"

test-all: $(STAMP)
	$(PYTEST)

test-slow: $(STAMP)
	$(PYTEST) -m slow

# The rules are in pyproject.toml ([tool.ruff]): pycodestyle, pyflakes, isort; lines of 120.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test-kernels: $(STAMP)
	@set -e; for kernel in $(KERNELS); do \
	    echo "OPENBLAS_CORETYPE=$$kernel"; \
	    OPENBLAS_CORETYPE=$$kernel $(PYTEST) -m "not slow" -p no:cacheprovider $(NUMERIC_TESTS); \
	done

time-test:
	bash .ci/time-make-test test

# On a machine with one CUDA GPU (a CUDA build of torch in $(GPU_PYTHON)'s environment), no internet:
# trains, probes and scores CISSL and DISSL, runs `bench --only gpu`, writes benchmarks/GPU_RESULTS.*.
GPU_PYTHON ?= $(BIN)/python
gpu-check:
	$(GPU_PYTHON) -m ssltheory.benchmarks.gpu_check

clean:
	rm -rf $(VENV) build *.egg-info
