"""`SmtpOutbox` against a real SMTP server (aiosmtpd on loopback): what the reseller and the
operators receive, once per notice (R7, R9, R10, R11, R13, R14, R16, R17, D6)."""

from __future__ import annotations

import pytest

from activities.mail import RETRY, NoticeRequest
from bench.stack import free_port
from cashback.domain.reseller import Language
from cashback.domain.status import NoticeKind
from cashback.mail import OPERATOR_KINDS, InvalidNotice, MailServerUnavailable, message_id_for
from cashback.mail.smtp import NOTICE_HEADER
from tests.mail.mailbox import DEFERRED, REFUSED, Mailbox
from tests.mail.notices import (
    OPERATORS,
    SUPPORT,
    InMemoryNoticeLog,
    OutboxFactory,
    make_notice,
    secure_link,
)

pytestmark = pytest.mark.smtp

FOOTER_LABEL = {Language.GERMAN: "Antrag: claim-0001", Language.ENGLISH: "Claim: claim-0001"}


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("kind", list(NoticeKind))
def test_each_notice_arrives_in_the_language_with_text_html_and_support_address(
    make_outbox: OutboxFactory, mailbox: Mailbox, kind: NoticeKind, language: Language
) -> None:
    """D6, R17 (and R7, R9, R10, R11, R14, R16 by kind): a subject, a plain-text and an HTML
    alternative in the reseller's language (the operators' language for operator notices), each
    showing the program's support address."""
    outbox = make_outbox(operator_language=language)
    receipt = outbox.send(make_notice(kind, language))

    [delivery] = mailbox.deliveries
    message = delivery.message
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"]
    assert message["Message-ID"] == receipt.message_id
    assert message["Content-Language"] == language.value
    text, html = delivery.part("plain"), delivery.part("html")
    assert SUPPORT in text
    assert SUPPORT in html
    assert FOOTER_LABEL[language] in text
    assert f'<html lang="{language.value}">' in html


@pytest.mark.parametrize("language", list(Language))
def test_bank_details_request_carries_the_secure_link_and_respond_by(
    make_outbox: OutboxFactory, mailbox: Mailbox, language: Language
) -> None:
    """R10, R13: request n of 3 with the one-time link and the instant the reseller must act
    by; the link is minted for this notice."""
    notice = make_notice(NoticeKind.BANK_DETAILS_REQUEST, language, number=2)
    make_outbox().send(notice)

    [delivery] = mailbox.deliveries
    text, html = delivery.part("plain"), delivery.part("html")
    link = secure_link(notice)
    assert link in text
    assert f'<a href="{link}">' in html
    respond_by, of_three = {
        Language.GERMAN: ("21.12.2026, 09:30 Uhr (UTC)", "Aufforderung 2 von 3"),
        Language.ENGLISH: ("21 December 2026, 09:30 UTC", "request 2 of 3"),
    }[language]
    for part in (text, html):
        assert respond_by in part
        assert of_three in part
    assert of_three in str(delivery.message["Subject"])


def test_the_third_payment_failure_notice_warns_of_the_forfeit(
    make_outbox: OutboxFactory, mailbox: Mailbox
) -> None:
    """R16: the bank's return code, the link, and on notice 3 of 3 the warning."""
    make_outbox().send(
        make_notice(NoticeKind.PAYMENT_FAILURE, Language.GERMAN, number=3, bank_return_code="AC01")
    )
    text = mailbox.deliveries[0].part("plain")
    assert "Rückgabecode der Bank: AC01 (IBAN oder Kontonummer ist fehlerhaft)" in text
    assert "Benachrichtigung 3 von 3" in text
    assert "letzte Benachrichtigung" in text
    assert "verfällt" in text


def test_correction_request_names_the_company_the_holder_must_be(
    make_outbox: OutboxFactory, mailbox: Mailbox
) -> None:
    """R11: the account holder must be a company named exactly like the reseller."""
    make_outbox().send(make_notice(NoticeKind.CORRECTION_REQUEST, company_name="Acme Ltd"))
    text = mailbox.deliveries[0].part("plain")
    assert 'a company whose name is exactly the name of your company, "Acme Ltd"' in text


def test_sending_the_same_notice_twice_delivers_one_message(
    make_outbox: OutboxFactory, mailbox: Mailbox
) -> None:
    """Idempotency per (claim, kind, number): a retried activity finds the receipt and sends
    nothing, and mints no second secure link (R13)."""
    minted: list[NoticeRequest] = []

    def link_for(notice: NoticeRequest) -> str:
        minted.append(notice)
        return secure_link(notice)

    outbox = make_outbox(link_for=link_for)
    notice = make_notice(NoticeKind.BANK_DETAILS_REQUEST)
    first = outbox.send(notice)
    second = outbox.send(notice)

    assert second == first
    assert len(mailbox.deliveries) == 1
    assert len(minted) == 1
    outbox.send(make_notice(NoticeKind.BANK_DETAILS_REQUEST, number=2))
    assert len(mailbox.deliveries) == 2


def test_a_resend_after_a_lost_record_keeps_the_message_id(
    make_outbox: OutboxFactory, mailbox: Mailbox
) -> None:
    """At-least-once: a worker that dies between sending and recording sends again, with the
    same Message-ID, so that the receiver can drop the duplicate."""
    notice = make_notice(NoticeKind.REMITTANCE_ADVICE)
    first = make_outbox().send(notice)
    again = make_outbox().send(notice)  # a fresh log: the record was lost

    ids = [delivery.message["Message-ID"] for delivery in mailbox.deliveries]
    assert ids == [first.message_id, again.message_id]
    assert (
        first.message_id
        == again.message_id
        == message_id_for(notice.idempotency_key, "cashback.example")
    )
    assert mailbox.deliveries[0].message[NOTICE_HEADER] == notice.idempotency_key
    other = make_notice(NoticeKind.REMITTANCE_ADVICE, claim_id="claim-0002")
    assert message_id_for(other.idempotency_key, "cashback.example") != first.message_id


@pytest.mark.parametrize("kind", sorted(OPERATOR_KINDS))
def test_operator_notices_go_to_the_operators(
    make_outbox: OutboxFactory, mailbox: Mailbox, kind: NoticeKind
) -> None:
    """R9, R14: escalation and payout overdue reach the operators, in English by default,
    with the reasons; the reseller receives nothing."""
    make_outbox().send(make_notice(kind, Language.GERMAN, reasons=("R9: verdict inconclusive",)))

    [delivery] = mailbox.deliveries
    assert delivery.rcpt_tos == [OPERATORS]
    assert delivery.message["To"] == OPERATORS
    assert delivery.message["Content-Language"] == "en"
    assert "R9: verdict inconclusive" in delivery.part("plain")
    assert "Reseller: Müller IT GmbH (reseller-17, DE)" in delivery.part("plain")


def test_reseller_notices_go_to_the_reseller_with_support_as_reply_to(
    make_outbox: OutboxFactory, mailbox: Mailbox
) -> None:
    """R17: a reply to a notice reaches the support team."""
    make_outbox().send(make_notice(NoticeKind.REJECTION))

    [delivery] = mailbox.deliveries
    assert delivery.rcpt_tos == ["office@reseller.example"]
    assert delivery.mail_from == "cashback@cashback.example"
    assert delivery.message["Reply-To"] == SUPPORT
    assert delivery.message["Auto-Submitted"] == "auto-generated"


def test_a_recipient_refused_for_good_is_an_invalid_notice(
    make_outbox: OutboxFactory, mailbox: Mailbox
) -> None:
    """550 for the recipient: `InvalidNotice`, which the activity's retry policy does not
    retry; nothing is recorded, and the address stays out of the failure message."""
    log = InMemoryNoticeLog()
    with pytest.raises(InvalidNotice, match="550") as raised:
        make_outbox(notice_log=log).send(
            make_notice(NoticeKind.FINAL_CONFIRMATION, email_address=REFUSED)
        )
    assert type(raised.value).__name__ in (RETRY.non_retryable_error_types or [])
    assert REFUSED not in str(raised.value)
    assert raised.value.__cause__ is None
    assert len(log) == 0
    assert mailbox.deliveries == []


def test_a_deferred_recipient_is_retried(make_outbox: OutboxFactory, mailbox: Mailbox) -> None:
    """451 for the recipient: a retryable error; nothing is recorded."""
    log = InMemoryNoticeLog()
    with pytest.raises(MailServerUnavailable, match="451") as raised:
        make_outbox(notice_log=log).send(
            make_notice(NoticeKind.FINAL_CONFIRMATION, email_address=DEFERRED)
        )
    assert type(raised.value).__name__ not in (RETRY.non_retryable_error_types or [])
    assert DEFERRED not in str(raised.value)
    assert len(log) == 0


def test_a_server_that_is_down_is_retried_and_the_retry_sends_once(
    make_outbox: OutboxFactory, mailbox: Mailbox
) -> None:
    """Connection refused: a retryable error and no record, so the next attempt (server back)
    sends the notice, once."""
    log = InMemoryNoticeLog()
    notice = make_notice(NoticeKind.PRELIMINARY_CONFIRMATION)
    with pytest.raises(MailServerUnavailable, match="unreachable") as raised:
        make_outbox(notice_log=log, port=free_port()).send(notice)
    assert type(raised.value).__name__ not in (RETRY.non_retryable_error_types or [])
    assert len(log) == 0

    outbox = make_outbox(notice_log=log)
    outbox.send(notice)
    outbox.send(notice)
    assert len(mailbox.deliveries) == 1


def test_an_invalid_notice_is_refused_before_anything_is_sent(
    make_outbox: OutboxFactory, mailbox: Mailbox
) -> None:
    """R10, R13: a bank-details request for which no secure link can be minted is not sent."""
    with pytest.raises(InvalidNotice, match="secure_link"):
        make_outbox(link_for=lambda notice: None).send(make_notice(NoticeKind.BANK_DETAILS_REQUEST))
    assert mailbox.deliveries == []
