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

.PHONY: setup run tour test lint docs clean

$(BIN)/.polyhpc-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(if $(TORCH),$(BIN)/pip install --quiet "$(TORCH)")
	$(BIN)/pip install --quiet -e ".[md,test]"
	touch $@

setup: $(BIN)/.polyhpc-installed

# The main job: the paper's discovery loop at laptop scale (workflows/campaign-laptop.yaml):
# two iterations of generator training, sampling, the surrogate's pre-screen, smoke-length MD
# of the best picks and PEO in real LAMMPS through Parsl, feedback, then the report. Rerunning
# continues the campaign in runs/campaign-laptop (a finished task never runs twice).
run: setup
	$(BIN)/polyhpc campaign run laptop --dir runs/campaign-laptop
	$(BIN)/polyhpc campaign report runs/campaign-laptop

# A tour of the single stages: data, chemistry, analysis of a real HTP-MD trajectory, MD
# replicas of PEO built from its SMILES, a smoke generator and the surrogate's pre-screen.
# The trajectory is an excerpt of an HTP-MD run that the data registry cannot download: without
# it in $(POLYHPC_DATA) that one step is skipped, saying so, and the tour goes on.
TOUR_TRAJECTORY = $(POLYHPC_DATA)/trajectories/htpmd-9-0-246295613-0
tour: setup
	$(BIN)/polyhpc data info htpmd-train
	$(BIN)/polyhpc smiles canonical '*OCCOCC*' '*COC*' '*CC(C)O*' '*OC(C)C*' '*c1ccc(cc1)-c1ccc(*)cc1'
	$(BIN)/polyhpc smiles polymerize '*OCC*' '*CC(COC)O*'
	$(BIN)/polyhpc md types '*OCC*'
	@if [ -f "$(TOUR_TRAJECTORY)/traj.lammpstrj" ]; then \
	  echo '$(BIN)/polyhpc analyze $(TOUR_TRAJECTORY) --plot --save --out runs/analysis'; \
	  $(BIN)/polyhpc analyze "$(TOUR_TRAJECTORY)" --plot --save --out runs/analysis; \
	else \
	  echo "make tour: skipping the analysis of the HTP-MD reference trajectory: $(TOUR_TRAJECTORY)" \
	       "is not there (it comes with the reference data folder, not from the data registry;" \
	       "see README, Data); pass POLYHPC_DATA=FOLDER to use yours"; \
	fi
	$(BIN)/polyhpc md replicas '*CCO*' -n 2 --profile smoke --threads 1 --out runs/md-replicas
	$(BIN)/polyhpc md plot runs/md-replicas/rep0
	$(BIN)/polyhpc analyze runs/md-replicas/rep0 runs/md-replicas/rep1 --save --out runs/md-replicas/analysis
	$(BIN)/polyhpc generate train --config workflows/generator-smoke.yaml --out runs/generator/model.pt $(if $(wildcard runs/generator/model.pt),--resume)
	$(BIN)/polyhpc generate sample runs/generator/model.pt -n 20 --max-tokens 0 --temperature 1.2 --max-draws 20000 --out runs/generator/candidates.csv
	$(BIN)/polyhpc surrogate train --out runs/surrogate/model.npz
	$(BIN)/polyhpc surrogate select runs/surrogate/model.npz --file runs/generator/candidates.csv -k 5

test: setup
	$(BIN)/python -m pytest -q

# The documentation (docs/, Sphinx) as CI builds it: offline, every warning an error.
DOCS_OUT ?= build/docs
$(BIN)/.polyhpc-docs-installed: pyproject.toml $(BIN)/.polyhpc-installed
	$(BIN)/pip install --quiet -e ".[md,test,docs]"
	touch $@

docs: $(BIN)/.polyhpc-docs-installed
	$(BIN)/sphinx-build -W --keep-going -q -b html -d $(DOCS_OUT)/doctrees docs $(DOCS_OUT)/html
	@echo "documentation: $(DOCS_OUT)/html/index.html"

lint: setup
	$(BIN)/ruff check polyhpc tests analysis workflows

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
