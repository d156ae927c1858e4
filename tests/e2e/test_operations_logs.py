"""Issue 12: the worker's log is fit for operations. When the bank answers TECH (a transient
failure, retried by Temporal), the worker writes one WARNING line naming the claim, the
activity, the attempt and the code, and no traceback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack import (
    OPERATOR,
    create_operator,
    give_bank_details,
    open_offer,
    poll,
    register,
    running_stack,
    sign_in,
    submit_claim,
)

pytestmark = pytest.mark.e2e

IBAN = "DE89 3704 0044 0532 0130 00"
COMPANY, VAT_ID = "Contoso Software GmbH", "DE136695976"


async def test_a_tech_answer_of_the_bank_is_one_warning_line_with_the_claim(
    tmp_path: Path,
) -> None:
    behaviours = json.dumps({IBAN.replace(" ", ""): "TECH"})
    with running_stack(tmp_path, CASHBACK_SIMULATED_BANK_BEHAVIOURS=behaviours) as stack:
        create_operator(stack)
        async with httpx.AsyncClient(base_url=stack.api, timeout=30) as http:
            operator = await sign_in(http, OPERATOR)
            offer_id = await open_offer(http, operator, "OL-LOG-1", COMPANY, VAT_ID)
            reseller = await register(http, stack, COMPANY, "claims@contoso.example", VAT_ID)
            claim_id = await submit_claim(http, reseller, offer_id, "OL-LOG-1", COMPANY)
            decided = await http.post(
                f"/operator/claims/{claim_id}/decision", headers=operator, json={"kind": "approve"}
            )
            assert decided.status_code == 200, decided.text
            await poll(http, f"/claims/{claim_id}", reseller, "AWAITING_BANK_DETAILS")
            await give_bank_details(stack, http, IBAN)
            worker_log = stack.data_dir / "worker.log"
            expected = f"claim={claim_id} activity payments.pay failed on attempt 1 with TECH"
            for _ in range(100):
                if expected in worker_log.read_text():
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1)  # whatever else the failure would have written
            lines = worker_log.read_text().splitlines()
    warnings = [line for line in lines if " WARNING " in line]
    assert [line for line in warnings if expected in line] == [
        next(line for line in lines if expected in line)
    ], lines
    assert " WARNING temporalio.activity " in warnings[-1]
    assert warnings[-1].endswith("Temporal retries it")
    assert not [line for line in lines if "Traceback" in line or "TransientBankError" in line]
    assert IBAN.replace(" ", "") not in "\n".join(lines)
