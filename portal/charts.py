"""Horizontal bar charts as inline SVG, drawn server-side with integer arithmetic (amounts may
exceed 2^53). The figures are printed beside each chart in a table; the SVG only draws them."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

WIDTH = 320
ROW = 22


def bars(rows: list[tuple[str, int]], title: str) -> Markup:
    """One bar per (label, value); the longest bar is the largest value."""
    top = max((v for _, v in rows), default=0)
    h = max(ROW, ROW * len(rows))
    parts = [f'<svg class="chart" role="img" width="{WIDTH + 120}" height="{h}" viewBox="0 0 {WIDTH + 120} {h}">',
             f"<title>{escape(title)}</title>"]
    for i, (label, value) in enumerate(rows):
        w = (max(value, 0) * WIDTH // top) if top > 0 else 0
        y = i * ROW
        parts.append(f'<text x="0" y="{y + 15}" class="chart-label">{escape(label[:16])}</text>')
        parts.append(f'<rect x="118" y="{y + 4}" width="{max(w, 1) if value else 0}" height="{ROW - 8}" rx="2">'
                     f"<title>{escape(label)}: {value}</title></rect>")
    parts.append("</svg>")
    return Markup("".join(parts))
