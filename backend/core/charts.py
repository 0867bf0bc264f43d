"""Charts drawn on the server as SVG: no JavaScript, nothing blocked by the CSP, readable by
screen readers (a title, a description and the data as a table), at home on a 360 px phone.

Every page that shows a chart uses these two functions (or the {% bar_chart %} and
{% line_chart %} tags of core_tags):

    bar_chart(_("Visits done"), [("Les Tilleuls", 12), ("Le Parc", 7)], target=10)
    line_chart(_("Compliance"), ["S1", "S2"], {"Ronde": [80, 92]}, unit="%")
"""

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils.formats import number_format
from django.utils.safestring import SafeString

# Blue, orange, green, purple, brown: distinguishable with the common colour-vision
# deficiencies, each with its own marker shape, all at least 3:1 against white.
PALETTE = ["#1f5fa8", "#b45309", "#15803d", "#7e22ce", "#7c2d12"]
MARKERS = ["circle", "square", "diamond", "triangle", "circle"]  # the fifth is brown: rare
_ids = itertools.count(1)

WIDTH = 320
LABEL_HEIGHT = 16
BAR_HEIGHT = 14
ROW_GAP = 10


def _fmt(value: float | None, unit: str, decimals: int) -> str:
    if value is None:
        return "—"
    text = number_format(value, decimal_pos=decimals, use_l10n=True)
    return f"{text}\u202f{unit}" if unit else text


def _text_width(label) -> float:
    """About how wide an x label is at 11 px (digits are the widest common characters): a
    label closer than that to the last one, which is always shown, is left out."""
    return len(str(label)) * 6 + 4


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


@dataclass
class _Bar:
    label: str
    value: float | None
    text: str
    y_label: float
    y_bar: float
    width: float

    @property
    def value_x(self) -> float:
        return self.width + 4

    @property
    def value_y(self) -> float:
        return self.y_bar + 11


def bar_chart(
    title: str,
    items: Sequence[tuple[str, float | None]],
    *,
    unit: str = "",
    decimals: int = 0,
    max_value: float | None = None,
    target: float | None = None,
    description: str = "",
) -> SafeString:
    """Horizontal bars, one per (label, value); `target` draws a dashed reference line."""
    values = [v for _, v in items if v is not None]
    top = max_value or _nice_max(max([*values, target or 0, 0]))
    bars = []
    y = 4.0
    for label, value in items:
        width = 0 if value is None else max(0.0, min(1.0, value / top)) * (WIDTH - 60)
        bars.append(
            _Bar(str(label), value, _fmt(value, unit, decimals), y + 12, y + LABEL_HEIGHT, width)
        )
        y += LABEL_HEIGHT + BAR_HEIGHT + ROW_GAP
    context = {
        "id": f"chart{next(_ids)}",
        "title": title,
        "description": description,
        "width": WIDTH,
        "height": max(y, 30),
        "bars": bars,
        "bar_height": BAR_HEIGHT,
        "color": PALETTE[0],
        "target_x": None if target is None else min(1.0, target / top) * (WIDTH - 60),
        "target_text": _fmt(target, unit, decimals) if target is not None else "",
        "unit": unit,
        "empty": not items,
    }
    return SafeString(render_to_string("core/charts/bar.svg.html", context))


def line_chart(
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    unit: str = "",
    decimals: int = 0,
    max_value: float | None = None,
    description: str = "",
) -> SafeString:
    """One line per series over the x `labels`; gaps (None) break the line."""
    height, left, right, top_pad, bottom = 180, 36, 8, 10, 28
    plot_w, plot_h = WIDTH - left - right, height - top_pad - bottom
    values = [v for vs in series.values() for v in vs if v is not None]
    top = max_value or _nice_max(max([*values, 0]))
    step = plot_w / max(1, len(labels) - 1)

    def point(i, v):
        return (left + i * step, top_pad + plot_h - (v / top) * plot_h)

    lines = []
    for n, (name, vs) in enumerate(series.items()):
        segments, current, points = [], [], []
        for i, v in enumerate(vs):
            if v is None:
                if current:
                    segments.append(current)
                current = []
                continue
            x, y = point(i, v)
            current.append(f"{x:.1f},{y:.1f}")
            points.append(
                {
                    "x": x,
                    "y": y,
                    "corner_x": x - 3,
                    "corner_y": y - 3,
                    "triangle": f"{x:.1f},{y - 4:.1f} {x - 4:.1f},{y + 3:.1f} {x + 4:.1f},{y + 3:.1f}",
                    "text": f"{labels[i]} : {_fmt(v, unit, decimals)}",
                }
            )
        if current:
            segments.append(current)
        lines.append(
            {
                "name": name,
                "color": PALETTE[n % len(PALETTE)],
                "marker": MARKERS[n % len(MARKERS)],
                "segments": [" ".join(s) for s in segments],
                "points": points,
            }
        )
    every = max(1, math.ceil(len(labels) / 6))
    context = {
        "id": f"chart{next(_ids)}",
        "title": title,
        "description": description,
        "width": WIDTH,
        "height": height,
        "left": left,
        "tick_x": left - 4,
        "right_edge": WIDTH - right,
        "xlabel_y": top_pad + plot_h + 16,
        "ticks": [
            {
                "y": top_pad + plot_h - f * plot_h,
                "text_y": top_pad + plot_h - f * plot_h + 4,
                "text": _fmt(top * f, unit, decimals),
            }
            for f in (0, 0.5, 1)
        ],
        "xlabels": [
            {"x": left + i * step, "text": str(label)}
            for i, label in enumerate(labels)
            if i == len(labels) - 1
            or (i % every == 0 and (len(labels) - 1 - i) * step >= _text_width(labels[-1]))
        ],
        "lines": lines,
        "labels": list(labels),
        "rows": [
            {"name": line_name, "values": [_fmt(v, unit, decimals) for v in vs]}
            for line_name, vs in series.items()
        ],
        "empty": not labels,
    }
    return SafeString(render_to_string("core/charts/line.svg.html", context))
