"""The renderer without a mail server: templates, escaping, formats, required facts (D6, R17)."""

from __future__ import annotations

import html
import shutil
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from jinja2 import TemplateNotFound, UndefinedError

from cashback.domain.money import Money
from cashback.domain.payee import PayeeAnswer, PayeeAnswerCode
from cashback.domain.policy import ProgramPolicy
from cashback.domain.program_time import ProgramClock
from cashback.domain.reseller import Language
from cashback.domain.status import NoticeKind
from cashback.mail import TEMPLATES, InvalidNotice, MailRenderer
from cashback.mail.render import format_date, format_moment, format_money
from tests.mail.notices import SUPPORT, make_notice, secure_link

LINK = "https://cashback.example/bank-details/x"


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("kind", list(NoticeKind))
def test_every_kind_renders_in_every_language_with_the_support_address(
    renderer: MailRenderer, kind: NoticeKind, language: Language
) -> None:
    """D6, R17: a one-line subject, a text and an HTML part, the support address in both."""
    rendered = renderer.render(
        make_notice(kind, language), language=language, support_address=SUPPORT, secure_link=LINK
    )
    assert rendered.subject
    assert "\n" not in rendered.subject
    assert SUPPORT in rendered.text
    assert f'<a href="mailto:{SUPPORT}">{SUPPORT}</a>' in rendered.html
    assert f'<html lang="{language.value}">' in rendered.html
    assert "OL-4711" in rendered.subject + rendered.text


def test_html_is_escaped_and_text_is_not(renderer: MailRenderer) -> None:
    """A company name is data, never markup, in the HTML part."""
    notice = make_notice(NoticeKind.FINAL_CONFIRMATION, company_name="A&B <Systems> GmbH")
    rendered = renderer.render(notice, language=Language.ENGLISH, support_address=SUPPORT)
    assert "A&amp;B &lt;Systems&gt; GmbH" in rendered.html
    assert "<Systems>" not in rendered.html
    assert "A&B <Systems> GmbH" in rendered.text


def test_preliminary_confirmation_promises_the_review_window(renderer: MailRenderer) -> None:
    """R7, R9: the review within 14 business days, and its deadline when known."""
    with_deadline = make_notice(NoticeKind.PRELIMINARY_CONFIRMATION, Language.GERMAN)
    text = renderer.render(with_deadline, language=Language.GERMAN, support_address=SUPPORT).text
    assert "innerhalb von 14 Werktagen" in text
    assert "16.12.2026" in text
    without = make_notice(NoticeKind.PRELIMINARY_CONFIRMATION, review_deadline=None)
    text = renderer.render(without, language=Language.ENGLISH, support_address=SUPPORT).text
    assert "within 14 business days" in text


def test_counts_come_from_the_policy() -> None:
    """R9, R10, R14: a policy with other counts is what the mails promise."""
    policy = ProgramPolicy(
        review_business_days=10, days_per_notice=7, max_notices=4, payout_days=30
    )
    renderer = MailRenderer(policy=policy)

    def text(kind: NoticeKind, number: int = 1) -> str:
        notice = make_notice(kind, number=number)
        return renderer.render(
            notice, language=Language.ENGLISH, support_address=SUPPORT, secure_link=LINK
        ).text

    assert "within 10 business days" in text(NoticeKind.PRELIMINARY_CONFIRMATION)
    assert "within 7 days" in text(NoticeKind.FINAL_CONFIRMATION)
    assert "within 30 days of the date of this e-mail" in text(NoticeKind.FINAL_CONFIRMATION)
    assert "request 3 of 4" in text(NoticeKind.BANK_DETAILS_REQUEST, 3)
    assert "This is the last request" not in text(NoticeKind.BANK_DETAILS_REQUEST, 3)
    assert "This is the last request" in text(NoticeKind.BANK_DETAILS_REQUEST, 4)


@pytest.mark.parametrize(
    ("kind", "missing"),
    [
        (NoticeKind.FINAL_CONFIRMATION, {"amount": None}),
        (NoticeKind.REJECTION, {"reasons": ()}),
        (NoticeKind.CANCELLATION, {"reasons": ()}),
        (NoticeKind.REMITTANCE_ADVICE, {"payment_reference": None}),
        (NoticeKind.PAYMENT_FAILURE, {"bank_return_code": None}),
        (NoticeKind.OPERATOR_ESCALATION, {"reasons": ()}),
        (NoticeKind.BUDGET_SHORTFALL, {"reasons": ()}),
    ],
)
def test_a_notice_without_the_facts_of_its_kind_is_invalid(
    renderer: MailRenderer, kind: NoticeKind, missing: dict[str, Any]
) -> None:
    notice = make_notice(kind, **missing)
    with pytest.raises(InvalidNotice, match=next(iter(missing))):
        renderer.render(
            notice, language=Language.ENGLISH, support_address=SUPPORT, secure_link=LINK
        )


@pytest.mark.parametrize(
    "kind",
    [NoticeKind.BANK_DETAILS_REQUEST, NoticeKind.CORRECTION_REQUEST, NoticeKind.PAYMENT_FAILURE],
)
def test_a_request_for_bank_details_needs_its_secure_link_and_deadline(
    renderer: MailRenderer, kind: NoticeKind
) -> None:
    """R10, R13: no request without the secure link and the instant it expires."""
    with pytest.raises(InvalidNotice, match="secure_link"):
        renderer.render(make_notice(kind), language=Language.ENGLISH, support_address=SUPPORT)
    undated = make_notice(kind).model_copy(update={"respond_by": None})
    with pytest.raises(InvalidNotice, match="respond_by"):
        renderer.render(
            undated, language=Language.ENGLISH, support_address=SUPPORT, secure_link=LINK
        )


def test_an_undefined_template_variable_is_an_error(tmp_path: Path) -> None:
    """StrictUndefined: a typo in a template fails, never mails an empty string."""
    shutil.copytree(TEMPLATES, tmp_path, dirs_exist_ok=True)
    (tmp_path / "en" / "rejection.txt").write_text("{{ facts.no_such_fact }}\n")
    renderer = MailRenderer(templates=tmp_path)
    with pytest.raises(UndefinedError):
        renderer.render(
            make_notice(NoticeKind.REJECTION), language=Language.ENGLISH, support_address=SUPPORT
        )


def test_a_missing_template_fails_when_the_renderer_is_built(tmp_path: Path) -> None:
    shutil.copytree(TEMPLATES, tmp_path, dirs_exist_ok=True)
    (tmp_path / "de" / "cancellation.html").unlink()
    with pytest.raises(TemplateNotFound, match=r"de/cancellation\.html"):
        MailRenderer(templates=tmp_path)


@pytest.mark.parametrize(
    ("minor_units", "currency", "german", "english"),
    [
        (123450, "EUR", "1.234,50 EUR", "1,234.50 EUR"),
        (5, "EUR", "0,05 EUR", "0.05 EUR"),
        (-100000000, "USD", "-1.000.000,00 USD", "-1,000,000.00 USD"),
        (1500000, "JPY", "1.500.000 JPY", "1,500,000 JPY"),
        (1234, "KWD", "1,234 KWD", "1.234 KWD"),
    ],
)
def test_amounts_are_exact_in_each_language(
    minor_units: int, currency: str, german: str, english: str
) -> None:
    """D4, D6: from integer minor units, with the language's separators."""
    amount = Money(minor_units=minor_units, currency=currency)
    assert format_money(amount, Language.GERMAN) == german
    assert format_money(amount, Language.ENGLISH) == english


def test_dates_and_instants_do_not_depend_on_the_host_locale() -> None:
    assert format_date(date(2026, 3, 5), Language.GERMAN) == "05.03.2026"
    assert format_date(date(2026, 3, 5), Language.ENGLISH) == "5 March 2026"
    berlin_winter = timezone(timedelta(hours=1))
    moment = datetime(2026, 3, 5, 10, 0, tzinfo=berlin_winter)
    assert format_moment(moment, Language.GERMAN) == "05.03.2026, 09:00 Uhr (UTC)"
    assert format_moment(moment.astimezone(UTC), Language.ENGLISH) == "5 March 2026, 09:00 UTC"


@pytest.mark.parametrize(
    ("kind", "language", "shown"),
    [
        (NoticeKind.BANK_DETAILS_REQUEST, Language.ENGLISH, "26 December 2026, 09:30 UTC"),
        (NoticeKind.CORRECTION_REQUEST, Language.GERMAN, "26.12.2026, 09:30 Uhr (UTC)"),
        (NoticeKind.PAYMENT_FAILURE, Language.ENGLISH, "26 December 2026, 09:30 UTC"),
    ],
)
def test_r10_r16_a_demos_respond_by_is_shown_in_program_time(
    renderer: MailRenderer, kind: NoticeKind, language: Language, shown: str
) -> None:
    """R10, R16: a notice on a demo's program clock (a day in ten seconds) gives its respond-by
    as the program's instant, 5 program days after a request sent 50 wall seconds after the
    claim arrived; never the wall clock's instant, which is what the link expires at."""
    arrived = datetime(2026, 12, 16, 9, 30, tzinfo=UTC)
    wall = arrived + timedelta(seconds=100)  # notice sent 50 s in, 5 days = 50 s to answer
    notice = make_notice(kind, language).model_copy(
        update={
            "respond_by": wall,
            "program_clock": ProgramClock(origin=arrived, time_scale=10 / 86_400),
        }
    )
    rendered = renderer.render(
        notice, language=language, support_address=SUPPORT, secure_link=secure_link(notice)
    )
    for body in (rendered.text, rendered.html):
        assert shown in body
        assert format_moment(wall, language) not in body


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (Language.ENGLISH, ("offer's budget cannot cover", "Top up the offer's budget")),
        (Language.GERMAN, ("Budget seines Angebots deckt", "Stocken Sie das Budget")),
    ],
)
def test_d7_the_budget_shortfall_tells_the_operators_the_reason_and_what_to_do(
    renderer: MailRenderer, language: Language, words: tuple[str, str]
) -> None:
    """D7: the operators learn the claim, its offer and agreement, the reason with the
    amounts, and that a top-up or a new decision lets it go on; not the R9 escalation's
    words (no deadline passed)."""
    reason = (
        "D7: the offer's budget cannot cover this approval of 250.00 EUR (100.00 EUR of "
        "100.00 EUR remain); top up the budget or decide again"
    )
    notice = make_notice(NoticeKind.BUDGET_SHORTFALL, language, reasons=(reason,))
    rendered = renderer.render(notice, language=language, support_address=SUPPORT)
    assert "D7" in rendered.subject
    assert "claim-0001" in rendered.subject
    for part in (rendered.text, rendered.html):
        assert reason in part.replace("&#39;", "'")
        assert all(word in part.replace("&#39;", "'") for word in words)
        assert "Open License Winter 2026" in part
        assert "/budget/top-up" in part
        assert "R9" not in part


@pytest.mark.parametrize(
    ("language", "answer", "words"),
    [
        (
            Language.ENGLISH,
            PayeeAnswer(code=PayeeAnswerCode.CLOSE_MATCH, held_name="Müller IT Holding GmbH"),
            'the name it holds for this account is "Müller IT Holding GmbH"',
        ),
        (
            Language.GERMAN,
            PayeeAnswer(code=PayeeAnswerCode.CLOSE_MATCH, held_name="Müller IT Holding GmbH"),
            "Für dieses Konto ist „Müller IT Holding GmbH“ hinterlegt",
        ),
        (
            Language.ENGLISH,
            PayeeAnswer(code=PayeeAnswerCode.NO_MATCH),
            "your company's name does not match the name it holds",
        ),
        (
            Language.GERMAN,
            PayeeAnswer(code=PayeeAnswerCode.NO_MATCH),
            "stimmt nicht mit dem für dieses Konto hinterlegten Namen überein",
        ),
        (
            Language.ENGLISH,
            PayeeAnswer(code=PayeeAnswerCode.NOT_POSSIBLE),
            "our operators ask you for the bank details of another account",
        ),
        (
            Language.GERMAN,
            PayeeAnswer(code=PayeeAnswerCode.NOT_POSSIBLE),
            "bittet Sie um die Bankverbindung eines anderen Kontos",
        ),
    ],
)
def test_vop_r11_a_correction_request_tells_what_the_bank_answered(
    renderer: MailRenderer, language: Language, answer: PayeeAnswer, words: str
) -> None:
    """VoP, R11, D6: a correction request after the bank's Verification of Payee answer says
    what the bank answered (for a close match, the name the bank holds), in both parts; an
    R11 correction request without an answer says nothing of it."""
    notice = make_notice(NoticeKind.CORRECTION_REQUEST, language, payee_answer=answer)
    rendered = renderer.render(notice, language=language, support_address=SUPPORT, secure_link=LINK)
    assert words in rendered.text
    shown = html.unescape(rendered.html.replace("<strong>", "").replace("</strong>", ""))
    assert words in shown
    assert "\n\nThe account holder must" in rendered.text or "\n\nKontoinhaber" in rendered.text
    plain = make_notice(NoticeKind.CORRECTION_REQUEST, language)
    text = renderer.render(plain, language=language, support_address=SUPPORT, secure_link=LINK).text
    assert "Verification of Payee" not in text
    assert "Empfängerüberprüfung" not in text


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (Language.ENGLISH, ("Escalation (VoP)", "could not verify the payee")),
        (Language.GERMAN, ("Eskalation (VoP)", "konnte den Zahlungsempfänger nicht prüfen")),
    ],
)
def test_vop_the_operators_escalation_after_noap_says_what_to_decide(
    renderer: MailRenderer, language: Language, words: tuple[str, str]
) -> None:
    """VoP NOAP: the operators' escalation names the payee decision and its route, not the
    R9 review window's words."""
    notice = make_notice(
        NoticeKind.OPERATOR_ESCALATION,
        language,
        payee_answer=PayeeAnswer(code=PayeeAnswerCode.NOT_POSSIBLE),
        reasons=("VoP: NOAP, the bank could not verify the payee: an operator decides",),
    )
    rendered = renderer.render(notice, language=language, support_address=SUPPORT)
    subject, wording = words
    assert subject in rendered.subject
    assert "R9" not in rendered.subject
    for part in (rendered.text, html.unescape(rendered.html)):
        assert wording in part
        assert "/operator/claims/claim-0001/payee-decision" in part
        assert "decide_payee" in part
        assert "VoP: NOAP, the bank could not verify the payee" in part


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (Language.ENGLISH, ("Escalation (R14)", "does not say whether it paid")),
        (Language.GERMAN, ("Eskalation (R14)", "nicht hervor, ob sie ausgeführt wurde")),
    ],
)
def test_r14_the_operators_escalation_after_an_ambiguous_answer_says_to_enter_the_result(
    renderer: MailRenderer, language: Language, words: tuple[str, str]
) -> None:
    """R14, issue 14: an ambiguous bank answer (MS03): the operators' escalation names the code
    and the payment-result route, not the R9 review window's or the payee decision's words."""
    notice = make_notice(
        NoticeKind.OPERATOR_ESCALATION,
        language,
        payment_escalation="RJCT MS03",
        reasons=("R14: the bank answered the payout RJCT MS03 (reason not specified)",),
    )
    rendered = renderer.render(notice, language=language, support_address=SUPPORT)
    subject, wording = words
    assert subject in rendered.subject
    assert "claim-0001" in rendered.subject
    assert "RJCT MS03" in rendered.subject
    for part in (rendered.text, html.unescape(rendered.html)):
        assert wording in part
        assert "POST /operator/claims/claim-0001/payment-result" in part
        assert "GET /operator/payments/escalated" in part
        assert "payee-decision" not in part
        assert "R14: the bank answered the payout RJCT MS03 (reason not specified)" in part


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (Language.ENGLISH, ("could not be delivered", "reach the reseller another way")),
        (Language.GERMAN, ("konnte nicht zugestellt werden", "auf anderem Weg")),
    ],
)
def test_r10_the_operators_escalation_of_an_undeliverable_email_says_so(
    renderer: MailRenderer, language: Language, words: tuple[str, str]
) -> None:
    """R10: a reseller's e-mail the mail server refused is escalated to the operators with
    words of its own (which e-mail, what to do), not the R9 review window's."""
    notice = make_notice(
        NoticeKind.OPERATOR_ESCALATION,
        language,
        undelivered_notice="bank_details_request 1",
        reasons=("e-mail bank_details_request 1 could not be delivered",),
    )
    rendered = renderer.render(notice, language=language, support_address=SUPPORT)
    subject, wording = words
    assert subject in rendered.subject
    assert "claim-0001" in rendered.subject
    assert "R9" not in rendered.subject
    for part in (rendered.text, html.unescape(rendered.html)):
        assert wording in part
        assert "bank_details_request 1" in part
        assert "decide" not in part
