"""The README's Production section names only environment variables the code reads: an
operator who sets a misspelt or invented name changes nothing and is told nothing."""

import re

from django.conf import settings

# `DATABASE_URL`, `DB_STATEMENT_TIMEOUT_MS`: capitals with at least one underscore, in
# backquotes. The section's SQL keywords and PostgreSQL or Redis settings do not look so.
ENV_NAME = re.compile(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`")


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _read_from_environment(name: str) -> bool:
    """Read by the settings (`env.int("NAME", ...)`) or by the gunicorn configuration."""
    read = re.compile(rf'env\.\w+\(\s*"{name}"')
    if read.search((settings.BASE_DIR / "casetracker" / "settings.py").read_text()):
        return True
    gunicorn = settings.BASE_DIR / "casetracker" / "gunicorn.conf.py"
    return gunicorn.exists() and f'"{name}"' in gunicorn.read_text()


def test_readme_production_names_only_variables_the_code_reads():
    section = _section((settings.BASE_DIR / "README.md").read_text(), "Production")
    names = set(ENV_NAME.findall(section))
    assert {"DATABASE_URL", "REDIS_URL", "AUDIT_TEXT_KEY", "DJANGO_SECRET_KEY"} <= names
    assert sorted(name for name in names if not _read_from_environment(name)) == []
