"""The operators' dashboard (issue 13): the reports of `cashback.reports` as tables and as SVG
charts drawn on the server (`cashback.charts`; no script, nothing loaded from elsewhere), in
German and English, with each breach linked to a page of its claim (read model and timeline).

Operators sign in on the page itself, with the code of the codec's sign-in (Argon2id, the
throttle, `BrowserGuard` against sign-ins from other sites); the session cookie it sets has
the path `/operator/dashboard`, so it opens these read-only pages and nothing else (every API
endpoint takes only a bearer token, the codec its own cookie).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Cookie, Form, Header, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from api.bank_details import _language, render
from api.browser import SESSION_COOKIE
from api.codec_sign_in import (
    Session,
    browser_session,
    signed_in_page,
    signed_out_page,
)
from api.deps import ServicesDep
from api.reports import csv_response
from api.reports import tables as report_tables
from api.services import Services
from cashback.charts import CHARTS, ChartWords
from cashback.db import TimelineRepository
from cashback.db.claim_lists import ClaimLists
from cashback.db.reports import ReportSelection
from cashback.domain.reseller import Language
from cashback.reports import REPORTS, DayOutOfRange, UnknownOffer, build_reports

DASHBOARD = "/operator/dashboard"
router = APIRouter(prefix=DASHBOARD, tags=["dashboard"], include_in_schema=False)

SessionCookie = Annotated[str | None, Cookie(alias=SESSION_COOKIE)]
Lang = Annotated[str | None, Query(max_length=2)]
AcceptLanguage = Annotated[str | None, Header()]

WORDS: dict[Language, dict[str, Any]] = {
    Language.ENGLISH: {
        "title": "Programme dashboard",
        "other_language": ("de", "Deutsch"),
        "as_of": "As of",
        "offer": "Offer",
        "all_offers": "all offers",
        "show": "Show",
        "chart_funnel": "Funnel: claims per stage",
        "chart_sla": "Promises kept per month received (R9: 14 business days, R14: 45 days)",
        "chart_waiting": "Open claims per status, by days waiting in it",
        "chart_budget_burn": "Budget burn per offer (D7): paid and committed, share of the budget",
        "budget_paid": "paid",
        "budget_committed": "committed",
        "no_budget": "no budget",
        "no_offers": "No offers yet.",
        "decided_in_time": "decided in time",
        "paid_in_time": "paid in time",
        "no_data": "No claims yet.",
        "claims": "Claims",
        "breaches": "Breaches",
        "no_breaches": "No breaches: every promise was kept.",
        "tables": "The reports as tables",
        "report_titles": {},  # the reports' own titles are English
        "csv": "CSV",
        "kind": {"decision": "decision (R9)", "payment": "payment (R14)"},
        "breach_columns": (
            "Claim",
            "Promise",
            "Offer",
            "Reseller",
            "Due on",
            "Done on",
            "Days late",
            "Business days (R9)",
        ),
        "open": "open",
        "sign_in_title": "Sign in to the dashboard",
        "sign_in_intro": "The dashboard is for the programme's operators.",
        "email": "E-mail address",
        "password": "Password",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "signed_in_as": "Signed in as",
        "not_operator": "This account is not an operator's: the dashboard is for operators only.",
        "problems": {
            "wrong": "Wrong e-mail address or password.",
            "throttled": "Too many failed sign-ins: please wait a while, then try again.",
            "missing": "Please enter your e-mail address and password.",
            "offer": "There is no such offer.",
            "day": "Please choose a day from 2000 to a year from now.",
        },
        "back": "Back to the dashboard",
        "claim": "Claim",
        "timeline": "Timeline",
        "timeline_columns": ("At", "Actor", "Event", "From", "To", "Reason"),
        "yes": "yes",
        "no": "no",
        "fact": {
            "status": "Status",
            "reseller": "Reseller",
            "agreement": "Agreement",
            "received": "Received",
            "review_deadline": "Review deadline (R9)",
            "escalated": "Escalated",
            "decided_by": "Decided by",
            "amount": "Amount (minor units)",
            "final_confirmation_on": "Final confirmation",
            "payout_due": "Payout due (R14)",
            "payout_overdue": "Payout overdue",
            "paid_on": "Paid on",
        },
        "not_found": "There is no such claim.",
        "stages": {
            "submitted": "submitted",
            "approved": "approved",
            "rejected": "rejected",
            "cancelled": "cancelled",
            "forfeited": "forfeited",
            "paid": "paid",
            "SUBMITTED": "submitted",
            "UNDER_REVIEW": "under review",
            "AWAITING_BANK_DETAILS": "awaiting bank details",
            "SCHEDULED_FOR_PAYMENT": "scheduled for payment",
            "PAYMENT_FAILED": "payment failed",
            "REJECTED": "rejected",
            "PAID": "paid",
            "CANCELLED": "cancelled",
        },
    },
    Language.GERMAN: {
        "title": "Programm-Übersicht",
        "other_language": ("en", "English"),
        "as_of": "Stand",
        "offer": "Angebot",
        "all_offers": "alle Angebote",
        "show": "Anzeigen",
        "chart_funnel": "Trichter: Anträge je Stufe",
        "chart_sla": "Eingehaltene Zusagen je Eingangsmonat (R9: 14 Werktage, R14: 45 Tage)",
        "chart_waiting": "Offene Anträge je Status, nach Tagen darin",
        "chart_budget_burn": "Budgetverbrauch je Angebot (D7): ausgezahlt und gebunden, Anteil am "
        "Budget",
        "budget_paid": "ausgezahlt",
        "budget_committed": "gebunden",
        "no_budget": "kein Budget",
        "no_offers": "Noch keine Angebote.",
        "decided_in_time": "rechtzeitig entschieden",
        "paid_in_time": "rechtzeitig ausgezahlt",
        "no_data": "Noch keine Anträge.",
        "claims": "Anträge",
        "breaches": "Verstöße",
        "no_breaches": "Keine Verstöße: Jede Zusage wurde eingehalten.",
        "tables": "Die Berichte als Tabellen",
        "report_titles": {
            "sla": "R9, R14: in 14 Werktagen entschieden, in 45 Tagen ausgezahlt",
            "sla_breaches": "R9, R14: nicht eingehaltene Zusagen",
            "funnel": "Anträge und Beträge je Stufe",
            "stages": "Tage je Stufe: Median und 90. Perzentil",
            "waiting": "Offene Anträge je Status, nach Tagen darin",
            "budget_use": "D7: Budgetverbrauch je Angebot, in kleinster Einheit (jetzt, "
            "unabhängig vom Tag)",
        },
        "csv": "CSV",
        "kind": {"decision": "Entscheidung (R9)", "payment": "Auszahlung (R14)"},
        "breach_columns": (
            "Antrag",
            "Zusage",
            "Angebot",
            "Reseller",
            "Fällig am",
            "Erledigt am",
            "Tage zu spät",
            "Werktage (R9)",
        ),
        "open": "offen",
        "sign_in_title": "Anmeldung zur Programm-Übersicht",
        "sign_in_intro": "Die Übersicht ist für die Operatoren des Programms.",
        "email": "E-Mail-Adresse",
        "password": "Passwort",
        "sign_in": "Anmelden",
        "sign_out": "Abmelden",
        "signed_in_as": "Angemeldet als",
        "not_operator": "Dieses Konto ist kein Operator-Konto: Die Übersicht ist nur für "
        "Operatoren.",
        "problems": {
            "wrong": "Falsche E-Mail-Adresse oder falsches Passwort.",
            "throttled": "Zu viele fehlgeschlagene Anmeldungen: Bitte warten Sie etwas und "
            "versuchen Sie es dann erneut.",
            "missing": "Bitte geben Sie E-Mail-Adresse und Passwort ein.",
            "offer": "Dieses Angebot gibt es nicht.",
            "day": "Bitte wählen Sie einen Tag zwischen 2000 und einem Jahr ab heute.",
        },
        "back": "Zurück zur Übersicht",
        "claim": "Antrag",
        "timeline": "Verlauf",
        "timeline_columns": ("Zeit", "Von", "Ereignis", "Von Status", "Zu Status", "Grund"),
        "yes": "ja",
        "no": "nein",
        "fact": {
            "status": "Status",
            "reseller": "Reseller",
            "agreement": "Vertrag",
            "received": "Eingegangen",
            "review_deadline": "Prüffrist (R9)",
            "escalated": "Eskaliert",
            "decided_by": "Entschieden von",
            "amount": "Betrag (kleinste Einheit)",
            "final_confirmation_on": "Endgültige Bestätigung",
            "payout_due": "Auszahlung fällig (R14)",
            "payout_overdue": "Auszahlung überfällig",
            "paid_on": "Ausgezahlt am",
        },
        "not_found": "Diesen Antrag gibt es nicht.",
        "stages": {
            "submitted": "eingereicht",
            "approved": "genehmigt",
            "rejected": "abgelehnt",
            "cancelled": "storniert",
            "forfeited": "verfallen",
            "paid": "ausgezahlt",
            "SUBMITTED": "eingereicht",
            "UNDER_REVIEW": "in Prüfung",
            "AWAITING_BANK_DETAILS": "wartet auf Bankdaten",
            "SCHEDULED_FOR_PAYMENT": "zur Auszahlung geplant",
            "PAYMENT_FAILED": "Auszahlung fehlgeschlagen",
            "REJECTED": "abgelehnt",
            "PAID": "ausgezahlt",
            "CANCELLED": "storniert",
        },
    },
}


def dashboard_path(public_base_url: str) -> str:
    """The dashboard's path under the API's public address (also its cookie's path)."""
    return urlsplit(public_base_url).path.rstrip("/") + DASHBOARD


def _page(
    services: Services,
    template: str,
    language: Language,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    return render(
        template,
        status_code,
        language,
        words=WORDS[language],
        home=dashboard_path(services.settings.public_base_url),
        support_address=services.settings.support_address,
        **context,
    )


def _sign_in_page(
    services: Services,
    language: Language,
    *,
    status_code: int = 200,
    problem: str | None = None,
    username: str = "",
) -> HTMLResponse:
    return _page(
        services,
        "dashboard_sign_in.html",
        language,
        status_code=status_code,
        problem=problem,
        username=username,
        session=None,
    )


def _operator(services: Services, cookie: str | None, language: Language) -> Session | HTMLResponse:
    """The operator's session, or the page to show instead (sign in; 403 for a reseller)."""
    session = browser_session(services, cookie)
    if session is None:
        return _sign_in_page(services, language, status_code=401)
    if not session.operator:
        return _page(
            services,
            "dashboard_sign_in.html",
            language,
            status_code=403,
            problem="not_operator",
            username="",
            session=session,
        )
    return session


@router.get("", response_class=HTMLResponse)
def dashboard(
    services: ServicesDep,
    cookie: SessionCookie = None,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
    as_of: Annotated[date | None, Query()] = None,
    offer_id: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """The reports with their charts, for a signed-in operator; the sign-in form otherwise."""
    language = _language(lang, accept_language, None)
    session = _operator(services, cookie, language)
    if isinstance(session, HTMLResponse):
        return session
    day = as_of or datetime.now(UTC).date()
    selection = ReportSelection(offer_id=offer_id or None)
    status_code, problem = 200, None
    try:
        found = build_reports(services.database, None, selection, day)
    except (UnknownOffer, DayOutOfRange) as refused:
        status_code, problem = (404, "offer") if isinstance(refused, UnknownOffer) else (422, "day")
        day, selection = datetime.now(UTC).date(), ReportSelection()
        found = build_reports(services.database, None, selection, day)
    tables = {table.name: table.rows for table in found}
    words = WORDS[language]
    chart_words = ChartWords(
        stages=words["stages"],
        decided_in_time=words["decided_in_time"],
        paid_in_time=words["paid_in_time"],
        no_data=words["no_data"],
        claims=words["claims"],
        paid=words["budget_paid"],
        committed=words["budget_committed"],
        no_budget=words["no_budget"],
        no_offers=words["no_offers"],
    )
    # Markup: cashback.charts escapes every text it draws.
    charts = [
        (chart.name, words[chart.title_key], Markup(chart.draw(tables, chart_words)))
        for chart in CHARTS
    ]
    query = {
        "as_of": day.isoformat(),
        **({"offer_id": selection.offer_id} if selection.offer_id else {}),
    }
    return _page(
        services,
        "dashboard.html",
        language,
        status_code=status_code,
        session=session,
        problem=problem,
        as_of=day,
        offer_id=selection.offer_id or "",
        charts=charts,
        reports=found,
        breaches=tables["sla_breaches"],
        csv_query=urlencode(query),
        keep_query="&" + urlencode(query),
        report_names=list(REPORTS),
    )


@router.get("/reports/{name}.csv", response_class=Response)
def report_csv(
    name: str,
    services: ServicesDep,
    cookie: SessionCookie = None,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
    as_of: Annotated[date | None, Query()] = None,
    offer_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """A report as CSV for the signed-in operator (`GET /operator/reports/{name}.csv` with the
    dashboard's cookie instead of a bearer token)."""
    language = _language(lang, accept_language, None)
    session = _operator(services, cookie, language)
    if isinstance(session, HTMLResponse):
        return session
    return csv_response(report_tables(services, [name], offer_id or None, as_of)[0])


@router.get("/claims/{claim_id}", response_class=HTMLResponse)
def claim_page(
    claim_id: str,
    services: ServicesDep,
    cookie: SessionCookie = None,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> HTMLResponse:
    """One claim's read model and timeline (D3), the page a breach links to."""
    language = _language(lang, accept_language, None)
    session = _operator(services, cookie, language)
    if isinstance(session, HTMLResponse):
        return session
    with services.database.reading() as db:
        listed = ClaimLists(db).one(claim_id)
        timeline = TimelineRepository(db).of(claim_id) if listed is not None else []
    if listed is None:
        return _page(
            services,
            "dashboard_claim.html",
            language,
            status_code=404,
            session=session,
            listed=None,
            timeline=[],
            claim_id=claim_id,
        )
    return _page(
        services,
        "dashboard_claim.html",
        language,
        session=session,
        listed=listed,
        timeline=timeline,
        claim_id=claim_id,
    )


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    services: ServicesDep,
    username: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """Sign in (as `POST /auth/session` does) and go to the dashboard; a refusal is shown on
    the page with the status the API would answer (401, 429)."""
    language = _language(lang, accept_language, None)
    home = dashboard_path(services.settings.public_base_url)
    return signed_in_page(
        services,
        request,
        username,
        password,
        refused=lambda status, problem: _sign_in_page(
            services, language, status_code=status, problem=problem, username=username
        ),
        then=f"{home}?lang={language.value}",
        path=home,
    )


@router.post("/sign-out", response_class=HTMLResponse)
def sign_out(
    services: ServicesDep,
    cookie: SessionCookie = None,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """End this browser's session at once and come back to the sign-in form."""
    language = _language(lang, accept_language, None)
    home = dashboard_path(services.settings.public_base_url)
    return signed_out_page(services, cookie, then=f"{home}?lang={language.value}", path=home)
