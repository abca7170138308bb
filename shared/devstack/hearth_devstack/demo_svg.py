"""Small inline SVG charts for the demo report: bars (grouped or stacked) and lines, with axes,
gridlines and a legend. No dependencies, so the report is one self-contained HTML file."""

from html import escape

COLOURS = ("#3b6ea5", "#e07b39", "#5a9e6f", "#b5485d", "#8c6bb1", "#c9a227", "#4aa3a2", "#7f7f7f")
W, H, LEFT, RIGHT, TOP, BOTTOM = 720, 300, 64, 160, 34, 56


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10.0 * magnitude


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:,.2f}"


def _frame(title: str, top: float, y_label: str, plot_id: str, extra_bottom: int = 0) -> list[str]:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{plot_id}" class="plot" viewBox="0 0 {W} {H + extra_bottom}" '
        f'width="{W}" height="{H + extra_bottom}" role="img" aria-label="{escape(title)}">',
        f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<text x="14" y="{TOP + (H - TOP - BOTTOM) / 2}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 14 {TOP + (H - TOP - BOTTOM) / 2})">{escape(y_label)}</text>',
    ]
    for i in range(5):
        value = top * i / 4
        y = H - BOTTOM - (H - TOP - BOTTOM) * i / 4
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{_fmt(value)}</text>'
        )
    return parts


def _legend(names: list[str]) -> list[str]:
    parts = []
    for i, name in enumerate(names):
        y = TOP + 10 + 18 * i
        parts.append(
            f'<rect x="{W - RIGHT + 12}" y="{y - 9}" width="10" height="10" fill="{COLOURS[i % len(COLOURS)]}"/>'
        )
        parts.append(f'<text x="{W - RIGHT + 28}" y="{y}" font-size="11">{escape(name)}</text>')
    return parts


def bars(
    title: str,
    categories: list[str],
    series: dict[str, list[float]],
    *,
    y_label: str,
    plot_id: str,
    stacked: bool = False,
    slanted: bool = False,
) -> str:
    """Bars per category, one per series side by side, or `stacked`; `slanted` category labels
    for long names."""
    names = list(series)
    totals = [sum(series[n][i] for n in names) for i in range(len(categories))]
    peak = max(totals if stacked else [v for n in names for v in series[n]] or [0])
    top = _nice_max(peak)
    parts = _frame(title, top, y_label, plot_id, 110 if slanted else 0)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot = plot_w / max(len(categories), 1)
    width = slot * 0.7 / (1 if stacked else max(len(names), 1))
    for i, category in enumerate(categories):
        x0 = LEFT + slot * i + slot * 0.15
        base = 0.0
        for j, name in enumerate(names):
            value = series[name][i]
            height = plot_h * value / top
            x = x0 if stacked else x0 + width * j
            y = H - BOTTOM - height - (plot_h * base / top if stacked else 0)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" '
                f'fill="{COLOURS[j % len(COLOURS)]}"><title>{escape(category)}, {escape(name)}: {_fmt(value)}</title></rect>'
            )
            if stacked:
                base += value
        label_x, label_y = LEFT + slot * (i + 0.5), H - BOTTOM + 16
        if slanted:
            parts.append(
                f'<text x="{label_x - 4:.1f}" y="{label_y - 6}" font-size="10" text-anchor="start" '
                f'transform="rotate(35 {label_x - 4:.1f} {label_y - 6})">{escape(category)}</text>'
            )
        else:
            parts.append(
                f'<text x="{label_x:.1f}" y="{label_y}" font-size="10" text-anchor="middle">{escape(category)}</text>'
            )
    return "\n".join(parts + _legend(names) + ["</svg>"])


def lines(
    title: str, categories: list[str], series: dict[str, list[float]], *, y_label: str, plot_id: str
) -> str:
    names = list(series)
    top = _nice_max(max([v for n in names for v in series[n]] or [0]))
    parts = _frame(title, top, y_label, plot_id)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    step = plot_w / max(len(categories), 1)
    for j, name in enumerate(names):
        points = [
            (LEFT + step * (i + 0.5), H - BOTTOM - plot_h * v / top) for i, v in enumerate(series[name])
        ]
        colour = COLOURS[j % len(COLOURS)]
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in points)}"/>'
        )
        for (x, y), value in zip(points, series[name], strict=True):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{_fmt(value)}</title></circle>'
            )
    for i, category in enumerate(categories):
        parts.append(
            f'<text x="{LEFT + step * (i + 0.5):.1f}" y="{H - BOTTOM + 16}" font-size="10" '
            f'text-anchor="middle">{escape(category)}</text>'
        )
    return "\n".join(parts + _legend(names) + ["</svg>"])
