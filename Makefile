# The two commands (see README.md):
#   make run   - create .venv, install kgqa, index the bundled world KB and show what it knows
#   make test  - install the test extras into .venv and run the whole suite (starts its own Bolt server)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
KB ?= kb

.PHONY: run test lint install install-test bench world clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'

run: install
	$(BIN)/kgqa index data/world.nt --kb $(KB)
	$(BIN)/kgqa stats --kb $(KB)
	$(BIN)/kgqa neighbors France --kb $(KB) --direction out --limit 12
	$(BIN)/kgqa ask "What is the capital of France?" --kb $(KB)

test: install-test
	$(BIN)/ruff check kg retrieval model pipeline tests bench data
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: install-test
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/retrieval.py
	if [ -f bench/models.py ]; then $(BIN)/python bench/models.py; fi
	$(BIN)/python bench/eval.py

world: install-test
	$(BIN)/python data/build_world.py --out data/world.nt

clean:
	rm -rf $(KB) .pytest_cache
