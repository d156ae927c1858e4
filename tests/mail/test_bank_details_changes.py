"""E-mails about bank details through `SmtpOutbox` and a real SMTP server (R10, R13, R14, R17,
D6): each change of a claim's or the standing bank details, and the account named in the final
confirmation and the remittance advice; the IBAN only ever masked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from activities.mail import NoticeRequest
from cashback.domain.reseller import Language, ResellerSnapshot
from cashback.domain.status import NoticeKind
from cashback.mail import BankDetailsChange, BankDetailsChangeKind
from cashback.mail.smtp import CHANGE_HEADER, NOTICE_HEADER
from tests.mail.mailbox import Mailbox
from tests.mail.notices import SUPPORT, OutboxFactory, make_notice

pytestmark = pytest.mark.smtp

IBAN = "DE02120300000000202051"
MASKED = "DE02 **** **** **** **20 51"
RESELLER = "office@reseller.example"


def change(
    kind: BankDetailsChangeKind, language: Language, *, withdrawn: bool = False
) -> BankDetailsChange:
    return BankDetailsChange(
        kind=kind,
        reseller=ResellerSnapshot(
            reseller_id="r_0001",
            company_name="Müller IT GmbH",
            country="DE",
            language=language,
            email=RESELLER,
        ),
        masked_iban=MASKED,
        changed_at=datetime(2026, 12, 1, 15, 30, tzinfo=UTC),
        changed_by="finance@reseller.example",
        withdrawn=withdrawn,
        claim_id="claim-0001" if kind is BankDetailsChangeKind.CLAIM else None,
        agreement_number="OL-4711" if kind is BankDetailsChangeKind.CLAIM else None,
        offer_name="Winter 2026" if kind is BankDetailsChangeKind.CLAIM else None,
    )


def assert_masked_only(text: str) -> None:
    assert MASKED in text
    assert IBAN not in text.replace(" ", "")


UNDO = {
    (BankDetailsChangeKind.CLAIM, Language.ENGLISH): "quoting claim claim-0001",
    (BankDetailsChangeKind.CLAIM, Language.GERMAN): "unter Angabe des Antrags claim-0001",
    (BankDetailsChangeKind.STANDING, Language.ENGLISH): "DELETE /account/bank-details",
    (BankDetailsChangeKind.STANDING, Language.GERMAN): "DELETE /account/bank-details",
}


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("kind", list(BankDetailsChangeKind))
def test_r10_r13_a_change_of_bank_details_is_mailed_masked_with_the_way_back(
    make_outbox: OutboxFactory, mailbox: Mailbox, kind: BankDetailsChangeKind, language: Language
) -> None:
    """R10, R13, R17, D6: the reseller's address gets the change in its language, the IBAN
    masked, how to undo it (support for a claim's details, DELETE /account/bank-details for the
    standing ones) and the support address, as text and HTML; support is the Reply-To."""
    receipt = make_outbox().send_change(change(kind, language))

    [delivery] = mailbox.deliveries
    message = delivery.message
    assert delivery.rcpt_tos == [RESELLER]
    assert message["Reply-To"] == SUPPORT
    assert message["Content-Language"] == language.value
    assert message["Message-ID"] == receipt.message_id
    about = "claim-0001" if kind is BankDetailsChangeKind.CLAIM else "r_0001"
    assert message[CHANGE_HEADER] == f"{about}/bank-details/1796139000000000"
    assert message[NOTICE_HEADER] is None  # not one of a claim's notices
    text, html = delivery.part("plain"), delivery.part("html")
    for body in (text, html):
        assert_masked_only(body)
        assert SUPPORT in body
        assert UNDO[kind, language] in body
        assert "finance@reseller.example" in body or kind is BankDetailsChangeKind.CLAIM
    assert f'<html lang="{language.value}">' in html


@pytest.mark.parametrize(
    ("language", "words"),
    [(Language.ENGLISH, "withdrew"), (Language.GERMAN, "widerrufen")],
)
def test_r10_withdrawn_standing_details_are_mailed_too(
    make_outbox: OutboxFactory, mailbox: Mailbox, language: Language, words: str
) -> None:
    """R10: withdrawing the standing details is a change, and mailed as one (masked)."""
    make_outbox().send_change(change(BankDetailsChangeKind.STANDING, language, withdrawn=True))
    [delivery] = mailbox.deliveries
    assert words in str(delivery.message["Subject"]) + delivery.part("plain")
    assert_masked_only(delivery.part("plain"))
    assert SUPPORT in delivery.part("plain")


@pytest.mark.parametrize("language", list(Language))
def test_r10_r14_final_confirmation_and_remittance_advice_name_the_account_masked(
    make_outbox: OutboxFactory, mailbox: Mailbox, language: Language
) -> None:
    """R10: the final confirmation names the account when the details are already known
    (standing ones), and otherwise says they will be requested; R14: the remittance advice
    names the account paid to. Only masked."""
    asked: list[NoticeKind] = []

    def masked_iban_for(notice: NoticeRequest) -> str | None:
        asked.append(notice.kind)
        return MASKED if notice.claim_id == "known" else None

    outbox = make_outbox(masked_iban_for=masked_iban_for)
    for kind in (NoticeKind.FINAL_CONFIRMATION, NoticeKind.REMITTANCE_ADVICE):
        outbox.send(make_notice(kind, language, claim_id="known"))
    outbox.send(make_notice(NoticeKind.FINAL_CONFIRMATION, language, claim_id="unknown"))
    outbox.send(make_notice(NoticeKind.OPERATOR_ESCALATION, language, claim_id="known"))

    final, remittance, unknown, escalation = mailbox.deliveries
    for delivery in (final, remittance):
        assert_masked_only(delivery.part("plain"))
        assert_masked_only(delivery.part("html"))
    will_ask = {Language.ENGLISH: "personal link", Language.GERMAN: "persönlichen Link"}[language]
    assert will_ask not in final.part("plain")
    assert will_ask in unknown.part("plain")
    assert MASKED not in unknown.part("plain")
    assert MASKED not in escalation.part("plain")  # the operators' notices name no account
    assert NoticeKind.OPERATOR_ESCALATION not in asked
