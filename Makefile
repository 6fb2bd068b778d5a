# `make run` serves the product on its embedded default; `make test` runs every test.
# Both install what they need first: a virtualenv in .venv and the npm packages.
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
VENDOR := pomodoro/static/vendor

.PHONY: run test install browser

run: $(BIN)/.runtime $(VENDOR)/.copied
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi run

test: $(BIN)/.dev $(VENDOR)/.copied browser
	$(BIN)/pytest $(PYTEST_ARGS)

install: $(BIN)/.dev $(VENDOR)/.copied

$(BIN)/.runtime: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(BIN)/.dev: $(BIN)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Third-party browser files come from npm at install time and are served from static/vendor.
$(VENDOR)/.copied: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)/swagger-ui $(VENDOR)/htmx
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/swagger-ui/
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx/
	touch $@

# The browser tests drive Debian's Chromium (Playwright cannot download its own here).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	test -x /usr/bin/chromium || ($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)
