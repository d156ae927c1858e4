"""Notices rendered from Jinja2 templates: a subject, a plain-text and an HTML part per notice
kind and language (D6), each showing the program's support address (R17).

Templates live in `templates/mail/<language>/<kind>.{subject.txt,txt,html}`; HTML is
autoescaped, and a variable a template names but the context lacks is an error
(`StrictUndefined`), never an empty string in a reseller's mailbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from activities.mail import NoticeRequest
from cashback.domain.money import Money
from cashback.domain.policy import ProgramPolicy
from cashback.domain.reseller import Language
from cashback.domain.status import NoticeKind
from cashback.mail.changes import BankDetailsChange, BankDetailsChangeKind
from cashback.mail.errors import InvalidNotice

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "mail"

OPERATOR_KINDS = frozenset(kind for kind in NoticeKind if kind.for_operators)
"""Notices to the program's operators (R9, R14, D7), not to the reseller."""

PARTS = ("subject.txt", "txt", "html")
_BLANK_LINES = re.compile(r"\n{3,}")  # templates may leave runs of blank lines; one is enough

# The facts each kind cannot be sent without; the others are shown when present.
_REQUIRED_FACTS: dict[NoticeKind, tuple[str, ...]] = {
    NoticeKind.PRELIMINARY_CONFIRMATION: (),
    NoticeKind.FINAL_CONFIRMATION: ("amount",),
    NoticeKind.REJECTION: ("reasons",),
    NoticeKind.BANK_DETAILS_REQUEST: (),
    NoticeKind.CORRECTION_REQUEST: (),
    NoticeKind.PAYMENT_FAILURE: ("bank_return_code",),
    NoticeKind.CANCELLATION: ("reasons",),
    NoticeKind.REMITTANCE_ADVICE: ("amount", "payment_reference"),
    NoticeKind.OPERATOR_ESCALATION: ("reasons",),
    NoticeKind.PAYOUT_OVERDUE: ("reasons",),
    NoticeKind.BUDGET_SHORTFALL: ("reasons",),
}

_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


@dataclass(frozen=True)
class RenderedNotice:
    """One notice ready to be sent: the subject line and the two alternative bodies."""

    language: Language
    subject: str
    text: str
    html: str


def format_money(amount: Money, language: Language) -> str:
    """`1.234,50 EUR` (de) or `1,234.50 EUR` (en): `Money.format` with the language's
    separators, exact from the integer minor units (D4)."""
    digits, currency = amount.format().rsplit(" ", 1)
    sign = "-" if digits.startswith("-") else ""
    whole, _, fraction = digits.lstrip("-").partition(".")
    grouped = f"{int(whole):,}"
    if language is Language.GERMAN:
        grouped = grouped.replace(",", ".")
        fraction = f",{fraction}" if fraction else ""
    else:
        fraction = f".{fraction}" if fraction else ""
    return f"{sign}{grouped}{fraction} {currency}"


def format_date(day: date, language: Language) -> str:
    """`05.12.2026` (de) or `5 December 2026` (en): independent of the host's locale."""
    if language is Language.GERMAN:
        return f"{day:%d.%m.%Y}"
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


def format_moment(moment: datetime, language: Language) -> str:
    """An instant in UTC with its zone spelled out, e.g. the end of an R10 window."""
    moment = moment.astimezone(UTC)
    if language is Language.GERMAN:
        return f"{format_date(moment.date(), language)}, {moment:%H:%M} Uhr (UTC)"
    return f"{format_date(moment.date(), language)}, {moment:%H:%M} UTC"


@pass_context
def _money_filter(context: Context, amount: Money) -> str:
    return format_money(amount, Language(context["language"]))


@pass_context
def _date_filter(context: Context, day: date) -> str:
    return format_date(day, Language(context["language"]))


@pass_context
def _moment_filter(context: Context, moment: datetime) -> str:
    return format_moment(moment, Language(context["language"]))


class MailRenderer:
    """Renders a notice in a language. Every template of every kind and language is loaded when
    the renderer is built, so a missing or broken template fails at start, not at a claim."""

    def __init__(self, templates: Path = TEMPLATES, policy: ProgramPolicy | None = None) -> None:
        self._policy = policy or ProgramPolicy()
        self._env = Environment(
            loader=FileSystemLoader(templates),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self._env.filters.update(money=_money_filter, day=_date_filter, moment=_moment_filter)
        for language in Language:
            for kind in NoticeKind:
                for part in PARTS:
                    self._env.get_template(_template_name(language, kind, part))
            for change in BankDetailsChangeKind:
                for part in PARTS:
                    self._env.get_template(_template_name(language, change, part))

    def render(
        self,
        notice: NoticeRequest,
        *,
        language: Language,
        support_address: str,
        secure_link: str | None = None,
        masked_iban: str | None = None,
    ) -> RenderedNotice:
        """The notice's subject, text and HTML in `language`. Raises `InvalidNotice` when the
        notice lacks a fact its kind needs (R10, R13: a request for bank details needs its secure
        link and its respond-by instant). `masked_iban` is the account paid to, or to be paid to
        (final confirmation, remittance advice), when known."""
        _require_facts(notice, secure_link)
        context: dict[str, Any] = {
            "language": language.value,
            "notice": notice,
            "kind": notice.kind.value,
            # R10, R16: the notice's place in its series of notifications ("2 of 3")
            "number": notice.notification or notice.number,
            "max_notices": notice.notifications_allowed or self._policy.max_notices,
            "reseller": notice.reseller,
            "facts": notice.facts,
            # R10: the instant the reseller reads, on the claim's program clock (a demo's).
            "respond_by": notice.program_clock.shown_or_none(notice.respond_by)
            if notice.program_clock
            else notice.respond_by,
            "secure_link": secure_link,
            "masked_iban": masked_iban,
            "support_address": support_address,
            "policy": self._policy,
        }
        return self._render(notice.kind, language, context)

    def render_change(self, change: BankDetailsChange, *, support_address: str) -> RenderedNotice:
        """R10, R13: the e-mail that tells the reseller, in its language, that its bank details
        changed (the IBAN masked), how to undo it, and the support address (R17)."""
        language = change.reseller.language
        context: dict[str, Any] = {
            "language": language.value,
            "change": change,
            "reseller": change.reseller,
            "support_address": support_address,
            "policy": self._policy,
        }
        return self._render(change.kind, language, context)

    def _render(
        self, kind: NoticeKind | BankDetailsChangeKind, language: Language, context: dict[str, Any]
    ) -> RenderedNotice:
        def part(name: str) -> str:
            return self._env.get_template(_template_name(language, kind, name)).render(context)

        # One header line, whatever the template's layout; the bodies may show it too.
        context["subject"] = " ".join(part("subject.txt").split())
        return RenderedNotice(
            language=language,
            subject=context["subject"],
            text=_BLANK_LINES.sub("\n\n", part("txt")).strip() + "\n",
            html=part("html"),
        )


def _template_name(language: Language, kind: NoticeKind | BankDetailsChangeKind, part: str) -> str:
    return f"{language.value}/{kind.value}.{part}"


def _require_facts(notice: NoticeRequest, secure_link: str | None) -> None:
    missing = [name for name in _REQUIRED_FACTS[notice.kind] if not getattr(notice.facts, name)]
    if notice.kind.asks_for_bank_details:
        if notice.respond_by is None:
            missing.append("respond_by")
        if not secure_link:
            missing.append("secure_link")
    if missing:
        raise InvalidNotice(
            f"notice {notice.idempotency_key} lacks what its kind needs: {', '.join(missing)}"
        )
