"""The dashboard's charts (issue 13): SVG drawn on the server from the report tables, every
text escaped, and a chart without data says so instead of drawing nothing."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from cashback.charts import (
    CHARTS,
    ChartWords,
    budget_burn_chart,
    funnel_chart,
    sla_chart,
    waiting_chart,
)
from cashback.reports import Row

WORDS = ChartWords(
    stages={"paid": "<b>paid</b>", "UNDER_REVIEW": "under review"},
    decided_in_time="decided in time",
    paid_in_time="paid & in time",
    no_data="No claims yet.",
    claims="Claims",
    paid="paid",
    committed="committed",
    no_budget="no budget",
    no_offers="No offers yet.",
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


def _rects(svg: str) -> list[tuple[float, float, str]]:
    """Each bar's x, width and tooltip."""
    root = ET.fromstring(svg)
    return [
        (float(rect.get("x", 0)), float(rect.get("width", 0)), rect.findtext(f"{SVG}title", ""))
        for rect in root.iter(f"{SVG}rect")
    ]


def test_d7_the_budget_burn_shows_paid_and_committed_as_shares_of_each_budget() -> None:
    """D7: per offer, paid then committed stacked on the budget's width (shares of its own
    budget, whatever its currency); an offer without a budget says so; labels are escaped."""
    rows: list[Row] = [
        {"offer_id": "a", "offer_name": "Spring <2026> & more", "currency": "EUR",
         "budget": 50000, "committed": 2500, "paid": 17500, "released": 3750,
         "remaining": 30000},
        {"offer_id": "b", "offer_name": "Switzerland", "currency": "CHF", "budget": None,
         "committed": 8000, "paid": 0, "released": 2000, "remaining": None},
        {"offer_id": "c", "offer_name": "", "currency": "CHF", "budget": 1000,
         "committed": 0, "paid": 1000, "released": 0, "remaining": 0},
    ]  # fmt: skip
    svg = budget_burn_chart({"budget_use": rows}, WORDS)
    assert "<2026>" not in svg
    assert "&lt;2026&gt; &amp; more" in svg
    long = budget_burn_chart({"budget_use": [{**rows[1], "offer_name": "N" * 40}]}, WORDS)
    assert _texts(long)[0] == "N" * 25 + "…"
    assert f"<title>{'N' * 40}</title>" in long
    texts = _texts(svg)
    assert texts[:3] == ["Spring <2026> & more", "35% + 5%", "Switzerland"]
    assert texts[3:] == ["no budget", "c", "100% + 0%", "paid", "committed"]
    bars = _rects(svg)
    track, paid, committed = bars[:3]
    assert track[2] == "Spring <2026> & more: 500.00 EUR"
    assert paid[2] == "Spring <2026> & more, paid: 175.00 EUR / 500.00 EUR (35%)"
    assert committed[2] == "Spring <2026> & more, committed: 25.00 EUR / 500.00 EUR (5%)"
    assert paid[0] == track[0]
    assert paid[1] / track[1] == pytest.approx(0.35, abs=0.001)  # widths to a tenth of a pixel
    assert committed[0] == pytest.approx(paid[0] + paid[1], abs=0.11)
    assert committed[1] / track[1] == pytest.approx(0.05, abs=0.001)
    full = bars[3:6]  # offer c, its budget all paid
    assert full[1][1] == full[0][1]
    assert full[2][1] == 0.0


def test_charts_without_data_say_so() -> None:
    empty: dict[str, list[Row]] = {"funnel": [], "sla": [], "waiting": [], "budget_use": []}
    for chart in CHARTS:
        expected = "No offers yet." if chart.name == "budget_burn" else "No claims yet."
        assert _texts(chart.draw(empty, WORDS)) == [expected]
    waiting: list[Row] = [{"status": "UNDER_REVIEW", "claims": 0, "days_0-6": 0}]
    assert _texts(waiting_chart({"waiting": waiting}, WORDS)) == ["No claims yet."]
