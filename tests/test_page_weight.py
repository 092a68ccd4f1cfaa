"""Every field page within its weight budget (DESIGN section 5: under 60 KB on the wire on a
first visit with every asset, under 10 KB on a later one), measured over HTTP on the demo data
as `make weight` measures it. Sizes, not times: the same on any machine."""

import pytest

from batches.demo import ACCOUNTS, load_demo
from casetracker import weight


@pytest.fixture
def demo(transactional_db):
    load_demo()
    return {username: password for username, _r, _f, _l, password in ACCOUNTS}


def test_field_pages_within_budget(live_server, demo):
    weights = weight.walk(live_server.url, demo)
    names = {w.name.split(" (")[0] for w in weights}
    assert {"Today", "Queue", "Batch page", "Patient page", "Readiness"} <= names
    over = [(w.name, w.cold, w.warm) for w in weights if not w.within_budget]
    assert not over, weight.table(weights)


def test_field_pages_are_compressed_and_assets_cached_for_a_year(live_server, demo):
    browser = weight.Browser(live_server.url)
    browser.sign_in("coordinator", demo["coordinator"])
    page, _html = browser.weigh("Today", "today/")
    assert page.page.encoding == "gzip"
    assert page.assets, "the page loads its stylesheet"
    for asset in page.assets:
        assert asset.max_age >= 365 * 24 * 60 * 60, asset.url
        assert asset.encoding == "gzip" or asset.url.endswith(".svg"), asset.url
