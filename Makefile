# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DIALFUNNEL_DATA_DIR ?= $(CURDIR)/var
# Debian packages: PDFs with Chinese text, audio (prompts, recordings), faxes (Ghostscript,
# libtiff's tiffcp for the simulator's received faxes); the tests also drive
# Chromium, read PDFs back, check the provisioning script and run PgBouncer (PostgreSQL pass).
RUN_DEPS := libpango-1.0-0 libpangoft2-1.0-0 fonts-wqy-microhei ffmpeg sox espeak-ng ghostscript libtiff-tools
TEST_DEPS := $(RUN_DEPS) chromium poppler-utils shellcheck pgbouncer

.PHONY: demo test test-db test-deps venv clean

$(BIN)/python:
	./scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

## Install, create the SQLite database with demo data, start everything.
demo: venv
	./scripts/system-deps.sh $(RUN_DEPS)
	$(BIN)/dialfunnel run --demo

## Install what the tests need and run the whole suite (SQLite).
test: venv
	./scripts/system-deps.sh $(TEST_DEPS)
	./scripts/run-tests.sh $(BIN)/python --durations=25

## The system packages the tests need (make test installs them too).
test-deps:
	./scripts/system-deps.sh $(TEST_DEPS)

## The database tests again, on the database in DIALFUNNEL_TEST_DATABASE_URL (two halves side
## by side when DIALFUNNEL_TEST_DATABASE_URL2 names a second one).
test-db: venv
	./scripts/system-deps.sh $(TEST_DEPS)
	./scripts/run-tests.sh $(BIN)/python -m db --durations=25

clean:
	rm -rf $(VENV) var *.egg-info
