# Two commands do everything on a fresh machine:
#   make demo   create .venv if missing, then diagnose → repair → report on real MNIST digits
#   make test   create .venv if missing, then run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= runs/demo
SEED ?= 0

.PHONY: demo quick test lint clean

$(BIN)/remedy: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,hf]' || echo "the hf extra did not install: the text-task tests are skipped"
	touch $@

demo: $(BIN)/remedy
	$(BIN)/remedy demo --out $(OUT) --seed $(SEED)

quick: $(BIN)/remedy
	$(BIN)/remedy demo --quick --out runs/quick --seed $(SEED)

test: $(BIN)/remedy
	$(BIN)/python -m pytest -q

lint: $(BIN)/remedy
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) runs
