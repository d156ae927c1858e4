# The two commands of the README: `make run` and `make test`. Each creates .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run demo bench test lint typecheck chromium clean temporal

# Two installs, each with its stamp: `make run` and `make demo` install the program's runtime
# dependencies only; `make test`, `make bench`, lint and typecheck add the `dev` extra.
$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(BIN)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(BIN)/.installed-dev: pyproject.toml $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# Two test processes (pytest-xdist), each with its own servers: most tests wait on a server, a
# timer or a subprocess, so two share these two cores well. TEST_WORKERS=0 runs them in one.
TEST_WORKERS ?= 2
test: $(BIN)/.installed-dev lint typecheck chromium
	$(BIN)/pytest --numprocesses=$(TEST_WORKERS) --dist=worksteal

# Benchmarks print figures, never assert times (docs/performance.md). `make bench` runs the
# Temporal baseline; `make bench BENCH=intake ARGS="--concurrency 1 4"` runs bench/intake.py
# (also open_claims, profile; ARGS=--help lists a script's options).
BENCH ?= baseline
bench: $(BIN)/.installed-dev
	$(BIN)/python -m bench.$(BENCH) $(ARGS)

# The browser tests drive Debian's chromium (never a downloaded browser); as root it is installed.
chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		{ echo "The browser tests need Debian's chromium: sudo apt-get install chromium"; exit 1; }

lint: $(BIN)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed-dev
	$(BIN)/mypy

# Mutation testing of the pure rules (docs/testing.md): mutmut changes cashback/domain/ one
# mutant at a time and runs the domain tests; prints each module's score and the survivors.
# Nightly, not part of `make test`. One module: `make mutation MUTANTS='cashback.domain.money*'`.
MUTANTS ?=
.PHONY: mutation
mutation: $(BIN)/.installed
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2 $(MUTANTS) >/dev/null || true
	$(BIN)/python -m tests.mutation_report

run: $(BIN)/.installed
	$(BIN)/python -m cashback.run $(ARGS)

# The program with a day lasting ten seconds and demo claims on their way (data in var/demo).
demo: $(BIN)/.installed
	$(BIN)/python -m cashback.run --demo $(ARGS)

# The bundled temporal CLI, signed in with the codec (docs/operators.md): OPERATOR=you@... ARGS=...
temporal: $(BIN)/.installed
	$(BIN)/python -m api.cli temporal $(if $(OPERATOR),--operator $(OPERATOR)) $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
