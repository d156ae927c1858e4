"""R14, D5 with payment runs: the claims' payment orders are queued, an operator prepares a
SEPA credit transfer file (`pain.001.001.09`) of the orders due, a second operator releases it
(four eyes) and only then does it reach the bank channel (the outbox), unchanged."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from datetime import date
from typing import Any

import pytest

from cashback.bank.pain001 import NAMESPACE, validate
from cashback.domain.sepa import end_to_end_id, is_target2_business_day, minor_units
from cashback.domain.status import ClaimStatus
from tests.api.claims_helpers import wait_for_status
from tests.api.harness import Api
from tests.api.payment_run_helpers import another_operator, claim_in_the_queue, queued_payment

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
NS = {"p": NAMESPACE}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"payment_gateway": "payment_runs"}


async def test_r14_d5_a_run_is_prepared_released_by_a_second_operator_and_sent(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """R14, D5: an answer typed in for an order not sent yet is refused (409); a run whose
    stored file was altered is refused at release (409) and discarded,
    its order queued again. The queued order goes into a new run whose file validates against
    the official schema, with the claim's EndToEndId, its amount, the control sum and a
    TARGET2 business day; the preparer's release is refused (403, four eyes) and nothing
    reaches the outbox; a second operator releases it, and the outbox holds the very file
    prepared (owner-only; the IBAN is in no log line). The claim keeps waiting for the bank's
    answer; nothing is due for another run; a released run is neither released again nor
    discarded (409)."""
    caplog.set_level(logging.DEBUG)
    reseller, claim_id = await claim_in_the_queue(api)
    payment = queued_payment(api, claim_id)
    assert payment is not None
    outbox = api.services.payment_runs.outbox

    # R14: no answer can be typed in for an order that has not gone to the bank.
    typed = await api.http.post(
        f"/operator/claims/{claim_id}/payment-result",
        json={"return_code": "ACSC"},
        headers=api.operator,
    )
    assert (typed.status_code, typed.json()["error"]) == (409, "payment_not_sent")

    # A run whose stored file was altered after it was built is never released; discarded,
    # its order goes back to the queue.
    altered = (await api.http.post("/operator/payment-runs", headers=api.operator)).json()
    stored = api.services.settings.data_dir / "payment-runs" / altered["run_id"] / "pain.001.xml"
    stored.write_bytes(stored.read_bytes().replace(b"250.00", b"2500.00"))
    refused = await api.http.post(
        f"/operator/payment-runs/{altered['run_id']}/release", headers=another_operator(api)
    )
    assert (refused.status_code, refused.json()["error"]) == (409, "run_file_changed")
    assert not outbox.exists() or list(outbox.iterdir()) == []
    discarded = await api.http.post(
        f"/operator/payment-runs/{altered['run_id']}/discard", headers=api.operator
    )
    assert discarded.json()["status"] == "discarded"

    prepared = await api.http.post("/operator/payment-runs", headers=api.operator)
    assert prepared.status_code == 201, prepared.text
    run = prepared.json()
    assert run["run_id"] != altered["run_id"]
    assert run["status"] == "prepared"
    assert (run["number_of_transactions"], run["control_sum_minor_units"]) == (1, 25_000)
    assert run["debtor_iban_masked"] == "DE89 **** **** **** **30 00"

    content = (
        await api.http.get(f"/operator/payment-runs/{run['run_id']}/file", headers=api.operator)
    ).content
    validate(content)
    root = ET.fromstring(content)
    assert root.findtext(".//p:EndToEndId", namespaces=NS) == end_to_end_id(payment.idempotency_key)
    assert minor_units(root.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=NS) or "", "EUR") == 25_000
    assert root.findtext(".//p:GrpHdr/p:MsgId", namespaces=NS) == run["message_id"]
    executed = root.findtext(".//p:ReqdExctnDt/p:Dt", namespaces=NS) or ""
    assert executed == run["execution_date"]
    assert is_target2_business_day(date.fromisoformat(executed))

    claims = (
        await api.http.get(f"/operator/payment-runs/{run['run_id']}/claims", headers=api.operator)
    ).text.splitlines()
    assert claims[0] == "claim_id,end_to_end_id,amount_minor_units,currency,masked_iban"
    assert claims[1].startswith(f"{claim_id},{end_to_end_id(payment.idempotency_key)},25000,EUR,")
    assert "DE02120300000000202051" not in "\n".join(claims)  # masked only

    again = await api.http.post("/operator/payment-runs", headers=another_operator(api))
    assert again.status_code == 409
    assert again.json()["error"] == "run_open"

    own = await api.http.post(
        f"/operator/payment-runs/{run['run_id']}/release", headers=api.operator
    )
    assert own.status_code == 403
    assert own.json()["error"] == "four_eyes"
    assert "second operator" in own.json()["detail"]
    assert not outbox.exists() or list(outbox.iterdir()) == []
    by_reseller = await api.http.post(
        f"/operator/payment-runs/{run['run_id']}/release", headers=reseller.headers
    )
    assert by_reseller.status_code == 403

    second = another_operator(api)
    released = await api.http.post(
        f"/operator/payment-runs/{run['run_id']}/release", headers=second
    )
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "released"
    assert released.json()["released_by"] != run["prepared_by"]
    assert released.json()["sent_at"] is not None
    [sent] = outbox.iterdir()
    assert sent.name == f"{run['message_id']}.xml"
    assert sent.read_bytes() == content
    assert oct(sent.stat().st_mode & 0o777) == "0o600"

    assert (
        await api.http.post(f"/operator/payment-runs/{run['run_id']}/release", headers=second)
    ).status_code == 409
    assert (
        await api.http.post(f"/operator/payment-runs/{run['run_id']}/discard", headers=second)
    ).status_code == 409
    nothing = await api.http.post("/operator/payment-runs", headers=second)
    assert nothing.status_code == 409
    assert nothing.json()["error"] == "nothing_due"
    listed = (await api.http.get("/operator/payment-runs", headers=api.operator)).json()
    assert [(r["run_id"], r["status"]) for r in listed] == [
        (run["run_id"], "released"),
        (altered["run_id"], "discarded"),
    ]
    await wait_for_status(api, reseller, claim_id, ClaimStatus.SCHEDULED_FOR_PAYMENT)
    assert "202051" not in caplog.text  # R13: the creditor's IBAN is in the file, never logged
    assert (
        await api.http.get("/operator/payment-runs/run_unknown", headers=api.operator)
    ).status_code == 404
