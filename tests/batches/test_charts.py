"""Report charts are plain inline SVG: well-formed, escaped, mirrored for Arabic, deterministic."""

import xml.etree.ElementTree as ET

import pytest

from batches.reports.charts import Series, bar_chart, line_chart, nice_axis

NS = "{http://www.w3.org/2000/svg}"


def _svg(markup) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314 - our own output, not untrusted input


def _of_class(root, tag, cls):
    return [e for e in root.iter(NS + tag) if cls in (e.get("class") or "").split()]


def _bars(root):
    return _of_class(root, "rect", "bar")


def _texts(root, cls):
    return [t.text for t in _of_class(root, "text", cls)]


def _chart(**kwargs):
    args = {
        "title": "Agreed vs crossed",
        "categories": ["Mon", "Tue", "Wed", "Thu"],
        "series": [
            Series("Agreed quota", [5, 40, 0, 7], "agreed"),
            Series("Crossed", [4, None, 0, 6], "crossed"),
        ],
    }
    return bar_chart(**(args | kwargs))


def test_bar_chart_draws_one_bar_per_known_value():
    bars = _bars(_svg(_chart()))
    assert len(bars) == 7  # 4 x 2 values, one None
    assert [b.get("class") for b in bars].count("bar crossed") == 3


def test_bar_chart_bar_heights_are_proportional_to_values():
    bars = _bars(_svg(_chart()))
    five, forty = float(bars[0].get("height")), float(bars[1].get("height"))
    assert forty == pytest.approx(8 * five, rel=0.02)


def test_bar_chart_none_draws_no_bar_but_zero_draws_a_flat_one():
    root = _svg(_chart(categories=["a", "b", "c"], series=[Series("x", [None, 0, 3], "held")]))
    bars = _bars(root)
    assert len(bars) == 2
    assert float(bars[0].get("height")) == 0
    assert bars[0].find(NS + "title").text == "x - b: 0"


def test_bar_chart_y_axis_ends_on_a_nice_round_maximum():
    root = _svg(_chart())
    assert _texts(root, "tick") == ["0", "10", "20", "30", "40"]
    tallest = _bars(root)[1]
    top_grid = _of_class(root, "line", "grid")[-1]
    assert float(tallest.get("y")) == pytest.approx(float(top_grid.get("y1")))


@pytest.mark.parametrize(
    ("top", "integers", "expected"),
    [(40, True, (40, 10)), (41, True, (50, 10)), (7, True, (8, 2)), (1, True, (1, 1)),
     (0.37, False, (0.4, 0.1)), (100, False, (100, 20)), (2300, True, (2500, 500))],
)  # fmt: skip
def test_nice_axis_rounds_up_to_round_steps(top, integers, expected):
    axis_top, step = nice_axis(top, integers)
    assert (axis_top, step) == pytest.approx(expected)
    assert round(axis_top / step) <= 5  # at most 5 grid lines above zero


def test_bar_chart_rtl_mirrors_categories_axis_and_series():
    ltr, rtl = _svg(_chart()), _svg(_chart(rtl=True))
    assert rtl.get("direction") == "rtl"
    assert ltr.get("direction") == "ltr"

    def cat_x(root):
        return [float(t.get("x")) for t in _of_class(root, "text", "cat")]

    assert cat_x(ltr)[0] < cat_x(ltr)[-1]
    assert cat_x(rtl)[0] > cat_x(rtl)[-1]
    width = 720
    assert float(_of_class(ltr, "line", "axis-y")[0].get("x1")) < width / 2
    assert float(_of_class(rtl, "line", "axis-y")[0].get("x1")) > width / 2
    # Within a group, the first series comes first in reading order: on the right in RTL.
    agreed, crossed = _bars(rtl)[0], _bars(rtl)[4]
    assert float(agreed.get("x")) > float(crossed.get("x"))


def test_bar_chart_rtl_anchors_text_on_the_right():
    root = _svg(_chart(rtl=True))
    title = _of_class(root, "text", "title")[0]
    assert float(title.get("x")) > 600
    assert title.get("text-anchor") == "start"  # logical start is the right edge under rtl
    assert {t.get("text-anchor") for t in _of_class(root, "text", "tick")} == {"end"}


def test_bar_chart_escapes_markup_in_every_text():
    evil = "<script>alert(1)</script>"
    markup = str(
        bar_chart(
            title=evil,
            categories=[evil, "b"],
            series=[Series(evil, [1, 2], 'x" onload="alert(1)')],
            y_label=evil,
            desc=evil,
        )
    )
    assert "<script>" not in markup
    assert "&lt;script&gt;" in markup
    root = _svg(markup)
    assert all("onload" not in e.attrib for e in root.iter())
    assert root.find(NS + "title").text == evil
    assert evil in _texts(root, "cat")
    assert _texts(root, "legend") == [evil]


def test_bar_chart_keeps_arabic_text():
    root = _svg(
        bar_chart(
            title="الإلغاءات حسب السبب",
            categories=["نقص الوثائق", "رفض أمني"],
            series=[Series("ملغاة", [3, 1], "cancelled")],
            rtl=True,
        )
    )
    assert root.find(NS + "title").text == "الإلغاءات حسب السبب"
    assert _texts(root, "cat") == ["نقص الوثائق", "رفض أمني"]
    assert _texts(root, "legend") == ["ملغاة"]


@pytest.mark.parametrize(
    ("categories", "values"),
    [([], []), (["a", "b"], [None, None]), (["a", "b"], [0, 0])],
)
def test_bar_chart_without_data_says_so(categories, values):
    root = _svg(
        bar_chart(
            title="t",
            categories=categories,
            series=[Series("s", values, "agreed")],
            empty_text="لا توجد بيانات",
        )
    )
    assert _texts(root, "empty") == ["لا توجد بيانات"]
    assert not list(root.iter(NS + "rect"))
    assert not _of_class(root, "text", "tick")


def test_line_chart_draws_one_polyline_per_series_with_known_points():
    root = _svg(
        line_chart(
            title="Weekly cancellation rate",
            categories=["W1", "W2", "W3", "W4"],
            series=[
                Series("Rate", [12.5, None, 20, 8], "rate"),
                Series("Median", [10] * 4, "median"),
            ],
            y_max=100,
        )
    )
    lines = list(root.iter(NS + "polyline"))
    assert [line.get("class") for line in lines] == ["line rate", "line median"]
    assert [len(line.get("points").split()) for line in lines] == [3, 4]
    assert len(list(root.iter(NS + "circle"))) == 7
    assert _texts(root, "tick")[-1] == "100"


def test_line_chart_with_pinned_axis_shows_all_zero_rates():
    root = _svg(
        line_chart(
            title="t", categories=["W1", "W2"], series=[Series("r", [0, 0], "rate")], y_max=100
        )
    )
    assert not _of_class(root, "text", "empty")
    assert len(list(root.iter(NS + "polyline"))) == 1


def test_bar_chart_thins_category_labels_when_there_are_many():
    categories = [f"Day {i}" for i in range(1, 61)]
    root = _svg(
        bar_chart(
            title="t", categories=categories, series=[Series("s", list(range(60)), "crossed")]
        )
    )
    labels = _texts(root, "cat")
    assert 10 <= len(labels) <= 14
    assert labels[0] == "Day 1"
    assert len(_bars(root)) == 60


def test_bar_chart_slants_long_labels_and_shortens_them():
    categories = [f"Crossing closed by the authorities {i}" for i in range(12)]
    root = _svg(bar_chart(title="t", categories=categories, series=[Series("s", [1] * 12, "held")]))
    cats = _of_class(root, "text", "cat")
    assert all(t.get("transform", "").startswith("rotate(-40") for t in cats)
    assert all(len(t.text) <= 17 and t.text.endswith("…") for t in cats)


def test_bar_chart_is_an_accessible_scalable_inline_svg():
    markup = str(_chart())
    assert markup.startswith("<svg ")
    root = _svg(markup)
    assert root.get("role") == "img"
    assert root.get("width") == "100%"
    assert root.get("viewBox") == "0 0 720 260"
    title_id, desc_id = root.get("aria-labelledby").split()
    assert root.find(NS + "title").get("id") == title_id
    desc = root.find(NS + "desc")
    assert desc.get("id") == desc_id
    assert desc.text == "2 series over 4 categories"


def test_bar_chart_colours_are_attributes_with_a_grey_fallback():
    """No <style>: the pages' Content-Security-Policy refuses inline styles without a nonce."""
    root = _svg(_chart(series=[Series("s", [1, 2, 3, 4], "cancelled"), Series("t", [1] * 4, "x")]))
    assert root.find(NS + "style") is None
    assert {b.get("fill") for b in _of_class(root, "rect", "cancelled")} == {"#d55e00"}
    assert {b.get("fill") for b in _of_class(root, "rect", "x")} == {"#8a8f98"}


def test_bar_chart_output_is_identical_for_identical_input():
    assert str(_chart()) == str(_chart())
    other = _svg(_chart(title="Other"))
    assert other.get("id") != _svg(_chart()).get("id")  # two charts on a page keep unique ids


def test_bar_chart_rejects_values_not_matching_categories():
    with pytest.raises(ValueError, match="3 values, 4 categories"):
        _chart(series=[Series("s", [1, 2, 3], "agreed")])
