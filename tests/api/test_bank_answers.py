"""R14, R16, D5: the bank's answers to a released payment run, imported by operators: a
`pain.002` status report and a `camt.054` notification, matched by EndToEndId. Accepted or
booked: PAID; rejected or returned for the bank details: R16's notices; transient: sent again in
the next run; ambiguous: escalated to the operators. The same file twice changes nothing; the
reconciliation adds up to the run's control sum."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.accounts import create_operator
from cashback.bank.answers import TransferAnswer, debit_notification, status_report
from cashback.bank.simulated_channel import SimulatedBankChannel
from cashback.bank_answers import complete_payments
from cashback.claims import ClaimOutcome, claim_workflow_id
from cashback.db.tables import Claim
from cashback.domain.status import ClaimStatus
from cashback.finance_desk import SimulatedFinanceDesk
from tests.api.claims_helpers import wait_for_status
from tests.api.harness import PASSWORD, Api
from tests.api.payment_run_helpers import (
    claim_in_the_queue,
    end_to_end_of,
    queued_payment,
    released_run,
    upload,
)
from tests.claim_waits import claim_outcome
from tests.integration.program import notices_of
from tests.mail.mailbox import Delivery

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
CLOSED_IBAN = "AT61 1904 3002 3457 3201"  # the bank rejects it: AC04
RETURNED_IBAN = "DE36 5001 0517 5407 3243 96"  # booked, then returned: AC04
IBANS = (CLOSED_IBAN, RETURNED_IBAN)


def compact(iban: str) -> str:
    return iban.replace(" ", "")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"payment_gateway": "payment_runs"}


def report_for(run: dict[str, Any], *answers: TransferAnswer, message_id: str = "P2") -> bytes:
    return status_report(
        message_id,
        run["message_id"],
        run["number_of_transactions"],
        run["control_sum_minor_units"],
        answers,
    )


@pytest.mark.parametrize(
    "settings_overrides",
    [{"payment_gateway": "payment_runs", "policy": {"returns_watched_for": "PT0S"}}],
)
async def test_r14_r16_d5_a_status_report_pays_one_claim_and_rejects_the_other(
    api: Api,
) -> None:
    """R14: ACSC pays its claim (PAID, with the file's reference); R16: RJCT AC04 (account
    closed) makes the other PAYMENT_FAILED with its notice; D5: the same file again is a
    duplicate and a second file with the same answers applies nothing again; the
    reconciliation counts one accepted and one rejected transfer, summing to the control
    sum, in JSON and CSV. R16: a camt.054 return of the paid transfer after the claim stopped
    watching for returns (here it watched for none) leaves it PAID: it is reported to the
    operators with the reason and counted as returned."""
    offer_id = (await api.create_offer())["offer_id"]
    paid_reseller, paid = await claim_in_the_queue(api, offer_id=offer_id)
    failed_reseller, failed = await claim_in_the_queue(api, offer_id=offer_id)
    run = await released_run(api)
    assert (run["number_of_transactions"], run["control_sum_minor_units"]) == (2, 50_000)
    answers = (
        TransferAnswer(end_to_end_of(api, paid), 25_000, "ACSC"),
        TransferAnswer(end_to_end_of(api, failed), 25_000, "RJCT", "AC04"),
    )
    content = report_for(run, *answers)

    imported = await upload(api, content)
    assert imported.status_code == 200, imported.text
    report = imported.json()
    assert report["duplicate"] is False
    assert {(e["claim_id"], e["result"]) for e in report["entries"]} == {
        (paid, "paid"),
        (failed, "rejected"),
    }
    await wait_for_status(api, paid_reseller, paid, ClaimStatus.PAID)
    payment = queued_payment(api, paid)
    assert payment is not None
    assert payment.bank_reference == f"P2/{end_to_end_of(api, paid)}"
    await wait_for_status(api, failed_reseller, failed, ClaimStatus.PAYMENT_FAILED)

    again = await upload(api, content)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    other_file = await upload(api, report_for(run, *answers, message_id="P2-AGAIN"))
    assert other_file.status_code == 200
    assert {e["result"] for e in other_file.json()["entries"]} == {"already_applied"}

    reconciled = (
        await api.http.get(
            f"/operator/payment-runs/{run['run_id']}/reconciliation", headers=api.operator
        )
    ).json()
    assert reconciled["sent"] == {"count": 2, "amount_minor_units": 50_000}
    assert reconciled["accepted"] == {"count": 1, "amount_minor_units": 25_000}
    assert reconciled["rejected"] == {"count": 1, "amount_minor_units": 25_000}
    states = ("accepted", "rejected", "returned", "retried", "open")
    assert (
        sum(reconciled[s]["amount_minor_units"] for s in states) == (run["control_sum_minor_units"])
    )
    assert {(t["claim_id"], t["state"], t["reason_code"]) for t in reconciled["transfers"]} == {
        (paid, "accepted", None),
        (failed, "rejected", "AC04"),
    }
    csv_lines = (
        await api.http.get(
            f"/operator/payment-runs/{run['run_id']}/reconciliation.csv", headers=api.operator
        )
    ).text.splitlines()
    assert csv_lines[0] == "run_id,state,count,amount_minor_units,currency"
    assert f"{run['run_id']},accepted,1,25000,EUR" in csv_lines
    assert f"{run['run_id']},sent,2,50000,EUR" == csv_lines[-1]

    # Days later the paid transfer comes back (the account was closed after the booking).
    handle = api.services.temporal.get_workflow_handle(
        claim_workflow_id(paid), result_type=ClaimOutcome
    )
    assert (await claim_outcome(handle)).status is ClaimStatus.PAID
    came_back = debit_notification(
        "C54-RETURN",
        "DE89370400440532013000",
        [TransferAnswer(end_to_end_of(api, paid), 25_000, "RTRN", "AC04")],
    )
    entries = (await upload(api, came_back)).json()["entries"]
    assert [(e["claim_id"], e["result"], e["reason_code"]) for e in entries] == [
        (paid, "returned_after_payment", "AC04")
    ]
    assert entries[0]["detail"].startswith("the claim no longer watches for returns")
    returned = (await api.http.get("/operator/payments/returned", headers=api.operator)).json()
    assert [(p["claim_id"], p["reason_code"], p["amount_minor_units"]) for p in returned] == [
        (paid, "AC04", 25_000)
    ]
    after = (
        await api.http.get(
            f"/operator/payment-runs/{run['run_id']}/reconciliation", headers=api.operator
        )
    ).json()
    assert (after["accepted"]["count"], after["returned"]["count"]) == (0, 1)
    assert (
        after["returned"]["amount_minor_units"] + after["rejected"]["amount_minor_units"]
        == (run["control_sum_minor_units"])
    )
    assert (await upload(api, came_back)).json()["duplicate"] is True
    files = (await api.http.get("/operator/bank-files", headers=api.operator)).json()
    assert [f["message_id"] for f in files] == ["C54-RETURN", "P2-AGAIN", "P2"]
    assert files[-1]["imported_by"].startswith("op-")
    assert [e["result"] for e in files[-1]["entries"]] == ["paid", "rejected"]
    assert files[0]["entries"][0]["result"] == "returned_after_payment"  # as recorded


async def test_r14_r16_transient_ambiguous_and_a_camt054_return(api: Api) -> None:
    """R14: TECH (transient) sends the transfer again in the next run, whose camt.054 booking
    pays it; MS03 (ambiguous) waits for the operators, listed as escalated, recorded on the
    claim's timeline (for the operators only) with the read model waiting for their result, and
    mailed to them once (the same entry in a second file is already applied), until one enters
    ACSC; R16: a camt.054 return for AC04 makes its claim PAYMENT_FAILED. The first run's
    reconciliation: one retried, one returned, one accepted after escalation."""
    offer_id = (await api.create_offer())["offer_id"]
    retried_reseller, retried = await claim_in_the_queue(api, offer_id=offer_id)
    escalated_reseller, escalated = await claim_in_the_queue(api, offer_id=offer_id)
    returned_reseller, returned = await claim_in_the_queue(api, offer_id=offer_id)
    first = await released_run(api)
    report = report_for(
        first,
        TransferAnswer(end_to_end_of(api, retried), 25_000, "RJCT", "TECH"),
        TransferAnswer(end_to_end_of(api, escalated), 25_000, "RJCT", "MS03"),
    )
    imported = await upload(api, report)
    assert {(e["claim_id"], e["result"]) for e in imported.json()["entries"]} == {
        (retried, "retried"),
        (escalated, "escalated"),
    }
    listed = (await api.http.get("/operator/payments/escalated", headers=api.operator)).json()
    assert [(p["claim_id"], p["reason_code"]) for p in listed] == [(escalated, "MS03")]
    again = report_for(
        first,
        TransferAnswer(end_to_end_of(api, escalated), 25_000, "RJCT", "MS03"),
        message_id="P3",
    )
    assert (await upload(api, again)).json()["entries"][0]["result"] == "already_applied"
    mail = await operators_mail(api, escalated)
    assert mail.message["Subject"] == (
        f"[Cashback] Escalation (R14): the bank answered the payout of claim {escalated} with "
        "RJCT MS03: enter the result"
    )
    assert f"POST /operator/claims/{escalated}/payment-result" in mail.part("plain")
    seen = (await api.http.get(f"/operator/claims/{escalated}", headers=api.operator)).json()
    assert seen["awaiting_payment_result"] is True
    [entry] = [e for e in seen["timeline"] if e["event"] == "payment_escalated"]
    assert entry["actor"] == "system"
    assert entry["reason"].startswith(
        "R14: the bank answered the payout RJCT MS03 (reason not specified by the agent)"
    )
    read = (await api.http.get(f"/claims/{escalated}", headers=escalated_reseller.headers)).json()
    assert "payment_escalated" not in {e["event"] for e in read["timeline"]}

    returned_note = debit_notification(
        "C54-1",
        "DE89370400440532013000",
        [TransferAnswer(end_to_end_of(api, returned), 25_000, "RTRN", "AC04")],
    )
    assert (await upload(api, returned_note)).json()["entries"][0]["result"] == "returned"
    await wait_for_status(api, returned_reseller, returned, ClaimStatus.PAYMENT_FAILED)

    decided = await api.http.post(
        f"/operator/claims/{escalated}/payment-result",
        json={"return_code": "ACSC", "bank_reference": "OPS-1"},
        headers=api.operator,
    )
    assert decided.status_code == 200, decided.text
    await wait_for_status(api, escalated_reseller, escalated, ClaimStatus.PAID)
    assert (await api.http.get("/operator/payments/escalated", headers=api.operator)).json() == []
    seen = (await api.http.get(f"/operator/claims/{escalated}", headers=api.operator)).json()
    assert seen["awaiting_payment_result"] is False
    [paid] = [e for e in seen["timeline"] if e["to_status"] == "PAID"]
    assert paid["actor"].startswith("op-")  # D3: the signed-in operator who entered ACSC
    assert paid["actor"].endswith("@program.example")
    assert [key for key, _ in notices_of(api.mailbox, escalated)].count(
        "operator_escalation/1"
    ) == 1
    assert "operator_escalation/2" not in dict(notices_of(api.mailbox, escalated))

    second = await released_run(api)  # the transient refusal, sent again
    assert second["number_of_transactions"] == 1
    booked = debit_notification(
        "C54-2",
        "DE89370400440532013000",
        [TransferAnswer(end_to_end_of(api, retried), 25_000, "BOOK")],
    )
    assert (await upload(api, booked)).json()["entries"][0]["result"] == "paid"
    await wait_for_status(api, retried_reseller, retried, ClaimStatus.PAID)

    reconciled = (
        await api.http.get(
            f"/operator/payment-runs/{first['run_id']}/reconciliation", headers=api.operator
        )
    ).json()
    assert {(t["claim_id"], t["state"]) for t in reconciled["transfers"]} == {
        (retried, "retried"),
        (escalated, "accepted"),
        (returned, "returned"),
    }
    assert reconciled["open"]["count"] == 0


async def operators_mail(api: Api, claim_id: str, seconds: float = 10) -> Delivery:
    """The operators' escalation mail of the claim, once it arrived."""
    async with asyncio.timeout(seconds):
        while True:
            mails = dict(notices_of(api.mailbox, claim_id))
            if "operator_escalation/1" in mails:
                return mails["operator_escalation/1"]
            await asyncio.sleep(0.05)


async def test_r14_r16_d5_the_finance_desk_pays_a_run_that_the_simulated_bank_answers(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """R14, D5: the simulated finance desk prepares a run of the two orders due as one operator
    and releases it as another (four eyes, both on the run); the simulated bank answers the
    released file with a pain.002 report and a camt.054 booking in the inbox, which the desk
    imports as operators do: the claim whose IBAN the bank accepts is PAID, the one whose
    account is closed (AC04) goes into R16. The bank returns the booked transfer a day later
    (camt.054 return, AC04): the next step imports it and the paid claim, which watches for
    returns (payment runs watch 14 days), goes back into R16, with nothing left for the
    operators; the run's reconciliation counts the return. A step with nothing left does
    nothing. One log line per step, no IBAN."""
    caplog.set_level(logging.INFO, logger="cashback.finance_desk")
    offer_id = (await api.create_offer())["offer_id"]
    paid_reseller, paid = await claim_in_the_queue(api, offer_id=offer_id, iban=RETURNED_IBAN)
    closed_reseller, closed = await claim_in_the_queue(api, offer_id=offer_id, iban=CLOSED_IBAN)
    database = api.services.database
    preparer, releaser = "finance.a@program.example", "finance.b@program.example"
    for email in (preparer, releaser):
        create_operator(database, email, PASSWORD)
    inbox = api.services.settings.data_dir / "bank-inbox"
    desk = SimulatedFinanceDesk(
        database,
        api.services.payment_runs,
        api.services.bank_answers,
        SimulatedBankChannel(
            api.services.payment_runs.outbox,
            inbox,
            {compact(CLOSED_IBAN): "AC04"},
            returns={compact(RETURNED_IBAN): "AC04"},
        ),
        inbox,
        preparer,
        releaser,
    )

    first = await desk.work_once(api.services.temporal)
    assert first.run is not None
    runs = (await api.http.get("/operator/payment-runs", headers=api.operator)).json()
    assert [(r["run_id"], r["prepared_by"], r["released_by"]) for r in runs] == [
        (first.run.run_id, preparer, releaser)
    ]
    assert runs[0]["number_of_transactions"] == 2
    assert first.answered == (
        f"{first.run.message_id}-1.pain.002.xml",
        f"{first.run.message_id}-2.camt.054.xml",
    )
    assert {
        (f.name.split(".", 1)[1], e.claim_id, e.result)
        for f in first.imported
        if f.report is not None
        for e in f.report.entries
    } == {
        ("pain.002.xml", paid, "paid"),
        ("pain.002.xml", closed, "rejected"),
        ("camt.054.xml", paid, "already_applied"),
    }
    await wait_for_status(api, paid_reseller, paid, ClaimStatus.PAID)
    await wait_for_status(api, closed_reseller, closed, ClaimStatus.PAYMENT_FAILED)

    returned = await desk.work_once(api.services.temporal)
    assert (returned.run, returned.answered) == (None, (f"{first.run.message_id}-3.camt.054.xml",))
    assert dict(returned.results()) == {"reopened": 1}
    claim = await wait_for_status(api, paid_reseller, paid, ClaimStatus.PAYMENT_FAILED)
    events = [(e["event"], e.get("to_status")) for e in claim["timeline"]]
    assert events[-3:] == [
        ("status_changed", "PAID"),
        ("payment_returned", None),
        ("status_changed", "PAYMENT_FAILED"),
    ]
    with database.reading() as session:
        row = session.get(Claim, paid)
        assert row is not None
        assert (row.paid_on, row.bank_reference, row.bank_return_code) == (None, None, "AC04")
    back = (await api.http.get("/operator/payments/returned", headers=api.operator)).json()
    assert back == []  # the claim took its return back: nothing for the operators to do
    reconciled = (
        await api.http.get(
            f"/operator/payment-runs/{first.run.run_id}/reconciliation", headers=api.operator
        )
    ).json()
    counts = {s: reconciled[s]["count"] for s in ("accepted", "rejected", "returned")}
    assert counts == {"accepted": 0, "rejected": 1, "returned": 1}  # accepted, then returned

    assert not (await desk.work_once(api.services.temporal)).did_something
    lines = [r.getMessage() for r in caplog.records if r.name == "cashback.finance_desk"]
    assert len(lines) == 2, lines
    assert f"prepared by {preparer}, released by {releaser}" in lines[0]
    assert "paid 1" in lines[0]
    assert "reopened 1" in lines[1]
    assert not any(compact(iban)[4:] in line for line in lines for iban in IBANS)


class UnreachableTemporal:
    """A Temporal client whose server does not answer (a signal fails as the real one does)."""

    def get_workflow_handle(self, workflow_id: str) -> UnreachableTemporal:
        return self

    async def signal(self, *args: Any) -> None:
        raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")


async def test_r16_a_return_that_cannot_reach_its_claim_stays_listed_for_the_operators(
    api: Api,
) -> None:
    """R16: a return of a paid transfer whose claim cannot be told (Temporal down) is recorded
    once: the report (as answered and as kept) says `returned_after_payment` with the reason,
    the claim stays PAID and the payment is listed for the operators; the same return in
    another file is applied already."""
    reseller, claim_id = await claim_in_the_queue(api)
    run = await released_run(api)
    paid = TransferAnswer(end_to_end_of(api, claim_id), 25_000, "ACSC")
    assert (await upload(api, report_for(run, paid))).status_code == 200
    await wait_for_status(api, reseller, claim_id, ClaimStatus.PAID)

    came_back = [TransferAnswer(end_to_end_of(api, claim_id), 25_000, "RTRN", "AC01")]
    imports = api.services.bank_answers
    imported = imports.import_file(
        debit_notification("C54-RT", "DE89370400440532013000", came_back), "op"
    )
    temporal = cast(Client, UnreachableTemporal())
    assert await complete_payments(temporal, imported.completions, imports) == 0
    entry = imported.report.entries[0]
    assert (entry.result, entry.reason_code) == ("returned_after_payment", "AC01")
    assert entry.detail is not None
    assert entry.detail.startswith("the claim could not be told")
    files = (await api.http.get("/operator/bank-files", headers=api.operator)).json()
    assert files[0]["entries"][0]["result"] == "returned_after_payment"
    assert files[0]["entries"][0]["detail"] == entry.detail
    listed = (await api.http.get("/operator/payments/returned", headers=api.operator)).json()
    assert [(p["claim_id"], p["reason_code"]) for p in listed] == [(claim_id, "AC01")]
    await wait_for_status(api, reseller, claim_id, ClaimStatus.PAID)

    again = await upload(api, debit_notification("C54-RT-2", "DE89370400440532013000", came_back))
    assert [e["result"] for e in again.json()["entries"]] == ["already_applied"]
