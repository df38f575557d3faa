# The two commands: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
DEMO_CUSTOMERS ?= 2000
PYTEST_ARGS ?=
# Parallel by default; tests marked xdist_group share a worker (tests/conftest.py).
# `make test PYTEST_XDIST=` runs serially; PYTEST_ARGS adds to either.
PYTEST_XDIST ?= -n 3 --dist loadgroup

.PHONY: run test install lint bench chaos clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Stormdesk needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/stormdesk migrate
	$(BIN)/stormdesk seed --customers $(DEMO_CUSTOMERS) --if-empty
	$(BIN)/stormdesk agents demo
	HOST=$(HOST) PORT=$(PORT) $(BIN)/stormdesk serve

test: install
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_XDIST) $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# Fault drills on the production setup (local PostgreSQL + a Redis of their own); CHAOS=api_kill ... picks some.
chaos: install
	$(BIN)/python -m chaos $(CHAOS)

clean:
	rm -rf $(VENV) var .pytest_cache
