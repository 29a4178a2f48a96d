# The README's two commands: `make demo` and `make test`. Both create .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= dev,plot,bench,tune,serve

.PHONY: demo test lint format bench bench-deep bench-serve soak tables install clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip -c constraints.txt
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m shoprec.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench bench-deep bench-serve: export SHOPREC_DATA_DIR ?= $(abspath $(wildcard ../shared/data))

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all foundation

bench-deep: $(STAMP)
	$(BIN)/python -m benchmarks.run_all deep

bench-serve: $(STAMP)
	$(BIN)/python -m benchmarks.run_all serve

# Not part of `make test`: a real server under mixed load for 30 minutes (docs/serving/performance.md#soak).
soak: $(STAMP)
	$(BIN)/python -m benchmarks.soak

# README.md and docs/ results tables, regenerated from the committed benchmarks/results/ files.
tables: $(STAMP)
	$(BIN)/python -m benchmarks.tables

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache runs
