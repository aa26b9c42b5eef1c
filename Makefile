# make demo: the main job.  make test: the whole suite.
# Both create ./.venv on first use and install the package with the pinned versions of constraints.txt.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.ssltheory-installed

.PHONY: demo test install clean gpu-check

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt torch==2.13.0 -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ssltheory demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# On a machine with one CUDA GPU (a CUDA build of torch in $(GPU_PYTHON)'s environment), no internet:
# trains, probes and scores CISSL and DISSL, runs `bench --only gpu`, writes benchmarks/GPU_RESULTS.*.
GPU_PYTHON ?= $(BIN)/python
gpu-check:
	$(GPU_PYTHON) -m ssltheory.benchmarks.gpu_check

clean:
	rm -rf $(VENV) build *.egg-info
