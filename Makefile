# cxlab — the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.PHONY: venv demo test lint notebooks bench chromium postgres clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml constraints.txt
	$(PIP) install --quiet -c constraints.txt -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (cxlab)" >/dev/null
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)  ## create .venv and install cxlab with the dev extras (pinned)

demo: $(STAMP)  ## run the whole workbench on the embedded sample and print where the report is
	$(VENV)/bin/cxlab demo

chromium:  ## headless Chromium for the offline-HTML browser test (Debian package; needs root)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; the browser test will be skipped"; \
	  else echo "note: chromium not installed (not root); the browser test will be skipped"; fi; }

postgres:  ## PostgreSQL server binaries for the engine tests (Debian package; needs root)
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
	      || echo "warning: could not install postgresql; the PostgreSQL engine tests will be skipped"; \
	  else echo "note: postgresql not installed (not root); the PostgreSQL engine tests will be skipped"; fi; }

lint: $(STAMP)  ## ruff over code, tests, benchmarks and notebooks + the import-graph contract
	$(VENV)/bin/ruff check cxlab tests benchmarks notebooks
	$(VENV)/bin/lint-imports

test: $(STAMP) chromium postgres  ## ruff + import contract + pytest (unit, doctest, end-to-end; coverage) + nbval over notebooks/
	$(VENV)/bin/ruff check cxlab tests benchmarks notebooks
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q tests cxlab --cov=cxlab --cov-report=term:skip-covered
	$(PY) -m pytest -q --nbval notebooks/ --nbval-sanitize-with notebooks/nbval_sanitize.cfg -p no:cacheprovider

notebooks: $(STAMP)  ## re-execute notebooks/ in place on the sample (commit the outputs)
	$(PY) -c "from cxlab.pipeline import make_notebooks; make_notebooks()"

bench: $(STAMP)  ## speed targets, printed as ratios
	for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
