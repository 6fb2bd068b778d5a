# `make run` serves the product on its embedded default; `make test` runs every test.
# Both install what they need first: a virtualenv in .venv and the npm packages.
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
VENDOR := pomodoro/static/vendor

.PHONY: run test install browser

PORT ?= 5000

# One gunicorn process with gevent: the embedded default keeps its clock and its sockets in one process.
run: $(BIN)/.runtime $(VENDOR)/.copied
	$(BIN)/flask --app wsgi db upgrade
	exec $(BIN)/gunicorn --worker-class gevent --workers 1 --worker-connections 1000 --graceful-timeout 1 \
		--bind 127.0.0.1:$(PORT) --access-logfile - wsgi:app

# Two pytest-xdist workers: the tests that start processes or Chromium take turns on one
# (tests/conftest.py), the in-process tests share the other.
test: $(BIN)/.dev $(VENDOR)/.copied browser
	$(BIN)/pytest -n 2 --durations=20 $(PYTEST_ARGS)

install: $(BIN)/.dev $(VENDOR)/.copied

$(BIN)/.runtime: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(BIN)/.dev: $(BIN)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Third-party browser files come from npm at install time: `npm ci` copies them into static/vendor.
$(VENDOR)/.copied: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The browser tests drive Debian's Chromium (Playwright cannot download its own here).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	test -x /usr/bin/chromium || ($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)
