# Shop Portal — `make run` serves the portal with one job consumer, `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
WORKERS ?= 2
THREADS ?= 4
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: run worker test migrate translations extract-messages demo screenshots bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $(VENV)/.runtime $@

# Compiled catalogs (.mo) are build products, not tracked.
translations: $(VENV)/.runtime
	$(BIN)/pybabel compile -d portal/translations

migrate: $(VENV)/.runtime translations
	$(BIN)/flask --app wsgi db upgrade

# The portal (gunicorn) and one job consumer, in one command: Ctrl-C stops both (portal/serve.py).
run: migrate
	MALLOC_ARENA_MAX=2 $(BIN)/python -m portal.serve --host $(HOST) --port $(PORT) --workers $(WORKERS) --threads $(THREADS)

# One more job consumer (with REDIS_URL: on any machine sharing the database and Redis; README).
worker: migrate
	MALLOC_ARENA_MAX=2 $(BIN)/python -m portal.serve worker

test: $(VENV)/.dev translations
	$(BIN)/python -m pytest

# The portal against a stand-in Amazon, with demo shops in every state (offline, own database).
demo: $(VENV)/.runtime translations
	$(BIN)/python -m devtools.demo --host $(HOST) --port $(PORT)

# The README's screenshots (docs/screenshot-shops*.png), desktop and phone, from the demo in Chromium.
screenshots: $(VENV)/.dev translations
	$(BIN)/python -m devtools.screenshots

# Benchmark at a large company's scale (bench/README.md); its tools are not product dependencies.
bench: $(VENV)/.runtime translations
	$(BIN)/python -m pip install -q -r requirements-bench.txt
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Refresh both message catalogs after adding strings; then translate the new zh entries (an en entry
# stays empty unless the source wording is not the final English).
extract-messages: $(VENV)/.runtime
	$(BIN)/pybabel extract -F babel.cfg --ignore-dirs='.* .venv node_modules bench tests' -k _l -k lazy_gettext \
		-o portal/translations/messages.pot .
	$(BIN)/pybabel update -N --ignore-obsolete -i portal/translations/messages.pot -d portal/translations

clean:
	rm -rf $(VENV) .pytest_cache
