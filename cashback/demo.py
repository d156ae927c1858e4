"""`make demo`: the program with its durations shortened (a day lasts ten seconds), and a handful
of demo claims submitted over the API that take different paths, so a person can watch them
move through review, bank details and payout in the Temporal Web UI within minutes.

Payouts go through payment runs (R14): once a program day the simulated finance desk
(cashback/finance_desk.py) prepares a run of the orders due as one demo finance operator and
releases it as another, the simulated bank answers the released pain.001 file with pain.002 and
camt.054 files, and the desk imports them as operators do.

The claims (demo reseller Contoso Software GmbH, demo offers and records):
  OL-DEMO-1  approved by the operator, bank details given: PAID
  OL-DEMO-2  nobody decides: approved at the review deadline, no bank details: CANCELLED
  OL-DEMO-3  rejected by the operator with a reason: REJECTED
  OL-DEMO-4  an individual's bank account: CANCELLED (R12)
  OL-DEMO-5  a holder name that differs, then corrected: PAID after a correction (R11)
  OL-DEMO-6  the bank rejects the account (AC04, pain.002): PAYMENT_FAILED, notices (R16)
  OL-DEMO-7  the bank books the transfer, then returns it a day later (a camt.054 return,
             AC04: the account was closed): PAID, then back to PAYMENT_FAILED, notices (R16)
  OL-DEMO-404 an agreement the records do not know: escalated at the deadline (R9)
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import httpx

from api.demo_data import DEMO_PASSWORD, OFFERS, OPERATOR_EMAIL, RESELLER_EMAIL, RESELLER_NAME
from cashback.mail.smtp import NOTICE_HEADER

log = logging.getLogger("cashback.demo")

# A day lasts ten seconds: the 14 business days of review pass in about three minutes.
PROGRAM_DAY_SECONDS = 10.0
TIME_SCALE = PROGRAM_DAY_SECONDS / timedelta(days=1).total_seconds()
GOOD_IBAN = "DE89 3704 0044 0532 0130 00"
CLOSED_IBAN = "DE02 1203 0000 0000 2020 51"
CLOSED_AFTER_BOOKING_IBAN = "DE36 5001 0517 5407 3243 96"
DEMO_POLICY: dict[str, float | int] = {"time_scale": TIME_SCALE, "return_window_days": 0}
DEMO_BANK_BEHAVIOURS: dict[str, str] = {CLOSED_IBAN.replace(" ", ""): "AC04"}
DEMO_BANK_RETURNS: dict[str, str] = {CLOSED_AFTER_BOOKING_IBAN.replace(" ", ""): "AC04"}
PDF = b"%PDF-1.4\n% demo invoice\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
_LINK = re.compile(r"https?://[^\s\"<>]+/bank-details/[\w-]+")


class DemoDriver:
    def __init__(self, http: httpx.AsyncClient, mail_folder: Path) -> None:
        self._http = http
        self._mail = mail_folder
        self._reseller: dict[str, str] = {}
        self._operator: dict[str, str] = {}

    async def run(self) -> None:
        self._reseller = await self._sign_in(RESELLER_EMAIL)
        self._operator = await self._sign_in(OPERATOR_EMAIL)
        claims = {
            number: await self._submit(number)
            for number in ("OL-DEMO-1", "OL-DEMO-2", "OL-DEMO-3", "OL-DEMO-4", "OL-DEMO-5",
                           "OL-DEMO-6", "OL-DEMO-7", "OL-DEMO-404")
        }  # fmt: skip
        for claim_id in claims.values():
            await self._wait_for(claim_id, "UNDER_REVIEW")
        await self._decide(claims["OL-DEMO-3"], {"kind": "reject", "reasons": ["demo: rejected"]})
        for number in ("OL-DEMO-1", "OL-DEMO-4", "OL-DEMO-5", "OL-DEMO-6", "OL-DEMO-7"):
            await self._decide(claims[number], {"kind": "approve"})
        await self._bank_details(claims["OL-DEMO-1"], RESELLER_NAME, "company", GOOD_IBAN)
        await self._bank_details(claims["OL-DEMO-4"], "Max Mustermann", "individual", GOOD_IBAN)
        await self._bank_details(claims["OL-DEMO-5"], "Contoso Ltd", "company", GOOD_IBAN)
        await self._bank_details(claims["OL-DEMO-6"], RESELLER_NAME, "company", CLOSED_IBAN)
        await self._bank_details(
            claims["OL-DEMO-7"], RESELLER_NAME, "company", CLOSED_AFTER_BOOKING_IBAN
        )
        await self._bank_details(
            claims["OL-DEMO-5"], RESELLER_NAME, "company", GOOD_IBAN, notice="correction_request"
        )
        log.info("demo claims submitted: %s", ", ".join(f"{k}={v}" for k, v in claims.items()))

    async def _sign_in(self, email: str) -> dict[str, str]:
        response = await self._http.post(
            "/auth/token", data={"username": email, "password": DEMO_PASSWORD}
        )
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def _submit(self, agreement_number: str) -> str:
        offer = OFFERS[0] if agreement_number.endswith(("1", "3", "5", "7", "404")) else OFFERS[1]
        response = await self._http.post(
            "/claims",
            headers=self._reseller | {"Idempotency-Key": f"demo-{agreement_number}"},
            data={
                "offer_id": offer,
                "agreement_number": agreement_number,
                "customer_name": f"Fabrikam {agreement_number.rsplit('-', 1)[-1]} AG",
                "reseller_name": RESELLER_NAME,
                "terms_accepted_version": "2026-01",
            },
            files={"invoice": ("invoice.pdf", PDF, "application/pdf")},
        )
        if response.status_code not in (200, 201):
            raise RuntimeError(f"{agreement_number}: {response.status_code} {response.text}")
        claim_id: str = response.json()["claim_id"]
        log.info("submitted %s as claim %s", agreement_number, claim_id)
        return claim_id

    async def _wait_for(self, claim_id: str, status: str, seconds: float = 60) -> None:
        async with asyncio.timeout(seconds):
            while True:
                claim = await self._http.get(f"/claims/{claim_id}", headers=self._reseller)
                if claim.json().get("status") == status:
                    return
                await asyncio.sleep(0.2)

    async def _decide(self, claim_id: str, decision: dict[str, object]) -> None:
        response = await self._http.post(
            f"/operator/claims/{claim_id}/decision", headers=self._operator, json=decision
        )
        response.raise_for_status()

    async def _bank_details(
        self,
        claim_id: str,
        holder_name: str,
        holder_type: str,
        iban: str,
        notice: str = "bank_details_request",
    ) -> None:
        link = await self._link(claim_id, notice)
        response = await self._http.post(
            link,
            data={"holder_name": holder_name, "holder_type": holder_type, "iban": iban},
        )
        response.raise_for_status()

    async def _link(self, claim_id: str, notice: str, seconds: float = 60) -> str:
        """The secure link of the claim's latest `notice` e-mail in the local mail folder (the
        outbox names each message's notice in the X-Cashback-Notice header)."""
        async with asyncio.timeout(seconds):
            while True:
                for path in sorted(self._mail.glob("*.eml"), reverse=True):
                    message = message_from_bytes(path.read_bytes(), policy=policy.default)
                    if str(message.get(NOTICE_HEADER, "")).startswith(f"{claim_id}/{notice}/"):
                        body = message.get_body(preferencelist=("plain",))
                        found = _LINK.search(body.get_content() if body else "")
                        if found:
                            return found.group(0)
                await asyncio.sleep(0.3)
