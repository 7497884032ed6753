"""Server-side SVG charts (bar, funnel, line) with text labels: no JavaScript, no CDN.

Every text that goes into the SVG is escaped here, so the returned Markup is safe to place
in a template as is."""
from __future__ import annotations

import math
from typing import Callable, Sequence

from markupsafe import Markup, escape

COLORS = ("#0d6efd", "#fd7e14", "#198754", "#6f42c1", "#dc3545", "#20c997")
FONT = 'font-family="system-ui, sans-serif" font-size="12"'
MAX_LABEL = 14


def _short(text: str) -> str:
    text = str(text)
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…"


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            f'viewBox="0 0 {width} {height}" width="100%" '
            f'preserveAspectRatio="xMinYMin meet" aria-label="{escape(title)}" {FONT}>'
            f'<title>{escape(title)}</title>')
    return Markup(head + "".join(body) + "</svg>")


def _number(value) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k at or above `value` (axis top)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def bar_chart(rows: Sequence[tuple[str, float]], *, title: str, width: int = 360,
              fmt: Callable = _number, empty: str = "") -> Markup:
    """Horizontal bars: one row per (label, value), the value written at the bar's end."""
    label_w, value_w, bar_h, gap = 96, 54, 20, 6
    height = max(1, len(rows)) * (bar_h + gap) + gap
    if not rows:
        note = f'<text x="8" y="24" fill="#6c757d">{escape(empty)}</text>'
        return _svg(width, 40, title, [note])
    top = max(float(v) for _, v in rows) or 1.0
    span = width - label_w - value_w
    body = []
    for i, (label, value) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = max(1.0, span * float(value) / top) if value else 0
        body.append(
            f'<text x="{label_w - 6}" y="{y + bar_h * 0.7:.1f}" text-anchor="end">'
            f'<title>{escape(label)}</title>{escape(_short(label))}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" '
            f'fill="{COLORS[0]}" rx="2"></rect>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h * 0.7:.1f}">{escape(fmt(value))}</text>')
    return _svg(width, height, title, body)


def funnel_chart(rows: Sequence[tuple[str, int]], *, title: str, width: int = 480,
                 fmt: Callable = _number) -> Markup:
    """Centred bars, widest for the largest count, label and count written on each."""
    bar_h, gap, label_w = 28, 4, 110
    height = max(1, len(rows)) * (bar_h + gap) + gap
    top = max((float(v) for _, v in rows), default=0) or 1.0
    span = width - label_w - 10
    centre = label_w + span / 2
    body = []
    for i, (label, value) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = max(2.0, span * float(value) / top)
        body.append(
            f'<text x="{label_w - 6}" y="{y + bar_h * 0.65:.1f}" text-anchor="end">'
            f'{escape(_short(label))}</text>'
            f'<rect x="{centre - w / 2:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
            f'fill="{COLORS[i % len(COLORS)]}" opacity="0.85"></rect>'
            f'<text x="{centre:.1f}" y="{y + bar_h * 0.65:.1f}" text-anchor="middle" '
            f'fill="#212529" font-weight="bold">{escape(fmt(value))}</text>')
    return _svg(width, height, title, body)


def line_chart(x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *,
               title: str, width: int = 560, height: int = 240,
               fmt: Callable = _number) -> Markup:
    """One polyline per (name, values) over the x labels, with a y scale and a legend."""
    left, right, top_pad, bottom = 70, 24, 26, 40
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    top = nice_ceiling(max((float(v) for _, values in series for v in values), default=0))
    n = len(x_labels)

    def x(i):
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v):
        return top_pad + plot_h - plot_h * float(v) / top

    body = []
    for frac in (0, 0.5, 1):                      # y scale
        yy = top_pad + plot_h - plot_h * frac
        value = top * frac
        shown = fmt(int(value)) if float(value).is_integer() else fmt(round(value, 2))
        body.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{width - right}" y2="{yy:.1f}" '
                    f'stroke="#dee2e6"></line>'
                    f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" fill="#6c757d">'
                    f'{escape(shown)}</text>')
    step = max(1, (n + 5) // 6)                   # at most ~6 x labels
    for i, label in enumerate(x_labels):
        if (n - 1 - i) % step == 0:             # counted back from the latest
            body.append(f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                        f'fill="#6c757d">{escape(label)}</text>')
    for k, (name, values) in enumerate(series):
        color = COLORS[k % len(COLORS)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        body.append(f'<polyline points="{points}" fill="none" stroke="{color}" '
                    f'stroke-width="2"></polyline>')
        for i, v in enumerate(values):
            body.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{color}">'
                        f'<title>{escape(x_labels[i])}: {escape(fmt(v))}</title></circle>')
        lx = left + k * 150
        body.append(f'<rect x="{lx}" y="6" width="12" height="12" fill="{color}"></rect>'
                    f'<text x="{lx + 16}" y="16">{escape(name)}</text>')
    return _svg(width, height, title, body)
