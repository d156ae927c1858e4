"""A line chart as a standalone SVG (issue 16's pictures): no plotting library, no script, no
asset from anywhere, drawn the way `cashback.charts` draws the dashboard's charts.

The x axis is categorical (the measured points evenly spaced, e.g. concurrency 1, 5, 10, 20,
50), the y axis linear from 0; each series is a polyline with its points marked and labelled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape, quoteattr

WIDTH = 720
HEIGHT = 360
LEFT, RIGHT, TOP, BOTTOM = 56, 190, 44, 52  # room for the axes' labels and the legend
PALETTE = ("#0b6e3d", "#d0671a", "#1f5fa8", "#b00020")
INK = "#1a1a1a"
MUTED = "#777"


def _text(x: float, y: float, text: str, *, anchor: str = "middle", size: int = 13) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{INK}" dominant-baseline="middle">{escape(text)}</text>'
    )


def _nice_top(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above `value` (the y axis's top)."""
    scale = 1.0
    while scale * 10 < value:
        scale *= 10
    while scale > value and scale > 0.01:
        scale /= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * scale >= value:
            return step * scale
    return 10 * scale


def line_chart(
    title: str,
    x_label: str,
    y_label: str,
    xs: Sequence[float],
    series: Mapping[str, Sequence[float]],
    note: str = "",
) -> str:
    """An SVG document: one line per series (its values at `xs`), labelled points, a legend."""
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    top = _nice_top(max((v for values in series.values() for v in values), default=1.0) * 1.05)

    def px(index: int) -> float:
        return LEFT + (plot_w * index / (len(xs) - 1) if len(xs) > 1 else plot_w / 2)

    def py(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    body = [_text(WIDTH / 2, 18, title, size=15)]
    for tick in range(6):  # y grid and labels
        value = top * tick / 5
        body.append(
            f'<line x1="{LEFT}" y1="{py(value):.1f}" x2="{LEFT + plot_w}" y2="{py(value):.1f}" '
            f'stroke="#ddd"/>'
        )
        body.append(_text(LEFT - 6, py(value), f"{value:g}", anchor="end", size=12))
    for index, x in enumerate(xs):  # x ticks
        body.append(_text(px(index), TOP + plot_h + 16, f"{x:g}", size=12))
    body.append(_text(LEFT + plot_w / 2, HEIGHT - 14, x_label))
    body.append(
        f'<text x="14" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" font-size="13" '
        f'fill="{INK}" transform="rotate(-90 14 {TOP + plot_h / 2:.1f})">{escape(y_label)}</text>'
    )
    body.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
        f'stroke="{MUTED}"/>'
    )
    for number, (name, values) in enumerate(series.items()):
        colour = PALETTE[number % len(PALETTE)]
        points = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(values))
        body.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.5"/>'
        )
        for index, value in enumerate(values):
            body.append(
                f'<circle cx="{px(index):.1f}" cy="{py(value):.1f}" r="4" fill="{colour}">'
                f"<title>{escape(f'{name}: {value:.1f} at {xs[index]:g}')}</title></circle>"
            )
            body.append(_text(px(index), py(value) - 11, f"{value:.1f}", size=11))
        legend_y = TOP + 10 + 22 * number
        body.append(
            f'<line x1="{LEFT + plot_w + 12}" y1="{legend_y}" x2="{LEFT + plot_w + 32}" '
            f'y2="{legend_y}" stroke="{colour}" stroke-width="3"/>'
        )
        body.append(_text(LEFT + plot_w + 38, legend_y, name, anchor="start", size=12))
    if note:
        body.append(_text(LEFT + plot_w + 12, TOP + plot_h - 8, note, anchor="start", size=10))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" aria-label={quoteattr(title)} '
        'font-family="Segoe UI, Arial, Helvetica, sans-serif">'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>\n"
    )
