# The two commands of the README: `make run` and `make test`. Each creates .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run demo bench test lint typecheck chromium clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

test: $(BIN)/.installed lint typecheck chromium
	$(BIN)/pytest

# Benchmarks print figures, never assert times (docs/performance.md). `make bench` runs the
# Temporal baseline; `make bench BENCH=intake ARGS="--concurrency 1 4"` runs bench/intake.py
# (also open_claims, profile; ARGS=--help lists a script's options).
BENCH ?= baseline
bench: $(BIN)/.installed
	$(BIN)/python -m bench.$(BENCH) $(ARGS)

# The browser tests drive Debian's chromium (never a downloaded browser); as root it is installed.
chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		{ echo "The browser tests need Debian's chromium: sudo apt-get install chromium"; exit 1; }

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
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

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
