# wagtail-member-access: developer entry points. GNU make.
#
#   make demo    run the example site on http://127.0.0.1:8000/ (SQLite, demo data);
#                `make demo PORT=8123` (or PORT in the environment) serves on another port
#   make test    the whole test suite (pass pytest options with ARGS="-k unlock -x")
#   make lint    ruff, formatting and missing migrations
#   make bench   the benchmarks in tests/benchmarks/
#   make docs    build the documentation (mkdocs-material, strict) into site/
#   make messages  refresh the German catalogue from the source and compile it
#
# Another Python: PY selects the interpreter, each in its own virtualenv, so the default .venv
# is left alone. `make test PY=python3.13` installs into .venv-3.13 (the newest Django for that
# Python: 6.1 on 3.12/3.13, 5.2 on 3.11) and runs the suite there; any target takes PY.
# PY=python3.X is found on PATH, or else in pyenv (`pyenv root`/versions/3.X*), since pyenv's
# shim for a version that is installed but not selected does not run.

PY ?= python3
PYENV_ROOT ?= $(or $(shell pyenv root 2>/dev/null),$(HOME)/.pyenv)
PYTHON := $(shell if $(PY) -c '' >/dev/null 2>&1; then command -v $(PY); else \
	ls -d $(PYENV_ROOT)/versions/$(patsubst python%,%,$(notdir $(PY)))*/bin/$(notdir $(PY)) \
	2>/dev/null | sort -V | tail -n 1; fi)
ifeq ($(PYTHON),)
$(error No $(PY) on PATH or in $(PYENV_ROOT)/versions: install it, or set PY to its path)
endif
ifeq ($(PY),python3)
VENV = .venv
else
VENV = .venv-$(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
endif
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed
MANAGE = DEMO_PORT=$(PORT) $(BIN)/python example_site/manage.py
ARGS ?=
# The demo's port: the seeded Site and WAGTAILADMIN_BASE_URL use it, so emailed links do too.
PORT ?= 8000

.PHONY: venv install demo test lint bench docs clean-demo messages

venv install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[testing]'
	touch $@

demo: $(STAMP)
	$(MANAGE) migrate --noinput
	$(MANAGE) seed_demo
	@echo
	@echo "Admin:          http://127.0.0.1:$(PORT)/admin/ (admin / admin)"
	@echo "Protected page: http://127.0.0.1:$(PORT)/course-a-lesson-1/"
	@echo "Buyer email:    buyer@example.com (the code is printed below and in the outbox)"
	@echo "Members only:   http://127.0.0.1:$(PORT)/library/ (sign in as buyer@example.com)"
	@echo "Access lists:   http://127.0.0.1:$(PORT)/admin/member-access/lists/"
	@echo "Demo outbox:    http://127.0.0.1:$(PORT)/outbox/"
	@echo
	$(MANAGE) runserver 127.0.0.1:$(PORT)

# Forget the demo's database and sent emails; `make demo` then starts from scratch.
clean-demo:
	rm -rf example_site/db.sqlite3 example_site/outbox example_site/media

test: $(STAMP)
	$(BIN)/pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python -m django makemigrations --check --dry-run
	PYTHONPATH=example_site DJANGO_SETTINGS_MODULE=demo.settings DATABASE_URL=sqlite://:memory: \
		$(BIN)/python -m django makemigrations --check --dry-run

# pyproject's addopts ignore tests/benchmarks (so `make test` stays fast): replace them here.
bench: $(STAMP)
	$(BIN)/python -m pytest tests/benchmarks -q -s -p no:cacheprovider \
		-o addopts="-ra --strict-markers" $(ARGS)

# Every warning (a broken link, a page missing from the nav) fails the build.
docs: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[docs]'
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# Refresh the German catalogue (no source locations, so that branches merge cleanly), refuse
# fuzzy entries (a guessed translation is worse than none) and compile it.
messages: $(STAMP)
	cd wagtail_member_access && PYTHONPATH=.. DJANGO_SETTINGS_MODULE=tests.settings \
		../$(BIN)/django-admin makemessages -l de --no-location --no-obsolete
	@! grep -n '^#, fuzzy' wagtail_member_access/locale/de/LC_MESSAGES/django.po \
		|| (echo "fuzzy entries above: translate them and remove the fuzzy flag"; exit 1)
	msgfmt --check -o wagtail_member_access/locale/de/LC_MESSAGES/django.mo \
		wagtail_member_access/locale/de/LC_MESSAGES/django.po
