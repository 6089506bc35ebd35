# wagtail-member-access: developer entry points. GNU make.
#
#   make demo    run the example site on http://127.0.0.1:8000/ (SQLite, demo data)
#   make test    the whole test suite (pass pytest options with ARGS="-k unlock -x")
#   make lint    ruff, formatting and missing migrations
#   make bench   the benchmarks in tests/benchmarks/
#   make docs    build the documentation (mkdocs-material, strict) into site/

PY ?= python3
VENV = .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed
MANAGE = $(BIN)/python example_site/manage.py
ARGS ?=

.PHONY: venv install demo test lint bench docs clean-demo

venv install: $(STAMP)

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Re-install only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[testing]'
	touch $@

demo: $(STAMP)
	$(MANAGE) migrate --noinput
	$(MANAGE) seed_demo
	@echo
	@echo "Admin:          http://127.0.0.1:8000/admin/ (admin / admin)"
	@echo "Protected page: http://127.0.0.1:8000/course-a-lesson-1/"
	@echo "Buyer email:    buyer@example.com (the code is printed below and in the outbox)"
	@echo "Members only:   http://127.0.0.1:8000/library/ (sign in as buyer@example.com)"
	@echo "Access lists:   http://127.0.0.1:8000/admin/member-access/lists/"
	@echo "Demo outbox:    http://127.0.0.1:8000/outbox/"
	@echo
	$(MANAGE) runserver 127.0.0.1:8000

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
