"""R13 through the whole product: two canary IBANs and a canary holder name go the real way
through the processes `make run` starts (API, secure page, encrypted store, worker, Temporal
server with the payload codec, simulated bank, local mail). The bank rejects the first account
(AC04, R16); the reseller gives the second on the new link, and the claim is paid (R14).

Then every byte the product wrote is searched for the secrets: the run command's output (the
API's log), the worker's and the Temporal server's logs (where exceptions end up), every file
in the data directory (the program's SQLite database and its write-ahead log, the Temporal
server's database with the raw histories, the bank's ledger, the mails, the invoices), the
pages and JSON answers the reseller and the operator get (the error page of a typo included),
and the claim's history as fetched without the codec. Only masked IBANs may appear."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest
from schwifty import IBAN
from temporalio.api.history.v1 import History
from temporalio.client import Client

from cashback.db import mask_iban
from cashback.domain.names import names_match
from tests.e2e.stack import (
    OPERATOR,
    Stack,
    create_operator,
    open_offer,
    poll,
    register,
    running_stack,
    sign_in,
    submit_claim,
)
from tests.webhooks.receiver import Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.security]

COMPANY = "Kanarienvogel Q7Z4 Software GmbH"
# Typed differently from the company's name, yet the same name under R11's normalisation: a
# copy of it anywhere can only come from the bank details.
CANARY_HOLDER = "KANARIENVOGEL  Q7Z4 SOFTWARE G.M.B.H."
REJECTED = IBAN.generate("DE", bank_code="37040044", account_code="4711081543")  # AC04
PAID = IBAN.generate("DE", bank_code="37040044", account_code="4711081544")
AGREEMENT = "OL-CANARY-1"


def secret_forms() -> tuple[str, ...]:
    ibans = [form for iban in (REJECTED, PAID) for form in (iban.compact, iban.formatted)]
    bbans = [iban.bban for iban in (REJECTED, PAID)]
    holders = [CANARY_HOLDER, " ".join(CANARY_HOLDER.split()), CANARY_HOLDER.casefold()]
    return (*ibans, *bbans, *holders)


def leaks_in(found_in: str | bytes) -> list[str]:
    data = found_in.encode() if isinstance(found_in, str) else found_in
    return [form for form in secret_forms() if form.encode() in data]


async def link_in_mail(stack: Stack, number: int) -> str:
    """The secure link of the `number`th e-mail that carries one."""
    for _ in range(300):
        links = [
            match.group(0)
            for mail in stack.mails()
            if (body := mail.get_body(preferencelist=("plain",))) is not None
            for match in [
                re.search(r"http://127\.0\.0\.1:\d+/bank-details/[\w-]+", body.get_content())
            ]
            if match is not None
        ]
        if len(links) >= number:
            return links[number - 1]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no e-mail number {number} with a secure link")


def bank_form(iban: IBAN, **fields: str) -> dict[str, str]:
    return {"holder_name": CANARY_HOLDER, "holder_type": "company", "iban": iban.formatted} | fields


def everything_written(folder: Path) -> dict[Path, bytes]:
    """Every file under `folder`, as bytes."""
    return {path: path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


async def raw_history(stack: Stack, claim_id: str) -> tuple[bytes, str]:
    """The claim's history as Temporal stores it: fetched by a client without the codec."""
    client = await Client.connect(f"127.0.0.1:{stack.temporal_port}")
    history = await client.get_workflow_handle(f"claim-{claim_id}").fetch_history()
    return History(events=history.events).SerializeToString(), history.to_json()


async def test_r13_canary_bank_details_stay_secret_through_the_whole_product(
    tmp_path: Path,
) -> None:
    assert names_match(CANARY_HOLDER, COMPANY)
    answers: list[str] = []  # every page and JSON body a person got
    behaviours = json.dumps({REJECTED.compact: "AC04"})
    receiver = Receiver()  # issue 17: the reseller's webhook endpoint, on loopback
    receiver.up()
    with running_stack(
        tmp_path,
        CASHBACK_SIMULATED_BANK_BEHAVIOURS=behaviours,
        CASHBACK_WEBHOOK_ALLOW_LOOPBACK="true",
        CASHBACK_WEBHOOK_RETRY_INITIAL_SECONDS="0.5",
    ) as stack:
        create_operator(stack)
        async with httpx.AsyncClient(base_url=stack.api, timeout=30) as http:
            operator = await sign_in(http, OPERATOR)
            offer_id = await open_offer(http, operator, AGREEMENT, COMPANY, "DE129273398")
            reseller = await register(
                http, stack, COMPANY, "claims@kanarienvogel.example", "DE129273398"
            )
            endpoint = await http.post(
                "/webhooks/endpoints", headers=reseller, json={"url": receiver.url}
            )
            assert endpoint.status_code == 201, endpoint.text
            claim_id = await submit_claim(http, reseller, offer_id, AGREEMENT, COMPANY)
            claim_url = f"/claims/{claim_id}"
            decided = await http.post(
                f"/operator/claims/{claim_id}/decision", headers=operator, json={"kind": "approve"}
            )
            assert decided.status_code == 200, decided.text
            await poll(http, claim_url, reseller, "AWAITING_BANK_DETAILS")

            # R13: a typo (an invalid BIC) is answered on the page; then the first account.
            request = await link_in_mail(stack, 1)
            typo = await http.post(request, data=bank_form(REJECTED, bic="NOTABIC"))
            assert typo.status_code == 422
            # The form keeps the holder's name the person typed (not the IBAN): cut it out.
            assert typo.text.count(f'value="{CANARY_HOLDER}"') == 1
            answers.append(typo.text.replace(f'value="{CANARY_HOLDER}"', ""))
            given = await http.post(request, data=bank_form(REJECTED))
            assert given.status_code == 200, given.text
            answers.append(given.text)
            # R16: the bank rejects it (AC04); the payment-failure e-mail brings a new link.
            failed = await poll(http, claim_url, reseller, "PAYMENT_FAILED")
            corrected = await http.post(await link_in_mail(stack, 2), data=bank_form(PAID))
            assert corrected.status_code == 200, corrected.text
            paid = await poll(http, claim_url, reseller, "PAID")
            answers += [corrected.text, json.dumps(failed), json.dumps(paid)]
            for _ in range(300):  # the webhooks follow the projection within moments
                if any('"claim.paid"' in item.body for item in receiver.snapshot()):
                    break
                await asyncio.sleep(0.1)
            webhooks = receiver.snapshot()
            answers += [item.body + json.dumps(item.headers) for item in webhooks]
            for url, headers in (
                (claim_url, reseller),
                ("/claims", reseller),
                (f"/webhooks/endpoints/{endpoint.json()['endpoint_id']}/deliveries", reseller),
                (f"/operator/claims/{claim_id}", operator),
                ("/operator/review-queue", operator),
            ):
                response = await http.get(url, headers=headers)
                answers.append(response.text)
        history_bytes, history_json = await raw_history(stack, claim_id)
    receiver.down()

    # Control: the searches see what they search (masked IBANs, plain search attributes, and
    # payloads that say they are encrypted).
    written = everything_written(tmp_path)
    everything = b"".join(written.values())
    assert mask_iban(PAID.compact).encode() in written[stack.data_dir / "cashback.sqlite3"]
    assert AGREEMENT.encode() in written[stack.data_dir / "temporal.sqlite3"]
    assert b"binary/encrypted" in history_bytes
    assert stack.data_dir / "worker.log" in written
    assert stack.run_log in written
    assert [json.loads(item.body)["type"] for item in webhooks][-1] == "claim.paid"
    assert b"claim.payment_failed" in written[stack.data_dir / "cashback.sqlite3"]

    leaks = {str(path.relative_to(tmp_path)): leaks_in(data) for path, data in written.items()}
    leaks |= {"history (raw)": leaks_in(history_bytes), "history (json)": leaks_in(history_json)}
    leaks |= {f"answer {number}": leaks_in(text) for number, text in enumerate(answers)}
    print(
        f"\nsecrets: {len(secret_forms())} forms searched in {len(written)} files "
        f"({len(everything) / 1e6:.1f} MB: logs, databases, mails, invoices), "
        f"{len(answers)} HTTP answers and the raw history ({len(history_bytes)} bytes); "
        f"leaks: {sum(len(found) for found in leaks.values())}"
    )
    assert {where: found for where, found in leaks.items() if found} == {}
