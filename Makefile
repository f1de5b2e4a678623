# The two front-door commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-chaos lint bench install clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) manage.py standalone

# Installs Chromium and starts PostgreSQL and Redis when they are missing (see the script).
test: $(STAMP)
	scripts/test-prerequisites
	$(PY) -m pytest -n $${PYTEST_WORKERS:-2} --dist loadgroup $(PYTEST_ARGS)

# Faults injected into a whole running system (tests/chaos/); its own Postgres and Redis.
test-chaos: $(STAMP)
	scripts/test-prerequisites
	$(PY) -m pytest -m chaos tests/chaos -s $(PYTEST_ARGS)

# ruff, then the import layers of apps/ (DESIGN §1: no loops, one way down; known
# violations are listed in scripts/import_layers_baseline.txt, which only shrinks).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) scripts/check_import_layers.py

bench: $(STAMP)
	@for f in bench/engine.py bench/logs.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
