"""R14, R16, D5: hostile or wrong bank files are refused whole, with a clear 4xx, and change
nothing: external entities, billion laughs, a wrong namespace, wrong control figures, an
unknown EndToEndId, a duplicated entry, a wrong amount, files over the size cap. The inbox
folder refuses the same files the same way and keeps each beside its reason."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from cashback.bank.answers import TransferAnswer, debit_notification, status_report
from cashback.db.tables import BankFile, Payment, PaymentStatus
from cashback.domain.status import ClaimStatus
from tests.api.claims_helpers import wait_for_status
from tests.api.harness import Api
from tests.api.payment_run_helpers import claim_in_the_queue, end_to_end_of, released_run, upload

pytestmark = [pytest.mark.security, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt>
<GrpHdr><MsgId>&secret;</MsgId></GrpHdr></CstmrPmtStsRpt></Document>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10">&lol4;</Document>"""


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"payment_gateway": "payment_runs", "bank_file_max_bytes": 64 * 1024}


def nothing_changed(api: Api, claim_id: str) -> None:
    with api.services.database.reading() as session:
        assert session.scalar(select(func.count()).select_from(BankFile)) == 0
        payment = session.scalar(select(Payment).where(Payment.claim_id == claim_id))
        assert payment is not None
        assert payment.status is PaymentStatus.PENDING
        assert payment.escalation_code is None
        assert payment.run_id is not None


async def test_r14_d5_hostile_and_wrong_bank_files_are_refused_and_change_nothing(
    api: Api,
) -> None:
    """R14, D5: each file gets its 4xx and stable code; afterwards no file is recorded, the
    payment still waits in its run, the claim is still scheduled; then the right answer is
    applied."""
    reseller, claim_id = await claim_in_the_queue(api)
    run = await released_run(api)
    e2e = end_to_end_of(api, claim_id)

    def report(*answers: TransferAnswer, count: int = 1, total: int = 25_000) -> bytes:
        return status_report("P2-H", run["message_id"], count, total, answers)

    good = TransferAnswer(e2e, 25_000, "ACSC")
    wrong_namespace = report(good).replace(b"pain.002.001.10", b"pain.002.001.99")
    camt = debit_notification("C54-H", "DE89370400440532013000", [good])
    camt_wrong_sum = camt.replace(b"<Sum>250.00</Sum>", b"<Sum>2500.00</Sum>")
    cases: list[tuple[str, bytes, int, str]] = [
        ("external entity", XXE, 422, "forbidden_xml"),
        ("billion laughs", BILLION_LAUGHS, 422, "forbidden_xml"),
        ("wrong namespace", wrong_namespace, 422, "unknown_namespace"),
        ("not XML", b"ACSC;" + e2e.encode(), 422, "not_xml"),
        ("wrong control sum", report(good, total=24_999), 422, "wrong_control_sum"),
        ("wrong count", report(good, count=2), 422, "wrong_control_sum"),
        ("camt wrong sum", camt_wrong_sum, 422, "wrong_control_sum"),
        (
            "unknown EndToEndId",
            report(good, TransferAnswer("c-ffffffffffffffff/payout/1", 1, "ACSC")),
            422,
            "unknown_end_to_end_id",
        ),
        ("duplicated entry", report(good, good), 422, "duplicate_entry"),
        (
            "a reason that is no code",
            report(TransferAnswer(e2e, 25_000, "RJCT", "AC04" * 100)),
            422,
            "invalid_code",
        ),
        ("wrong amount", report(TransferAnswer(e2e, 2_500, "ACSC")), 422, "wrong_amount"),
        (
            "unknown run",
            report(good).replace(run["message_id"].encode(), b"NO-SUCH-RUN"),
            422,
            "unknown_run",
        ),
        ("over the setting's cap", b" " * (64 * 1024 + 1), 413, "file_too_large"),
        ("over the request cap", b" " * (9 * 1024 * 1024), 413, "file_too_large"),
    ]
    for what, content, status, code in cases:
        answered = await upload(api, content)
        assert (answered.status_code, answered.json()["error"]) == (status, code), what
        assert answered.json()["detail"], what
        assert "/etc/passwd" not in answered.text
        assert "root:" not in answered.text
    nothing_changed(api, claim_id)
    claim = (await api.http.get(f"/claims/{claim_id}", headers=reseller.headers)).json()
    assert claim["status"] == "SCHEDULED_FOR_PAYMENT"

    inbox = api.services.settings.data_dir / "bank-inbox"
    inbox.mkdir()
    (inbox / "1-xxe.xml").write_bytes(XXE)
    (inbox / "2-duplicated.xml").write_bytes(report(good, good))
    (inbox / "3-answer.xml").write_bytes(report(good))
    imported = await api.http.post("/operator/bank-files/inbox", headers=api.operator)
    assert imported.status_code == 200, imported.text
    results = {r["name"]: r for r in imported.json()}
    assert results["1-xxe.xml"]["refused"].startswith("forbidden_xml")
    assert results["2-duplicated.xml"]["refused"].startswith("duplicate_entry")
    assert results["3-answer.xml"]["report"]["entries"][0]["result"] == "paid"
    assert (inbox / "refused" / "1-xxe.xml.reason").read_text().startswith("forbidden_xml")
    assert sorted(p.name for p in (inbox / "imported").iterdir()) == ["3-answer.xml"]
    assert [p for p in inbox.iterdir() if p.is_file()] == []
    await wait_for_status(api, reseller, claim_id, ClaimStatus.PAID)
    with api.services.database.reading() as session:
        outcomes = session.scalars(select(Payment.status).where(Payment.claim_id == claim_id)).all()
        assert outcomes == [PaymentStatus.PAID]
