"""Small server-rendered SVG charts for reports.

Auditors read reports in English and Arabic on bad connections, so a JavaScript charting
library (or a CDN) is out: charts are inline ``<svg>`` built here. Labels come from user data,
so every text and attribute goes through ``format_html``; output is deterministic so tests can
compare bytes and pages can be cached.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import ngettext

MAX_CATEGORY_LABELS = 14  # more would overlap on a phone; the others are skipped
CHAR_WIDTH = 6.2  # no font metrics on the server: estimated width of one 11px glyph
FALLBACK_COLOUR = "#8a8f98"
# Colour-blind-friendly (Okabe-Ito based), keyed by the css_class callers pass. Colours and
# fonts are SVG presentation attributes, not a <style>: the pages' Content-Security-Policy
# refuses inline styles without its nonce, and a chart is built without the request.
# fmt: off
COLOURS = {
    "agreed": "#b8bcc4", "crossed": "#0072b2", "patients": "#0072b2", "companions": "#56b4e9",
    "returnees": "#009e73", "cancelled": "#d55e00", "held": "#e69f00", "turned_back": "#cc79a7",
    "deaths": "#222222", "rate": "#d55e00", "median": "#6a3d9a",
}
# fmt: on
FONTS = "system-ui,'Noto Sans Arabic',sans-serif"
GRID, AXIS = "#e3e5e8", "#888"
TITLE = {"font_size": 14, "font_weight": 600}
LEGEND = {"font_size": 12}
EMPTY = {"font_size": 14, "fill": "#666"}
SIDE, TITLE_Y, LEGEND_Y, PLOT_TOP = 14, 18, 40, 58


def _line(colour: str) -> dict:
    return {"fill": "none", "stroke": colour, "stroke_width": 2}


@dataclass(frozen=True)
class Series:
    """One coloured set of values, one per category; ``None`` means no data (not zero)."""

    label: str
    values: list[float | int | None]
    css_class: str


class _Spec(NamedTuple):
    """What both charts take, as keyword arguments of `bar_chart` and `line_chart`."""

    title: str
    categories: list[str]
    series: list[Series]
    rtl: bool = False
    y_label: str = ""
    width: int = 720
    height: int = 260
    # Pins the axis (e.g. 100 for a rate in %); with it, all-zero data is real data (no
    # cancellations) rather than "No data".
    y_max: float | None = None
    empty_text: str = "No data"
    desc: str | None = None


def bar_chart(**spec) -> SafeString:
    """Grouped vertical bars: one group per category, one bar per series (None: no bar)."""
    return _chart("bar", _Spec(**spec))


def line_chart(**spec) -> SafeString:
    """One polyline per series, with a marker per known value. A ``None`` has no marker and
    the line joins its known neighbours, so there is exactly one polyline per series."""
    return _chart("line", _Spec(**spec))


def nice_axis(top: float, integers: bool) -> tuple[float, float]:
    """Round the axis top up to a multiple of 1/2/2.5/5 x 10^n giving 4-5 grid lines.

    Readers compare bars against grid lines, so those must fall on round numbers; counts of
    people never get fractional ticks.
    """
    raw = top / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    if integers:
        step = max(1.0, math.ceil(step))
    return step * math.ceil(top / step - 1e-9), step


def _num(x: float) -> str:
    """Short, stable number text for coordinates, ticks and tooltips (same input, same bytes)."""
    return str(int(x)) if float(x).is_integer() else f"{x:.2f}".rstrip("0").rstrip(".")


def _el(tag: str, text: str | None = None, **attrs: object) -> SafeString:
    """One escaped element; ``class_``/``text_anchor`` become ``class``/``text-anchor``."""
    pairs = (
        (k.rstrip("_").replace("_", "-"), _num(v) if isinstance(v, int | float) else v)
        for k, v in attrs.items()
    )
    attr = format_html_join("", ' {}="{}"', pairs)
    if text is None:
        return format_html("<{}{}/>", tag, attr)
    return format_html("<{}{}>{}</{}>", tag, attr, text, tag)


def _anchor(physical: str, rtl: bool) -> str:
    """SVG text-anchor is logical: under direction="rtl", "start" is the right edge."""
    if physical == "middle":
        return "middle"
    return "start" if (physical == "left") != rtl else "end"


def _cls(css_class: str) -> str:
    """Keep class names CSS-safe; unknown ones simply get the grey fallback colour."""
    return re.sub(r"[^A-Za-z0-9_-]", "", css_class) or "unknown"


def _colour(css_class: str) -> str:
    return COLOURS.get(_cls(css_class), FALLBACK_COLOUR)


def _chart(kind: str, spec: _Spec) -> SafeString:
    title, categories, series, rtl, _, width, height, y_max, empty, desc = spec
    for s in series:
        if len(s.values) != len(categories):
            raise ValueError(f"{s.label!r}: {len(s.values)} values, {len(categories)} categories")
    known = [v for s in series for v in s.values if v is not None]
    # Ids must differ between charts on one page yet stay deterministic: hash the input.
    key = repr((kind, spec))
    cid = "chart-" + hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:10]
    if desc is None:
        desc = ngettext(
            "%(series)d series over %(count)d category",
            "%(series)d series over %(count)d categories",
            len(categories),
        ) % {"series": len(series), "count": len(categories)}
    start = width - SIDE if rtl else SIDE  # physical x where reading starts
    parts = [
        _el("title", title, id=f"{cid}-t"),
        _el("desc", desc, id=f"{cid}-d"),
        _el("text", title, class_="title", x=start, y=TITLE_Y, text_anchor="start", **TITLE),
    ]
    # All zero without a pinned y_max says nothing (and has no scale); with y_max=100 it is 0 %.
    if not categories or not known or max([*known, y_max or 0]) <= 0:
        centre = {"x": width / 2, "y": height / 2, "text_anchor": "middle"}
        parts.append(_el("text", empty, class_="empty", **centre, **EMPTY))
    else:
        parts += _plot(kind, spec, known)
        parts += _legend(series, start, rtl)
    head = format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" id="{0}" class="chart chart-{1}" role="img" '
        'aria-labelledby="{0}-t {0}-d" viewBox="0 0 {2} {3}" width="100%" direction="{4}" '
        'font-family="{5}" font-size="11" fill="#333">',
        cid, kind, width, height, "rtl" if rtl else "ltr", FONTS,
    )  # fmt: skip
    return mark_safe(head + "".join(parts) + "</svg>")  # noqa: S308 - all built by format_html


def _plot(kind: str, spec: _Spec, known: list[float]) -> list[SafeString]:
    """Grid, y axis, category labels and the marks themselves."""
    _, categories, series, rtl, y_label, width, height, y_max, _, _ = spec
    integers = y_max is None and all(isinstance(v, int) for v in known)
    top, step = nice_axis(max([*known, y_max or 0]), integers)
    axis_pad = 40 + (16 if y_label else 0) + CHAR_WIDTH * max(len(_num(top)) - 3, 0)
    left, right = (SIDE, width - axis_pad) if rtl else (axis_pad, width - SIDE)
    slot = (right - left) / len(categories)
    every = math.ceil(len(categories) / MAX_CATEGORY_LABELS)
    longest = max(len(c) for c in categories[::every]) * CHAR_WIDTH
    rotate = longest > slot * every - 6
    bottom = height - (min(longest, 17 * CHAR_WIDTH) * 0.65 + 20 if rotate else 22)

    def x(i: float) -> float:
        return right - (i + 0.5) * slot if rtl else left + (i + 0.5) * slot

    def y(v: float) -> float:
        return bottom - max(v, 0) / top * (bottom - PLOT_TOP)

    axis_x, out = (right if rtl else left), []
    # Tick and slanted labels both hang off their edge nearest the axis / their tick.
    tick_x, anchor = (axis_x + 6 if rtl else axis_x - 6), _anchor("left" if rtl else "right", rtl)
    for k in range(round(top / step) + 1):
        ty = y(k * step)
        out.append(_el("line", class_="grid", x1=left, x2=right, y1=ty, y2=ty, stroke=GRID))
        out.append(
            _el("text", _num(k * step), class_="tick", x=tick_x, y=ty + 4, text_anchor=anchor)
        )
    if y_label:
        # Glyphs rise to the left of the baseline once turned: keep them inside the viewBox.
        lx, ly = (width - 5 if rtl else 14), (PLOT_TOP + bottom) / 2
        spin = f"rotate(-90 {_num(lx)} {_num(ly)})"
        out.append(
            _el("text", y_label, class_="y-label", x=lx, y=ly, text_anchor="middle", transform=spin)
        )
    for i, name in enumerate(categories[::every]):
        cx, cy = x(i * every), bottom + 14
        if not rotate:  # nudge the outermost labels back inside the viewBox
            half = len(name) * CHAR_WIDTH / 2 + 2
            cx = min(max(cx, half), width - half)
            out.append(_el("text", name, class_="cat", x=cx, y=cy, text_anchor="middle"))
            continue
        # Slanted, mirrored in RTL so each label still ends at its own tick; cut to fit.
        room = int((width - cx if rtl else cx) / (CHAR_WIDTH * 0.77))
        fit = min(17, room)
        short = name if len(name) <= fit else name[: fit - 1] + "…"
        spin = f"rotate({40 if rtl else -40} {_num(cx)} {_num(cy)})"
        out.append(_el("text", short, class_="cat", x=cx, y=cy, text_anchor=anchor, transform=spin))
    marks = _bars if kind == "bar" else _lines
    out += marks(series, categories, x, y, slot, rtl)
    out.append(
        _el("line", class_="axis-y", x1=axis_x, x2=axis_x, y1=PLOT_TOP, y2=bottom, stroke=AXIS)
    )
    out.append(_el("line", class_="axis-x", x1=left, x2=right, y1=bottom, y2=bottom, stroke=AXIS))
    return out


def _tip(s: Series, category: str, value: float) -> SafeString:
    """Hover text: the exact value, which the axis only approximates."""
    return _el("title", f"{s.label} - {category}: {_num(value)}")


Scale = Callable[[float], float]


def _bars(
    series: list[Series], categories: list[str], x: Scale, y: Scale, slot: float, rtl: bool
) -> list[SafeString]:
    """A rect per known value (zero gives a flat bar, so its tooltip still exists)."""
    bar_w, n = slot * 0.8 / len(series), len(series)
    out = []
    for j, s in enumerate(series):
        for i, v in enumerate(s.values):
            if v is not None:
                offset = (j - n / 2) * bar_w  # first series nearest the reading start
                bx = x(i) - offset - bar_w if rtl else x(i) + offset
                size = {"width": max(bar_w - 1, 0.5), "height": y(0) - y(v)}
                tip, cls = _tip(s, categories[i], v), f"bar {_cls(s.css_class)}"
                out.append(
                    _el("rect", tip, class_=cls, fill=_colour(s.css_class), x=bx, y=y(v), **size)
                )
    return out


def _lines(
    series: list[Series], categories: list[str], x: Scale, y: Scale, slot: float, rtl: bool
) -> list[SafeString]:
    """One polyline through the known values; markers carry the tooltips."""
    out = []
    for s in series:
        known = [(i, v) for i, v in enumerate(s.values) if v is not None]
        points = " ".join(f"{_num(x(i))},{_num(y(v))}" for i, v in known)
        colour, cls = _colour(s.css_class), f"dot {_cls(s.css_class)}"
        out.append(
            _el("polyline", class_=f"line {_cls(s.css_class)}", points=points, **_line(colour))
        )
        out += [
            _el("circle", _tip(s, categories[i], v), class_=cls, fill=colour, cx=x(i), cy=y(v), r=3)
            for i, v in known
        ]
    return out


def _legend(series: list[Series], start: float, rtl: bool) -> list[SafeString]:
    """Swatch then label per series, along the reading direction (right to left in RTL)."""
    out, pos = [], start
    for s in series:
        box = {"y": LEGEND_Y - 10, "width": 12, "height": 12}
        swatch = {"class_": f"swatch {_cls(s.css_class)}", "fill": _colour(s.css_class)}
        out.append(_el("rect", **swatch, x=pos - (12 if rtl else 0), **box))
        text_x = pos - 17 if rtl else pos + 17
        out.append(
            _el(
                "text",
                s.label,
                class_="legend",
                x=text_x,
                y=LEGEND_Y,
                text_anchor="start",
                **LEGEND,
            )
        )
        advance = 17 + len(s.label) * CHAR_WIDTH * 12 / 11 + 18
        pos = pos - advance if rtl else pos + advance
    return out
