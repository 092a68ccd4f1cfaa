"""The Arabic catalogue: complete, well-formed, and in step with the texts in the code.

The .po file is read with a small parser (no extra dependency). Keeping it in step with the code
needs gettext's xgettext (Debian's gettext package, installed by `make setup`): without it the
sync tests are skipped here and fail in CI."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from tests.conftest import _missing

BASE = Path(settings.BASE_DIR)
CATALOGUE = BASE / "locale" / "ar" / "LC_MESSAGES" / "django.po"
ARABIC_PLURALS = 6

# Python-format directives: named (%(ref)s) and positional (%s, %d); "%%" is a plain percent.
_NAMED = re.compile(r"%\((\w+)\)[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
_POSITIONAL = re.compile(r"%[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
# Markup inside a text (<bdi>…</bdi> in a blocktranslate) must survive translation.
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def _unquote(text: str) -> str:
    body = text.strip()[1:-1]
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(0)), body)


def parse_po(path: Path) -> list[dict]:
    """Entries of a .po file: msgctxt, msgid, msgid_plural, msgstr (a list: one item, or one per
    plural form), flags, line. The header (empty msgid) is the first entry; obsolete entries
    (#~) are left out."""
    entries, entry, field = [], None, None
    for number, line in enumerate([*path.read_text(encoding="utf-8").splitlines(), ""], 1):
        if not line.strip():
            if entry and "msgid" in entry:
                entries.append(entry)
            entry, field = None, None
            continue
        if entry is None:
            entry = {"flags": set(), "msgstr": {}, "line": number}
        if line.startswith("#~"):
            entry["obsolete"] = True
        elif line.startswith("#,"):
            entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif match := re.match(
            r'(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$', line
        ):
            keyword, index, text = match.groups()
            if keyword.startswith("msgstr"):
                field = ("msgstr", int(index or 0))
                entry["msgstr"][field[1]] = _unquote(text)
            else:
                field = keyword
                entry[keyword] = _unquote(text)
        elif line.startswith('"'):
            if isinstance(field, tuple):
                entry["msgstr"][field[1]] += _unquote(line)
            else:
                entry[field] += _unquote(line)
        else:
            raise ValueError(f"{path}:{number}: cannot read {line!r}")
    kept = [e for e in entries if not e.get("obsolete")]
    for e in kept:
        e["msgstr"] = [e["msgstr"][i] for i in sorted(e["msgstr"])]
    return kept


def _key(entry: dict) -> tuple[str | None, str]:
    return entry.get("msgctxt"), entry["msgid"]


def _placeholders(text: str, *, python_format: bool) -> set[str]:
    found = set(_NAMED.findall(text))
    if python_format:
        positional = _POSITIONAL.findall(_NAMED.sub("", text.replace("%%", "")))
        found |= {f"#{i}:{d}" for i, d in enumerate(positional)}
    return found


def _where(entry: dict) -> str:
    return f"line {entry['line']}: {entry['msgid'][:70]!r}"


@pytest.fixture(scope="module")
def catalogue() -> list[dict]:
    return parse_po(CATALOGUE)


def test_catalogue_header_declares_six_arabic_plural_forms(catalogue):
    header = catalogue[0]
    assert header["msgid"] == ""
    assert "Language: ar\n" in header["msgstr"][0]
    assert "Content-Type: text/plain; charset=UTF-8" in header["msgstr"][0]
    match = re.search(r"Plural-Forms:\s*nplurals=(\d+);\s*plural=([^;]+);", header["msgstr"][0])
    assert match and int(match.group(1)) == ARABIC_PLURALS, header["msgstr"][0]


def test_catalogue_every_entry_is_translated_and_none_is_fuzzy(catalogue):
    untranslated = [_where(e) for e in catalogue[1:] if not all(s.strip() for s in e["msgstr"])]
    fuzzy = [_where(e) for e in catalogue[1:] if "fuzzy" in e["flags"]]
    assert not untranslated, f"{len(untranslated)} untranslated: {untranslated[:20]}"
    assert not fuzzy, f"{len(fuzzy)} fuzzy (check, fix, then remove the flag): {fuzzy[:20]}"


def test_catalogue_plural_entries_have_six_forms(catalogue):
    wrong = [
        f"{_where(e)} has {len(e['msgstr'])} forms"
        for e in catalogue[1:]
        if "msgid_plural" in e and len(e["msgstr"]) != ARABIC_PLURALS
    ]
    singular_with_forms = [
        _where(e) for e in catalogue[1:] if "msgid_plural" not in e and len(e["msgstr"]) != 1
    ]
    assert not wrong, wrong
    assert not singular_with_forms, singular_with_forms


def test_catalogue_translations_keep_placeholders_and_markup(catalogue):
    problems = []
    for entry in catalogue[1:]:
        python_format = "python-format" in entry["flags"]
        sources = [entry["msgid"], entry.get("msgid_plural", entry["msgid"])]
        wanted = set().union(*(_placeholders(s, python_format=python_format) for s in sources))
        tags = sorted(_TAG.findall(entry.get("msgid_plural", entry["msgid"])))
        for form, text in enumerate(entry["msgstr"]):
            got = _placeholders(text, python_format=python_format)
            if got != wanted:
                problems.append(f"{_where(entry)} form {form}: {sorted(got)} != {sorted(wanted)}")
            if sorted(_TAG.findall(text)) != tags:
                problems.append(f"{_where(entry)} form {form}: markup changed")
    assert not problems, "\n".join(problems)


def test_catalogue_texts_for_users_have_no_known_mistranslation(catalogue):
    """The application's name in the back office once read "return (returnees)"."""
    by_key = {_key(e): e["msgstr"][0] for e in catalogue[1:]}
    assert by_key[(None, "Patients and returnees")] == "المرضى والعائدون"
    assert by_key[(None, "return (returnees)")] != by_key[(None, "Patients and returnees")]


# --- In step with the code ------------------------------------------------------------------

# What makemessages reads (its default extensions for the "django" domain), and what it skips.
_SOURCES = {".py", ".html", ".txt"}
_SKIPPED = {".venv", "var", "tests", ".git", "locale", "node_modules", "__pycache__"}


def _require_gettext(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            _missing(f"{tool} (Debian's gettext package)")


def _copy_sources(target: Path) -> None:
    """The files makemessages reads, without the project's own locale directory: extraction
    in a copy leaves the committed catalogue (and the shared working tree) untouched."""
    for folder, folders, files in os.walk(BASE):
        folders[:] = [f for f in folders if f not in _SKIPPED and not f.startswith(".")]
        relative = Path(folder).relative_to(BASE)
        for name in files:
            if Path(name).suffix in _SOURCES:
                (target / relative).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(folder) / name, target / relative / name)


def test_catalogue_holds_every_text_the_code_marks_for_translation(tmp_path, monkeypatch):
    """Extract the texts again (as `make makemessages` does) into a copy of the catalogue; every
    msgid found in the code must already be in the committed one."""
    _require_gettext("xgettext", "msgmerge", "msguniq")
    tree = tmp_path / "tree"
    _copy_sources(tree)
    copy = tree / "locale" / "ar" / "LC_MESSAGES" / "django.po"
    copy.parent.mkdir(parents=True)
    shutil.copyfile(CATALOGUE, copy)
    monkeypatch.chdir(tree)
    with override_settings(LOCALE_PATHS=[tree / "locale"]):
        call_command(
            "makemessages",
            locale=["ar"],
            no_obsolete=True,
            ignore_patterns=[".venv", "var", "tests"],
            verbosity=0,
        )
    committed = {_key(e) for e in parse_po(CATALOGUE)}
    extracted = parse_po(copy)
    missing = sorted(
        f"{e.get('msgctxt') or ''}|{e['msgid'][:80]}"
        for e in extracted[1:]
        if _key(e) not in committed
    )
    assert not missing, (
        f"{len(missing)} texts of the code are not in the Arabic catalogue; run "
        f"`make makemessages` and translate them: {missing[:30]}"
    )


def test_catalogue_compiles_with_format_checks(tmp_path):
    """What `make` runs to build the .mo: msgfmt refuses a translation whose placeholders do not
    match its msgid."""
    _require_gettext("msgfmt")
    msgfmt = shutil.which("msgfmt")
    result = subprocess.run(  # noqa: S603 (gettext's msgfmt on our own file, fixed arguments)
        [msgfmt, "--check-format", "-o", str(tmp_path / "django.mo"), str(CATALOGUE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
