"""Server-rendered SVG charts (pygal) for the dashboard, embedded inline: no JavaScript.

pygal adds a ``<script>`` with its tooltip configuration; it is removed, so the chart is static SVG
(the table under each chart carries the exact numbers). Sizes are the SVG's viewBox: the chart
scales to its card, so the viewBox is chosen near the card's usual size to keep labels legible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pygal
from django.utils.safestring import SafeString, mark_safe
from lxml import etree
from pygal.style import Style

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1d2330",
    foreground_strong="#1d2330",
    foreground_subtle="#d9dde5",
    colors=("#1f5fbf", "#c0392b", "#2e7d32", "#e08e0b"),
    font_family="system-ui, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    value_font_size=13,
)

COMMON: dict[str, Any] = {
    "style": STYLE,
    "js": [],
    "disable_xml_declaration": True,
    "show_legend": False,
    "print_values": True,
    "print_zeroes": False,
    "margin": 8,
    "explicit_size": False,
    "truncate_label": 28,
}


def _svg(chart: Any, title: str) -> SafeString:
    """The chart as inline SVG, script removed, labelled with ``title`` for screen readers (the page
    shows the title as the section's heading)."""
    tree = chart.render_tree()
    for script in list(tree.iter("script", "{http://www.w3.org/2000/svg}script")):
        script.getparent().remove(script)
    tree.set("role", "img")
    tree.set("aria-label", title)
    # pygal builds the tree with lxml: every label is a text node, escaped on serialization.
    return mark_safe(etree.tostring(tree, encoding="unicode"))


def _value_axis(values: Sequence[float]) -> dict[str, Any]:
    """Whole-number ticks for counts (pygal would otherwise label 0.1, 0.2… for small numbers)."""
    if any(not float(v).is_integer() for v in values):
        return {}
    top = max([int(v) for v in values] + [1])
    step = max(1, math.ceil(top / 5))
    return {"y_labels": list(range(0, top + step, step)), "value_formatter": lambda v: f"{v:.0f}"}


def bar(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    horizontal: bool = False,
    width: int = 560,
    height: int | None = None,
) -> SafeString:
    """A one-series bar chart; horizontal bars grow with the number of labels."""
    if height is None:
        height = max(220, 60 + 28 * len(labels)) if horizontal else 340
    options = {**COMMON, "width": width, "height": height, **_value_axis(values)}
    if not horizontal:
        options["x_label_rotation"] = 35 if len(labels) > 6 else 0
    chart = (pygal.HorizontalBar if horizontal else pygal.Bar)(**options)
    chart.x_labels = list(labels)
    chart.add(title, list(values))
    return _svg(chart, title)


def timeline(title: str, labels: Sequence[str], values: Sequence[float], *, every: int = 5) -> SafeString:
    """Bars per day over a wide chart, one label every ``every`` days."""
    options = {**COMMON, "width": 1200, "height": 320, "x_label_rotation": 0, **_value_axis(values)}
    chart = pygal.Bar(**options, show_minor_x_labels=False)
    chart.x_labels = list(labels)
    chart.x_labels_major = list(labels)[::every]
    chart.add(title, list(values))
    return _svg(chart, title)
