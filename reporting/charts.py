"""How the figures are written on the pages: durations, rates, and charts drawn on the server as SVG.

A chart is plain markup in the page: no script draws it, so it shows without JavaScript and within the
Content-Security-Policy. Each carries a <title> and a <desc> saying what it shows, each bucket a <title> with its
values (shown on hover); colours come from CSS classes (static/css/mayday.css, "Reports").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

DASH = "\u2013"  # an en dash: no figure


def duration(seconds: float | None) -> str:
    """m:ss, or h:mm:ss from an hour on."""
    if seconds is None:
        return DASH
    s = round(seconds)
    h, m, s = s // 3600, s % 3600 // 60, s % 60
    return f"{h}:{m:02}:{s:02}" if h else f"{m}:{s:02}"


def hours(seconds: float | None) -> str:
    """h:mm."""
    if seconds is None:
        return DASH
    m = round(seconds) // 60
    return f"{m // 60}:{m % 60:02}"


def percent(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f}%"


SHOWN = {
    "abandon_rate": percent,
    "service_level": percent,
    "service_level_all": percent,
    "asa": duration,
    "longest_wait": duration,
    "average_talk": duration,
    "aht": duration,
    "talk": duration,
    "available_seconds": hours,
    "on_break_seconds": hours,
    "logged_out_seconds": hours,
}


def shown(row: dict) -> dict:
    """A row of figures (reporting.selectors) with its rates and times written for a page."""
    return {key: SHOWN[key](value) if key in SHOWN else value for key, value in row.items()}


# ---- charts -----------------------------------------------------------------------------------------------------

WIDTH, HEIGHT = 640, 250
LEFT, RIGHT, TOP, BOTTOM = 66, 12, 14, 52  # room for the value labels on the left and the buckets below
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
LABEL_SPACE = 40  # the least width a bucket label needs (phones draw the text larger)
BAR_MAX = 28  # the widest bar, so a few buckets do not make slabs


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # the class that colours it
    values: list[float | None]


def _step(top: float, count: int = 4) -> float:
    """A round gridline step (1, 2 or 5 times a power of ten) that fits `top` in about `count` steps."""
    raw = top / count
    if raw <= 0:
        return 1
    power = 10 ** math.floor(math.log10(raw))
    return next(f * power for f in (1, 2, 5, 10) if f * power >= raw)


def _num(value: float) -> str:
    return f"{value:g}"


def _y(value: float, limit: float) -> float:
    return TOP + PLOT_H * (1 - value / limit)


def _svg(
    *,
    title: str,
    desc: str,
    labels: list[str],
    tips: list[str],
    limit: float,
    step: float,
    unit: str,
    x_title: str,
    y_title: str,
    slots: list[str],
    under: str = "",
) -> SafeString:
    """The frame every chart shares (gridlines, value labels, bucket labels, axis titles) around its buckets:
    `slots[i]` is what bucket i draws, `under` what goes beneath them all (a line)."""
    n = max(len(labels), 1)
    width = PLOT_W / n
    every = math.ceil(LABEL_SPACE / width) if width < LABEL_SPACE else 1
    out = [
        f'<svg class="chart-svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img">',
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>",
    ]
    value = 0.0
    while value <= limit + step / 1000:
        y = _y(value, limit)
        out.append(f'<line class="gridline" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_num(value)}{unit}</text>')
        value += step
    out.append(under)
    for i, (label, tip, inner) in enumerate(zip(labels, tips, slots, strict=True)):
        x = LEFT + i * width
        out.append(
            f'<g class="slot"><title>{escape(tip)}</title>'
            f'<rect class="hit" x="{x:.1f}" y="{TOP}" width="{width:.1f}" height="{PLOT_H}"/>{inner}</g>'
        )
        if i % every == 0:
            out.append(
                f'<text class="tick" x="{x + width / 2:.1f}" y="{TOP + PLOT_H + 20}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    out.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + PLOT_H}" y2="{TOP + PLOT_H}"/>')
    out.append(
        f'<text class="axis-title" x="{LEFT + PLOT_W / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
        f"{escape(x_title)}</text>"
    )
    out.append(
        f'<text class="axis-title y-title" transform="translate(16 {TOP + PLOT_H / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">{escape(y_title)}</text>'
    )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every text in it is escaped above


def _figure(title: str, series: list[Series], svg: str) -> SafeString:
    keys = "".join(
        f'<span class="key"><span class="swatch {escape(s.css)}"></span>{escape(s.name)}</span>' for s in series
    )
    return mark_safe(  # noqa: S308 - the svg is built escaped; the rest is escaped here
        f'<figure class="chart"><figcaption><strong>{escape(title)}</strong>'
        f'<span class="legend">{keys}</span></figcaption><div class="chart-scroll">{svg}</div></figure>'
    )


def bar_chart(
    *, title: str, desc: str, labels: list[str], tips: list[str], series: list[Series], x_title: str, y_title: str
) -> SafeString:
    """Bars side by side per bucket, one per series, on a count axis from 0."""
    top = max((v or 0 for s in series for v in s.values), default=0)
    step = max(_step(top), 1)
    limit = step * max(math.ceil(top / step), 1)
    width = PLOT_W / max(len(labels), 1)
    bar = min(width * 0.8 / len(series), BAR_MAX)
    slots = []
    for i in range(len(labels)):
        x = LEFT + i * width + (width - bar * len(series)) / 2
        rects = []
        for j, s in enumerate(series):
            if s.values[i]:
                y = _y(s.values[i], limit)
                rects.append(
                    f'<rect class="bar {escape(s.css)}" x="{x + j * bar:.1f}" y="{y:.1f}" '
                    f'width="{max(bar - 0.5, 0.5):.1f}" height="{TOP + PLOT_H - y:.1f}"/>'
                )
        slots.append("".join(rects))
    tips = [
        f"{tip}: " + ", ".join(f"{s.values[i] or 0:g} {s.name.lower()}" for s in series) for i, tip in enumerate(tips)
    ]
    svg = _svg(
        title=title,
        desc=desc,
        labels=labels,
        tips=tips,
        limit=limit,
        step=step,
        unit="",
        x_title=x_title,
        y_title=y_title,
        slots=slots,
    )
    return _figure(title, series, svg)


def line_chart(
    *,
    title: str,
    desc: str,
    labels: list[str],
    tips: list[str],
    series: Series,
    x_title: str,
    y_title: str,
    missing: str = DASH,
) -> SafeString:
    """A percentage per bucket as a line on a 0-100 % axis; a bucket without a value (said as `missing` in its
    tooltip) breaks the line."""
    width = PLOT_W / max(len(labels), 1)
    points = [None if v is None else (LEFT + (i + 0.5) * width, _y(v, 100)) for i, v in enumerate(series.values)]
    path, pen_down = [], False
    for point in points:
        if point is None:
            pen_down = False
            continue
        path.append(f"{'L' if pen_down else 'M'}{point[0]:.1f} {point[1]:.1f}")
        pen_down = True
    under = f'<path class="line {escape(series.css)}" d="{" ".join(path)}"/>' if path else ""
    slots = [
        "" if p is None else f'<circle class="dot {escape(series.css)}" cx="{p[0]:.1f}" cy="{p[1]:.1f}" r="3.5"/>'
        for p in points
    ]
    tips = [f"{tip}: {missing if v is None else percent(v)}" for tip, v in zip(tips, series.values, strict=True)]
    svg = _svg(
        title=title,
        desc=desc,
        labels=labels,
        tips=tips,
        limit=100,
        step=25,
        unit="%",
        x_title=x_title,
        y_title=y_title,
        slots=slots,
        under=under,
    )
    return _figure(title, [series], svg)


# ---- the report's charts ------------------------------------------------------------------------------------------

BUCKET_WORDS = {"hour": "Hour", "day": "Day", "month": "Month"}


def _bucket_labels(buckets: list[dict], by: str) -> tuple[list[str], list[str]]:
    """The short label under each bucket, and its full name for the tooltip."""
    short, full = [], []
    for row in buckets:
        moment: datetime = row["bucket"]
        if by == "hour":
            short.append(f"{moment:%H}")
            full.append(f"{moment:%a %d %b, %H}:00{DASH}{(moment.hour + 1) % 24:02}:00")
        elif by == "day":
            short.append(str(moment.day))
            full.append(f"{moment:%a %d %b %Y}")
        else:
            short.append(f"{moment:%b}")
            full.append(f"{moment:%B %Y}")
    return short, full


def calls_chart(buckets: list[dict], *, by: str, title: str) -> SafeString:
    """Offered, answered and abandoned calls per bucket (queue_buckets rows)."""
    labels, tips = _bucket_labels(buckets, by)
    series = [
        Series(name, f"s-{key}", [row[key] for row in buckets])
        for key, name in (("offered", "Offered"), ("answered", "Answered"), ("abandoned", "Abandoned"))
    ]
    offered = sum(series[0].values)
    if offered:
        busiest = max(range(len(buckets)), key=lambda i: series[0].values[i])
        desc = (
            f"{offered} calls offered, {sum(series[1].values)} answered, {sum(series[2].values)} abandoned; "
            f"the most offered, {series[0].values[busiest]}, in {tips[busiest]}."
        )
    else:
        desc = "No calls in this period."
    return bar_chart(
        title=title, desc=desc, labels=labels, tips=tips, series=series, x_title=BUCKET_WORDS[by], y_title="Calls"
    )


def service_level_chart(buckets: list[dict], *, by: str, title: str) -> SafeString:
    """The service level (answered within the queue's threshold / answered) per bucket."""
    labels, tips = _bucket_labels(buckets, by)
    values = [row["service_level"] for row in buckets]
    known = [v for v in values if v is not None]
    if known:
        desc = f"Service level per {by.lower()}, from {percent(min(known))} to {percent(max(known))}."
    else:
        desc = "No answered calls in this period."
    return line_chart(
        title=title,
        desc=desc,
        labels=labels,
        tips=tips,
        series=Series("Service level", "s-service_level", values),
        x_title=BUCKET_WORDS[by],
        y_title="Service level",
        missing="no answered calls",
    )
