"""The column template: downloadable as CSV and XLSX in English or Arabic, and read back by the
import whichever language its headers are in."""

import io

import pytest

from patients.imports.reading import open_table
from patients.imports.rows import Layout, parse_date
from patients.imports.template import columns, template_csv, template_xlsx


@pytest.mark.parametrize("language", ["en", "ar"])
@pytest.mark.parametrize(("build", "name"), [(template_csv, "t.csv"), (template_xlsx, "t.xlsx")])
def test_template_headers_are_read_back(build, name, language, coordinator):
    table = open_table(io.BytesIO(build(language)), name=name)
    layout = Layout(table.headers, actor=coordinator)
    assert [c.key for c in layout.columns] == [c.key for c in columns()]
    assert list(table.rows) == []


def test_template_has_every_companion_the_setting_allows(settings):
    settings.MAX_COMPANIONS_PER_PATIENT = 3
    keys = [c.key for c in columns()]
    assert "companion3_name_latin" in keys and "companion4_name_latin" not in keys


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-02-04", (2026, 2, 4)),
        ("04/02/2026", (2026, 2, 4)),
        ("4/2/2026", (2026, 2, 4)),
        ("04.02.2026", (2026, 2, 4)),
        ("04-02-2026", (2026, 2, 4)),
        ("٠٤/٠٢/٢٠٢٦", (2026, 2, 4)),
        ("13/02/2026", (2026, 2, 13)),
    ],
)
def test_dates_are_read_day_first(text, expected):
    assert parse_date(text).timetuple()[:3] == expected


@pytest.mark.parametrize("text", ["02/13/2026", "04/02/26", "2026/02/04", "Feb 4 2026", "0"])
def test_other_date_spellings_are_refused(text):
    with pytest.raises(ValueError):
        parse_date(text)
