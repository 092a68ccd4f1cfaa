# The two commands a newcomer runs: `make run` and `make test`. Both create and reuse .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup lint format check lock makemessages clean

run: setup
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: setup check
	$(BIN)/pytest $(PYTEST_ARGS)

setup: $(STAMP) $(MO_FILES)

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
%.mo: %.po
	@command -v msgfmt >/dev/null || ./scripts/install-system-packages gettext
	msgfmt --check-format -o $@ $<

makemessages: setup
	$(BIN)/python manage.py makemessages -l ar --no-obsolete --ignore=.venv

FERNET_KEY = from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())
check: setup
	$(BIN)/python manage.py check
	# Production settings must pass Django's deployment checks (HTTPS, cookies, HSTS, key).
	DJANGO_PRODUCTION=true DJANGO_ALLOWED_HOSTS=casetracker.example.org \
	  DJANGO_SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	  FIELD_ENCRYPTION_KEYS="$$($(BIN)/python -c "$(FERNET_KEY)")" FIELD_HASH_KEY="$$($(BIN)/python -c "$(FERNET_KEY)")" \
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
