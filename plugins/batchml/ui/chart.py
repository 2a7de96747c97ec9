"""Server-side SVG for the model-quality view: no JavaScript, nothing fetched at run time.

Pure functions of the data, so tests can render them without Airflow or AWS.
"""

from __future__ import annotations

from datetime import date
from html import escape

# One colour per horizon (1 = next day ... 7), from ColorBrewer's Dark2 plus grey: distinguishable in print.
HORIZON_COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#666666"]
DECISION_COLOURS = {"new model": "#1b9e77", "champion kept": "#e6ab02", "nothing published": "#d62728"}


def wape_chart(points: list[tuple[date, int, float]], decisions: dict[date, str], *, first: date, last: date,
               max_wape: float | None = None, width: int = 960, height: int = 360) -> str:
    """Realised WAPE by day, one line per horizon, and a strip of gate decisions under the x axis.

    :param points: (actuals day, horizon in days, WAPE).
    :param decisions: gate decision per partition day (keys of DECISION_COLOURS).
    :param max_wape: the gate's bar, drawn as a dashed line.
    """
    left, right, top, bottom = 56, 120, 16, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    span = max((last - first).days, 1)
    ymax = max([w for _, _, w in points] + ([max_wape] if max_wape else []) + [0.1]) * 1.1

    def x(day: date) -> float:
        return left + plot_w * (day - first).days / span

    def y(value: float) -> float:
        return top + plot_h * (1 - value / ymax)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="Realised WAPE by day and horizon" data-testid="wape-chart" font-family="sans-serif" '
           f'font-size="11">',
           f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>']
    for k in range(6):  # y grid and labels
        value = ymax * k / 5
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#eee"/>'
                   f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value:.2f}</text>')
    for k in range(0, span + 1, max(1, span // 9)):  # x labels
        day = date.fromordinal(first.toordinal() + k)
        out.append(f'<text x="{x(day):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{day:%m-%d}</text>')
    out.append(f'<text x="14" y="{top + plot_h / 2:.0f}" transform="rotate(-90 14 {top + plot_h / 2:.0f})" '
               'text-anchor="middle">WAPE</text>')
    if max_wape:
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(max_wape):.1f}" y2="{y(max_wape):.1f}" '
                   f'stroke="#d62728" stroke-dasharray="6 4"/><text x="{left + 4}" y="{y(max_wape) - 4:.1f}" '
                   f'fill="#d62728">gate: max WAPE {max_wape:.2f}</text>')
    for horizon in sorted({h for _, h, _ in points}):
        line = sorted((d, w) for d, h, w in points if h == horizon)
        colour = HORIZON_COLOURS[(horizon - 1) % len(HORIZON_COLOURS)]
        coords = " ".join(f"{x(d):.1f},{y(w):.1f}" for d, w in line)
        out.append(f'<polyline data-horizon="{horizon}" points="{coords}" fill="none" stroke="{colour}" '
                   f'stroke-width="{2.2 if horizon == 1 else 1.3}"><title>horizon {horizon} days</title></polyline>')
        ly = top + 14 * horizon
        out.append(f'<line x1="{left + plot_w + 40}" x2="{left + plot_w + 58}" y1="{ly}" y2="{ly}" stroke="{colour}" '
                   f'stroke-width="3"/><text x="{left + plot_w + 62}" y="{ly + 4}">h{horizon}</text>')
    strip = top + plot_h + 28
    out.append(f'<text x="{left - 6}" y="{strip + 9}" text-anchor="end">gate</text>')
    cell = max(plot_w / (span + 1), 2)
    for day, decision in sorted(decisions.items()):
        if first <= day <= last:
            colour = DECISION_COLOURS.get(decision, "#999")
            out.append(f'<rect data-decision="{escape(decision)}" x="{x(day) - cell / 2:.1f}" y="{strip}" '
                       f'width="{cell:.1f}" height="12" fill="{colour}"><title>{day}: {escape(decision)}</title></rect>')
    lx = left
    for decision, colour in DECISION_COLOURS.items():
        out.append(f'<rect x="{lx}" y="{strip + 20}" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{lx + 14}" y="{strip + 29}">{decision}</text>')
        lx += 130
    if not points:
        out.append(f'<text x="{left + plot_w / 2:.0f}" y="{top + plot_h / 2:.0f}" text-anchor="middle" '
                   'font-size="14">no realised accuracy in these 90 days yet</text>')
    out.append("</svg>")
    return "".join(out)
