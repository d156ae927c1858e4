"""Charts of the reports as SVG drawn on the server (issue 13): no script, no asset from anywhere,
readable without JavaScript and printable. Each chart is a function of report tables and the
page's words; `CHARTS` lists them in the dashboard's order, so one more chart is one more entry
(its title's word, `title_key`, goes into both languages of `api.dashboard.WORDS`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from cashback.domain.money import Money
from cashback.reports import Row

WIDTH = 640
BAR = 24  # a bar's height
GAP = 10
LABEL = 205  # room for the labels left of the bars
PALETTE = ("#0b6e3d", "#2f8f5b", "#e0a100", "#d0671a", "#b00020")
INK = "#1a1a1a"
MUTED = "#555"


@dataclass(frozen=True)
class ChartWords:
    """What a chart says, in the page's language."""

    stages: Mapping[str, str]  # funnel stage or claim status -> its name
    decided_in_time: str
    paid_in_time: str
    no_data: str
    claims: str
    paid: str  # budget burn: paid out of the budget
    committed: str  # budget burn: approved, not yet paid
    no_budget: str  # an offer without a budget
    no_offers: str  # the budget burn without any offer


@dataclass(frozen=True)
class Chart:
    name: str
    title_key: str  # the page's word for its title
    reports: tuple[str, ...]  # the reports it is drawn from
    draw: Callable[[Mapping[str, list[Row]], ChartWords], str]


def _svg(height: int, label: str, body: Sequence[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" aria-label={quoteattr(label)} '
        'font-family="Segoe UI, Arial, Helvetica, sans-serif" font-size="14">'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", fill: str = INK) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" '
        f'dominant-baseline="middle">{escape(text)}</text>'
    )


def _rect(x: float, y: float, width: float, height: float, fill: str, tip: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 0):.1f}" height="{height}" '
        f'fill="{fill}"><title>{escape(tip)}</title></rect>'
    )


def _empty(words: ChartWords, message: str | None = None) -> str:
    said = words.no_data if message is None else message
    return _svg(40, said, [_text(WIDTH / 2, 20, said, anchor="middle")])


def _short(text: str, most: int = 26) -> str:
    """A label that fits left of the bars (the whole of it is in its tooltip)."""
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


def funnel_chart(tables: Mapping[str, list[Row]], words: ChartWords) -> str:
    """Claims per funnel stage, all currencies together (the amounts are in the table)."""
    counts: dict[str, int] = {}
    for row in tables["funnel"]:
        stage = str(row["stage"])
        counts[stage] = counts.get(stage, 0) + int(row["claims"] or 0)
    if not counts or max(counts.values()) == 0:
        return _empty(words)
    top = max(counts.values())
    span = WIDTH - LABEL - 60
    body = []
    for index, (stage, count) in enumerate(counts.items()):
        y = GAP + index * (BAR + GAP)
        name = words.stages.get(stage, stage)
        body.append(_text(LABEL - 8, y + BAR / 2, name, anchor="end"))
        body.append(_rect(LABEL, y, span * count / top, BAR, PALETTE[0], f"{name}: {count}"))
        body.append(_text(LABEL + span * count / top + 6, y + BAR / 2, str(count)))
    return _svg(GAP + len(counts) * (BAR + GAP), words.claims, body)


def sla_chart(tables: Mapping[str, list[Row]], words: ChartWords) -> str:
    """Per month received (all offers): the share decided in time (R9) and paid in time (R14)."""
    months: dict[str, list[int]] = {}
    for row in tables["sla"]:
        totals = months.setdefault(str(row["month"]), [0, 0, 0, 0])
        for i, column in enumerate(
            ("decided_in_time", "decisions_due", "paid_in_time", "payments_due")
        ):
            totals[i] += int(row[column] or 0)
    if not months:
        return _empty(words)
    span = WIDTH - LABEL - 70
    body = []
    y = GAP
    for month, (decided, decisions, paid, payments) in sorted(months.items()):
        body.append(_text(LABEL - 8, y + BAR, month, anchor="end"))
        for label, part, whole, colour in (
            (words.decided_in_time, decided, decisions, PALETTE[0]),
            (words.paid_in_time, paid, payments, PALETTE[2]),
        ):
            if whole:
                share = part / whole
                tip = f"{month} {label}: {part}/{whole} ({share:.0%})"
                body.append(_rect(LABEL, y, span, BAR, "#eef1f4", tip))
                body.append(_rect(LABEL, y, span * share, BAR, colour, tip))
                text = f"{share:.0%} ({part}/{whole})"
            else:
                text = "–"
            body.append(_text(LABEL + span + 6, y + BAR / 2, text, fill=MUTED))
            y += BAR + 2
        y += GAP
    legend_y = y + 4
    body.append(_rect(LABEL, legend_y, 12, 12, PALETTE[0], words.decided_in_time))
    body.append(_text(LABEL + 18, legend_y + 6, words.decided_in_time))
    body.append(_rect(LABEL + 230, legend_y, 12, 12, PALETTE[2], words.paid_in_time))
    body.append(_text(LABEL + 248, legend_y + 6, words.paid_in_time))
    return _svg(legend_y + 20, f"{words.decided_in_time}, {words.paid_in_time}", body)


def waiting_chart(tables: Mapping[str, list[Row]], words: ChartWords) -> str:
    """Open claims per status, stacked by the days they have waited in it."""
    rows = tables["waiting"]
    buckets = [column for column in (rows[0] if rows else {}) if column.startswith("days_")]
    top = max((int(row["claims"] or 0) for row in rows), default=0)
    if top == 0:
        return _empty(words)
    span = WIDTH - LABEL - 60
    body = []
    for index, row in enumerate(rows):
        y = GAP + index * (BAR + GAP)
        status = str(row["status"])
        name = words.stages.get(status, status)
        body.append(_text(LABEL - 8, y + BAR / 2, name, anchor="end"))
        x = float(LABEL)
        for colour, bucket in zip(PALETTE, buckets, strict=False):
            count = int(row[bucket] or 0)
            if count:
                width = span * count / top
                days = bucket.removeprefix("days_")
                body.append(_rect(x, y, width, BAR, colour, f"{name}, {days}: {count}"))
                x += width
        body.append(_text(x + 6, y + BAR / 2, str(row["claims"])))
    legend_y = GAP + len(rows) * (BAR + GAP)
    for index, (colour, bucket) in enumerate(zip(PALETTE, buckets, strict=False)):
        x = LABEL + index * 80
        body.append(_rect(x, legend_y, 12, 12, colour, bucket.removeprefix("days_")))
        body.append(_text(x + 16, legend_y + 6, bucket.removeprefix("days_")))
    return _svg(legend_y + 20, words.claims, body)


def budget_burn_chart(tables: Mapping[str, list[Row]], words: ChartWords) -> str:
    """D7: per offer (the budget-use report's rows), what is paid and what is committed as a
    share of its budget, stacked on the budget's whole width; an offer without a budget is
    listed as such. Shares of each offer's own budget: currencies are never mixed."""
    rows = tables["budget_use"]
    if not rows:
        return _empty(words, words.no_offers)
    span = WIDTH - LABEL - 90
    body = []
    for index, row in enumerate(rows):
        y = GAP + index * (BAR + GAP)
        name = str(row["offer_name"] or row["offer_id"])
        label = _text(LABEL - 8, y + BAR / 2, _short(name), anchor="end")
        body.append(f"<g><title>{escape(name)}</title>{label}</g>")
        budget = row["budget"]
        if budget is None:
            body.append(_text(LABEL, y + BAR / 2, words.no_budget, fill=MUTED))
            continue
        whole = int(budget)
        currency = str(row["currency"])
        total = Money(minor_units=whole, currency=currency).format()
        body.append(_rect(LABEL, y, span, BAR, "#eef1f4", f"{name}: {total}"))
        x = float(LABEL)
        shares = []
        for label, column, colour in (
            (words.paid, "paid", PALETTE[0]),
            (words.committed, "committed", PALETTE[2]),
        ):
            part = int(row[column] or 0)
            share = part / whole if whole else 0.0
            shares.append(f"{share:.0%}")
            amount = Money(minor_units=part, currency=currency).format()
            tip = f"{name}, {label}: {amount} / {total} ({share:.0%})"
            width = min(span * share, LABEL + span - x)
            body.append(_rect(x, y, width, BAR, colour, tip))
            x += max(width, 0)
        body.append(_text(LABEL + span + 6, y + BAR / 2, " + ".join(shares), fill=MUTED))
    legend_y = GAP + len(rows) * (BAR + GAP)
    body.append(_rect(LABEL, legend_y, 12, 12, PALETTE[0], words.paid))
    body.append(_text(LABEL + 18, legend_y + 6, words.paid))
    body.append(_rect(LABEL + 230, legend_y, 12, 12, PALETTE[2], words.committed))
    body.append(_text(LABEL + 248, legend_y + 6, words.committed))
    return _svg(legend_y + 20, f"{words.paid}, {words.committed}", body)


CHARTS: tuple[Chart, ...] = (
    Chart("funnel", "chart_funnel", ("funnel",), funnel_chart),
    Chart("sla", "chart_sla", ("sla",), sla_chart),
    Chart("waiting", "chart_waiting", ("waiting",), waiting_chart),
    Chart("budget_burn", "chart_budget_burn", ("budget_use",), budget_burn_chart),
)
