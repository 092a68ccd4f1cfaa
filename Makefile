# The two commands a newcomer runs: `make run` and `make test`. Both create and reuse .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))
HOST ?= 127.0.0.1
PORT ?= 8000
# Debian packages the app needs at run time: gettext (the catalogues), and Pango, HarfBuzz and
# an Arabic font for WeasyPrint's printed manifests (Arabic shaped and right to left).
SYSTEM_PACKAGES := gettext libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
	fonts-hosny-amiri fonts-dejavu-core
SYSTEM_STAMP := $(VENV)/.system-packages-stamp
# Hashed, compressed copies of every asset, served by WhiteNoise from var/static.
STATIC_MANIFEST := var/static/staticfiles.json
STATIC_SOURCES := $(shell find casetracker patients batches -path '*/static/*' -type f 2>/dev/null)

.PHONY: run serve test setup static weight lint format check lock makemessages clean
.PHONY: bench

run: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

# As production runs it, on PostgreSQL and Redis (DATABASE_URL and REDIS_URL must be set):
# migrations, static files, then gunicorn, a Celery worker and beat; Ctrl-C stops all three.
# The script collects the static files itself, as a deployment does.
serve: $(SYSTEM_STAMP) $(STAMP) $(MO_FILES)
	GUNICORN_BIND="$(HOST):$(PORT)" $(BIN)/python scripts/serve

test: setup check
	$(BIN)/pytest $(PYTEST_ARGS)

# Seeds PostgreSQL at SCALE times ten times the real backlog (default 1.0), serves it as
# production does and measures every endpoint beside a bare DRF view; results in bench/results/.
# BENCH_DATABASE_URL and BENCH_REDIS_URL (defaults: local casetracker_bench and Redis db 2);
# QUICK=1 for a short shake-out run, e.g. `make bench SCALE=0.01 QUICK=1`.
bench: setup
	SCALE="$(SCALE)" QUICK="$(QUICK)" $(BIN)/python scripts/bench

# Bytes on the wire of every field page, cold and warm, against the 60 KB / 10 KB budgets.
weight: setup
	./scripts/page-weight

setup: $(SYSTEM_STAMP) $(STAMP) $(MO_FILES) $(STATIC_MANIFEST)

static: $(STATIC_MANIFEST)

$(SYSTEM_STAMP): Makefile
	./scripts/install-system-packages $(SYSTEM_PACKAGES)
	mkdir -p $(VENV) && touch $@

$(STATIC_MANIFEST): $(STAMP) $(STATIC_SOURCES)
	$(BIN)/python manage.py collectstatic --noinput -v 0

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --requirement requirements.lock
	touch $@

# requirements.lock pins what pyproject.toml declares (runtime and dev); refresh it after a change.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet '.[dev]'
	.venv-lock/bin/pip freeze --exclude casetracker > requirements.lock
	rm -rf .venv-lock build *.egg-info

# Arabic and English texts; gettext's msgfmt comes from Debian's gettext package.
%.mo: %.po $(SYSTEM_STAMP)
	msgfmt --check-format -o $@ $<

makemessages: setup
	$(BIN)/python manage.py makemessages -l ar --no-obsolete --ignore=.venv --ignore=var --ignore=tests

FERNET_KEY = from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())
check: setup
	$(BIN)/python manage.py check
	# Production settings must pass Django's deployment checks (HTTPS, cookies, HSTS, key).
	DJANGO_PRODUCTION=true DJANGO_ALLOWED_HOSTS=casetracker.example.org \
	  DJANGO_SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	  FIELD_ENCRYPTION_KEYS="$$($(BIN)/python -c "$(FERNET_KEY)")" FIELD_HASH_KEY="$$($(BIN)/python -c "$(FERNET_KEY)")" \
	  AUDIT_TEXT_KEY="$$($(BIN)/python -c "$(FERNET_KEY)")" \
	  $(BIN)/python manage.py check --deploy --fail-level WARNING
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lint: check

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) casetracker.sqlite3* .test-db.sqlite3* .pytest_cache .hypothesis
