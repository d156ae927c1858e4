"""The dashboard's charts (issue 13): SVG drawn on the server from the report tables, every
text escaped, and a chart without data says so instead of drawing nothing."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from cashback.charts import CHARTS, ChartWords, funnel_chart, sla_chart, waiting_chart
from cashback.reports import Row

WORDS = ChartWords(
    stages={"paid": "<b>paid</b>", "UNDER_REVIEW": "under review"},
    decided_in_time="decided in time",
    paid_in_time="paid & in time",
    no_data="No claims yet.",
    claims="Claims",
)
SVG = "{http://www.w3.org/2000/svg}"


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [element.text or "" for element in root.iter(f"{SVG}text")]


def test_r9_r14_the_sla_chart_shows_each_months_shares() -> None:
    """R9, R14: per month, the share decided in time and paid in time, summed over offers."""
    rows: list[Row] = [
        {"month": "2026-03", "decided_in_time": 4, "decisions_due": 5, "paid_in_time": 1,
         "payments_due": 2},
        {"month": "2026-03", "decided_in_time": 1, "decisions_due": 1, "paid_in_time": 0,
         "payments_due": 0},
        {"month": "2026-04", "decided_in_time": 0, "decisions_due": 0, "paid_in_time": 0,
         "payments_due": 0},
    ]  # fmt: skip
    texts = _texts(sla_chart({"sla": rows}, WORDS))
    assert texts[:3] == ["2026-03", "83% (5/6)", "50% (1/2)"]
    assert texts[3:6] == ["2026-04", "–", "–"]
    assert "paid & in time" in texts


def test_labels_are_escaped_and_counts_drawn() -> None:
    funnel: list[Row] = [
        {"stage": "paid", "currency": "EUR", "claims": 2},
        {"stage": "paid", "currency": "CHF", "claims": 1},
    ]
    svg = funnel_chart({"funnel": funnel}, WORDS)
    assert "<b>" not in svg
    assert _texts(svg) == ["<b>paid</b>", "3"]


def test_charts_without_data_say_so() -> None:
    empty: dict[str, list[Row]] = {"funnel": [], "sla": [], "waiting": []}
    for chart in CHARTS:
        assert _texts(chart.draw(empty, WORDS)) == ["No claims yet."]
    waiting: list[Row] = [{"status": "UNDER_REVIEW", "claims": 0, "days_0-6": 0}]
    assert _texts(waiting_chart({"waiting": waiting}, WORDS)) == ["No claims yet."]
