"""The reports over HTTP (issue 13): operators only, JSON and CSV, clear errors; and the
operators' dashboard behind its own sign-in, in German and English, its charts SVG drawn on the
server, each breach linked to its claim. The figures themselves are checked by hand in
tests/db/test_reports.py on both databases; here the seeded program of tests/reports_data.py
is read through the routes."""

from __future__ import annotations

import csv
import io
import uuid

from api.accounts import create_operator
from api.bank_details import SECURITY_HEADERS
from api.deps import SESSION_COOKIE
from tests.api.harness import PASSWORD, Api
from tests.reports_data import AS_OF, OFFER_A, OFFER_B, seed_reports

DASHBOARD = "/operator/dashboard"
AS_OF_PARAMS = {"as_of": AS_OF.isoformat()}


def _seed(api: Api) -> None:
    with api.services.database.transaction() as session:
        seed_reports(session)


async def test_r9_r14_reports_as_json_for_operators_only(api: Api) -> None:
    """Every report in one answer; one report by name; a reseller's token is refused (403),
    none at all 401."""
    _seed(api)
    everything = await api.http.get("/operator/reports", params=AS_OF_PARAMS, headers=api.operator)
    assert everything.status_code == 200, everything.text
    body = everything.json()
    assert body["as_of"] == "2026-05-29"
    assert [r["name"] for r in body["reports"]] == [
        "sla",
        "sla_breaches",
        "funnel",
        "stages",
        "waiting",
        "budget_use",
    ]
    breaches = await api.http.get(
        "/operator/reports/sla_breaches", params=AS_OF_PARAMS, headers=api.operator
    )
    assert [r["claim_id"] for r in breaches.json()["rows"]] == ["c2", "c5", "c4", "c7"]
    assert (await api.http.get("/operator/reports")).status_code == 401
    reseller = await api.register()
    refused = await api.http.get("/operator/reports", headers=reseller.headers)
    assert refused.status_code == 403


async def test_r9_r14_a_report_as_csv_with_its_columns(api: Api) -> None:
    _seed(api)
    answer = await api.http.get(
        "/operator/reports/sla.csv",
        params={**AS_OF_PARAMS, "offer_id": OFFER_B},
        headers=api.operator,
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="sla-2026-05-29.csv"' in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0][:4] == ["offer_id", "month", "claims", "decisions_due"]
    assert rows[1] == [OFFER_B, "2026-04", "2", "2", "2", "0", "1.0", "1", "0", "1", "0.0"]
    assert len(rows) == 2


async def test_d7_budget_use_per_offer_as_json_and_csv(api: Api) -> None:
    """D7: the budget service's figures per offer, in minor units; an offer without a budget
    has empty budget and remaining cells; the same as GET /operator/budgets."""
    _seed(api)
    answer = await api.http.get(
        "/operator/reports/budget_use", params=AS_OF_PARAMS, headers=api.operator
    )
    assert answer.status_code == 200, answer.text
    rows = answer.json()["rows"]
    assert [(r["offer_id"], r["budget"], r["remaining"]) for r in rows] == [
        (OFFER_A, 50000, 30000),
        (OFFER_B, None, None),
    ]
    budgets = await api.http.get("/operator/budgets", headers=api.operator)
    assert budgets.status_code == 200, budgets.text
    assert budgets.json()["offers"] == rows
    table = await api.http.get("/operator/reports/budget_use.csv", headers=api.operator)
    assert table.status_code == 200
    assert list(csv.reader(io.StringIO(table.text))) == [
        ["offer_id", "offer_name", "currency", "budget", "committed", "paid", "released",
         "remaining"],
        [OFFER_A, "Office cash back spring 2026", "EUR", "50000", "2500", "17500", "3750",
         "30000"],
        [OFFER_B, "Office cash back Switzerland", "CHF", "", "8000", "0", "2000", ""],
    ]  # fmt: skip
    one = await api.http.get(
        "/operator/reports/budget_use", params={"offer_id": OFFER_B}, headers=api.operator
    )
    assert [r["offer_id"] for r in one.json()["rows"]] == [OFFER_B]


async def test_unknown_report_offer_or_day_is_a_clear_error(api: Api) -> None:
    unknown = await api.http.get("/operator/reports/budget", headers=api.operator)
    assert unknown.status_code == 404
    assert (
        "the reports are: sla, sla_breaches, funnel, stages, waiting, budget_use"
        in unknown.json()["detail"]
    )
    no_offer = await api.http.get(
        "/operator/reports", params={"offer_id": "nope"}, headers=api.operator
    )
    assert (no_offer.status_code, no_offer.json()["detail"]) == (
        404,
        "offer nope was not found",
    )
    bad_day = await api.http.get(
        "/operator/reports/sla", params={"as_of": "29.05.2026"}, headers=api.operator
    )
    assert bad_day.status_code == 422
    far = await api.http.get(
        "/operator/reports/sla", params={"as_of": "6046-11-12"}, headers=api.operator
    )
    assert far.status_code == 422
    assert far.json()["error"] == "invalid_day"
    assert (
        "as_of 6046-11-12 is out of range: a report is as of a day from 2000-01-01"
        in (far.json()["detail"])
    )


async def _signed_in(api: Api, language: str = "en") -> str:
    email = f"ops-{uuid.uuid4().hex[:6]}@program.example"
    create_operator(api.services.database, email, PASSWORD)
    answer = await api.http.post(
        f"{DASHBOARD}/sign-in?lang={language}", data={"username": email, "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.text
    cookie = answer.headers["set-cookie"]
    assert f"Path={DASHBOARD}" in cookie
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert answer.headers["location"] == f"{DASHBOARD}?lang={language}"
    return email


async def test_the_dashboard_asks_operators_to_sign_in_and_refuses_resellers(api: Api) -> None:
    first = await api.http.get(DASHBOARD, params={"lang": "de"})
    assert first.status_code == 401
    assert "Anmeldung zur Programm-Übersicht" in first.text
    for header, value in SECURITY_HEADERS.items():
        assert first.headers[header] == value
    wrong = await api.http.post(
        f"{DASHBOARD}/sign-in?lang=en", data={"username": "nobody@x.example", "password": "x"}
    )
    assert wrong.status_code == 401
    assert "Wrong e-mail address or password." in wrong.text
    reseller = await api.register()
    await api.http.post(
        f"{DASHBOARD}/sign-in?lang=en", data={"username": reseller.email, "password": PASSWORD}
    )
    refused = await api.http.get(DASHBOARD, params={"lang": "en"})
    assert refused.status_code == 403
    assert "the dashboard is for operators only" in refused.text


async def test_the_dashboard_draws_the_reports_and_links_each_breach(api: Api) -> None:
    """Charts as inline SVG (no script, nothing fetched), the breaches linked to claim pages,
    CSV downloads with the cookie; in English and German; signing out ends the session."""
    _seed(api)
    email = await _signed_in(api)
    page = await api.http.get(DASHBOARD, params={"lang": "en", **AS_OF_PARAMS})
    assert page.status_code == 200
    assert email in page.text
    assert page.text.count("<svg") == 4
    assert "<script" not in page.text
    assert "http://" not in page.text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for claim_id in ("c2", "c5", "c4", "c7"):
        assert f'href="{DASHBOARD}/claims/{claim_id}?lang=en"' in page.text
    assert "Promises kept per month received" in page.text
    assert "Budget burn per offer (D7)" in page.text
    assert '<figure id="chart-budget_burn">' in page.text
    assert "no budget" in page.text  # offer B
    assert 'data-report="budget_use"' in page.text
    german = await api.http.get(DASHBOARD, params={"lang": "de", **AS_OF_PARAMS})
    assert "Eingehaltene Zusagen je Eingangsmonat" in german.text
    assert "rechtzeitig entschieden" in german.text
    assert "Budgetverbrauch je Angebot (D7)" in german.text
    assert "kein Budget" in german.text

    claim = await api.http.get(f"{DASHBOARD}/claims/c2", params={"lang": "en"})
    assert claim.status_code == 200
    assert 'id="claim-status">awaiting bank details<' in claim.text
    assert claim.text.count('<tr><td class="number">') == 2  # its two status changes
    assert (await api.http.get(f"{DASHBOARD}/claims/none")).status_code == 404

    download = await api.http.get(f"{DASHBOARD}/reports/waiting.csv", params=AS_OF_PARAMS)
    assert download.status_code == 200
    assert download.text.startswith("status,claims,days_0-6")

    assert (await api.http.get("/operator/reports")).status_code == 401  # the cookie: not here
    token = api.http.cookies.get(SESSION_COOKIE)
    assert token
    assert (await api.http.post(f"{DASHBOARD}/sign-out?lang=en")).status_code == 303
    after = await api.http.get(DASHBOARD, headers={"Cookie": f"{SESSION_COOKIE}={token}"})
    assert after.status_code == 401


async def test_the_dashboard_names_an_unknown_offer(api: Api) -> None:
    await _signed_in(api)
    page = await api.http.get(DASHBOARD, params={"lang": "en", "offer_id": "nope"})
    assert page.status_code == 404
    assert "There is no such offer." in page.text
    far = await api.http.get(DASHBOARD, params={"lang": "en", "as_of": "1999-12-31"})
    assert far.status_code == 422
    assert "Please choose a day from 2000 to a year from now." in far.text
