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
                 tests/test_efficiency.py tests/test_cli_check.py tests/test_view_statistics.py tests/test_baselines.py
KERNELS ?= Haswell Sandybridge Prescott

.PHONY: demo test test-all test-slow test-kernels lint time-test install clean gpu-check gpu-data gpu-dry-run

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

# GPU check (README, "GPU check"): `make gpu-data` copies MNIST into the ignored .data/mnist, where the
# check looks, so that it travels with the working tree; `make gpu-check` runs the staged check on a
# CUDA machine (python3 there: no virtualenv travels); `make gpu-dry-run` runs it on the CPU.
GPU_PYTHON ?= python3
GPU_OUT    ?= gpu-out
MNIST_SRC  ?= $(shell PYTHONPATH=. $(firstword $(wildcard $(BIN)/python) $(PYTHON)) -c "from ssltheory.ssl.data import default_data_dir; print(default_data_dir('mnist') or '')" 2>/dev/null)
gpu-data:
	@test -n "$(MNIST_SRC)" || { echo "gpu-data: no MNIST folder found; run with MNIST_SRC=<folder of idx files>"; exit 2; }
	mkdir -p .data/mnist && cp $(MNIST_SRC)/*-ubyte* .data/mnist/

gpu-check:
	PYTHONPATH=$(CURDIR) $(GPU_PYTHON) -m ssltheory.benchmarks.gpu_check --out $(GPU_OUT)

gpu-dry-run: $(STAMP)
	$(BIN)/python -m ssltheory.benchmarks.gpu_check --dry-run --out $(GPU_OUT)

clean:
	rm -rf $(VENV) build *.egg-info
