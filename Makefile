# polyhpc: the two commands of the README live here.
#   make run   - set up a virtual environment and run the main job
#   make test  - set up a virtual environment and run the test suite
PYTHON ?= python3
VENV ?= .venv
# On the project machines torch==2.13.0 is a CPU wheel on local disk; cluster
# users with CUDA install their own torch first (see README) and pass TORCH=.
TORCH ?= torch==2.13.0
POLYHPC_DATA ?= $(abspath ../shared/data)
export POLYHPC_DATA
BIN := $(VENV)/bin

.PHONY: setup run test lint clean

$(BIN)/.polyhpc-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(if $(TORCH),$(BIN)/pip install --quiet "$(TORCH)")
	$(BIN)/pip install --quiet -e ".[md,test]"
	touch $@

setup: $(BIN)/.polyhpc-installed

run: setup
	$(BIN)/polyhpc data info htpmd-train
	$(BIN)/polyhpc smiles canonical '*OCCOCC*' '*COC*' '*CC(C)O*' '*OC(C)C*' '*c1ccc(cc1)-c1ccc(*)cc1'
	$(BIN)/polyhpc smiles polymerize '*OCC*' '*CC(COC)O*'
	$(BIN)/polyhpc analyze $(POLYHPC_DATA)/trajectories/htpmd-9-0-246295613-0 --plot --save --out runs/analysis

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check polyhpc tests analysis

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
