"""The program's data for the benchmarks, written in bulk through the tables and repositories.

`seed_program` adds an operator, resellers (each with a user and a bearer token), one open
offer and the licensing records of `agreements` agreements (agreement i belongs to reseller
i % resellers, each for a customer of its own, eligible). `add_claims` stores claim rows in
bulk and answers the claims' workflow inputs, for starting workflows without the API;
`claim_form` builds the multipart body of `POST /claims`; `invoice_pdf` makes a PDF invoice of
a given size; `wait_for_status` polls the database until claims reach a status.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy import func, insert, select

from activities.invoices import InvoiceRef
from api.accounts import create_operator, issue_token
from api.security import hash_password
from cashback.claims import ClaimInput, claim_workflow_id
from cashback.db import Database
from cashback.db.snapshots import claim_input_of
from cashback.db.tables import (
    AgreementLine,
    Claim,
    LicensingAgreement,
    Offer,
    Reseller,
    ResellerStatus,
    User,
    UserRole,
)
from cashback.domain.policy import ProgramPolicy
from cashback.domain.reseller import Language
from cashback.domain.status import ClaimStatus
from cashback.invoices import InvoiceStorage, StoredInvoice

PASSWORD = "bench-password-2026"
OPERATOR_EMAIL = "operator@bench.example"
OFFER_ID = "o_bench_office"
OFFER_NAME = "Office 2026 Cash Back"
TERMS_VERSION = "2026-01"
PRODUCT = "Office Professional"
LICENCES = 20  # per agreement: within the offer's limits (5..200), 20 x 12.50 EUR = 250 EUR
BOUNDARY = "bench-claim-form-boundary"


@dataclass(frozen=True)
class SeededReseller:
    reseller_id: str
    company_name: str
    email: str
    token: str  # a bearer token of its user
    partner_id: str = ""  # R1: its verified identity, the seller id of its records (R8)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Program:
    offer_id: str
    terms_version: str
    operator_token: str
    resellers: tuple[SeededReseller, ...]
    agreements: int
    sale_date: date

    @property
    def operator_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.operator_token}"}

    def agreement(self, index: int) -> str:
        return f"OL-B-{index:07d}"

    def customer(self, index: int) -> str:
        return f"Customer {index} AG"

    def reseller_of(self, index: int) -> SeededReseller:
        return self.resellers[index % len(self.resellers)]


def seed_program(
    database: Database,
    *,
    resellers: int = 1,
    agreements: int = 0,
    sale_days_ago: int = 30,
) -> Program:
    """Operator, resellers, the open offer and `agreements` licensing records. With the default
    return window (R15: 60 days) a sale `sale_days_ago` = 30 days ago is paid out in 30 days,
    so an approved claim with valid bank details waits on its payout timer."""
    now = datetime.now(UTC)
    operator_id = create_operator(database, OPERATOR_EMAIL, PASSWORD)
    password_hash = hash_password(PASSWORD)  # Argon2 once; every user gets the same hash
    seeded: list[tuple[str, str, str, int]] = []
    with database.transaction() as session:
        session.add(
            Offer(
                id=OFFER_ID,
                name=OFFER_NAME,
                sale_date_from=(now - timedelta(days=365)).date(),
                sale_date_to=now.date(),
                products=[PRODUCT],
                licence_types=["new"],
                customer_segments=["commercial"],
                countries=["DE"],
                min_per_customer=5,
                max_per_customer=200,
                claim_opens_at=now - timedelta(days=1),
                claim_closes_at=now + timedelta(days=90),
                rate_minor_units=1250,
                currency="EUR",
                terms_version=TERMS_VERSION,
                terms_text="Terms and Conditions (benchmark).",
                created_at=now,
                closed_at=None,
            )
        )
        for number in range(resellers):
            reseller_id = f"r_bench_{number:04d}"
            name = f"Reseller {number} Software GmbH"
            email = f"claims@reseller-{number}.example"
            session.add(
                Reseller(
                    id=reseller_id,
                    company_name=name,
                    country="DE",
                    language=Language.GERMAN,
                    email=email,
                    created_at=now,
                    partner_id=_partner_id(number),
                    status=ResellerStatus.APPROVED,
                )
            )
            session.flush()
            user = User(
                reseller_id=reseller_id,
                email=email,
                password_hash=password_hash,
                role=UserRole.RESELLER,
                created_at=now,
                email_confirmed_at=now,
            )
            session.add(user)
            session.flush()
            seeded.append((reseller_id, name, email, user.id))
    program = Program(
        offer_id=OFFER_ID,
        terms_version=TERMS_VERSION,
        operator_token=issue_token(database, operator_id).access_token,
        resellers=tuple(
            SeededReseller(
                rid,
                name,
                email,
                issue_token(database, user_id).access_token,
                _partner_id(number),
            )
            for number, (rid, name, email, user_id) in enumerate(seeded)
        ),
        agreements=0,
        sale_date=(now - timedelta(days=sale_days_ago)).date(),
    )
    add_agreements(database, program, range(agreements))
    return Program(**{**program.__dict__, "agreements": agreements})


def _partner_id(number: int) -> str:
    return f"{100_000 + number}"  # R1: a partner id has 5 to 10 digits


def add_agreements(database: Database, program: Program, indexes: Iterable[int]) -> None:
    """The licensing records of the agreements `indexes`, in one transaction."""
    now = datetime.now(UTC)
    agreements = []
    lines = []
    for index in indexes:
        number = program.agreement(index)
        agreements.append(
            {
                "agreement_number": number,
                "customer_name": program.customer(index),
                "customer_segment": "commercial",
                "customer_country": "DE",
                "reseller_name": program.reseller_of(index).company_name,
                "seller_id": program.reseller_of(index).partner_id,
                "sale_date": program.sale_date,
                "imported_at": now,
            }
        )
        lines.append(
            {
                "agreement_number": number,
                "position": 1,
                "product": PRODUCT,
                "licence_type": "new",
                "quantity": LICENCES,
            }
        )
    if not agreements:
        return
    with database.transaction() as session:
        session.execute(insert(LicensingAgreement), agreements)
        session.execute(insert(AgreementLine), lines)


def invoice_pdf(size: int = 200 * 1024, seed: int = 7) -> bytes:
    """A PDF invoice of `size` bytes (a header, an incompressible stream, the trailer)."""
    head = b"%PDF-1.4\n1 0 obj << /Length 0 >>\nstream\n"
    tail = b"\nendstream\nendobj\ntrailer << >>\n%%EOF\n"
    body = random.Random(seed).randbytes(max(0, size - len(head) - len(tail)))
    return head + body + tail


def claim_form(program: Program, index: int, invoice: bytes) -> tuple[bytes, str]:
    """The multipart body of `POST /claims` for agreement `index` and its content type."""
    reseller = program.reseller_of(index)
    fields = {
        "offer_id": program.offer_id,
        "agreement_number": program.agreement(index),
        "customer_name": program.customer(index),
        "reseller_name": reseller.company_name,
        "terms_accepted_version": program.terms_version,
    }
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="invoice"; '
        f'filename="invoice-{index}.pdf"\r\nContent-Type: application/pdf\r\n\r\n'.encode()
        + invoice
        + b"\r\n"
    )
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={BOUNDARY}"


async def post_claim(
    http: httpx.AsyncClient, program: Program, index: int, invoice: bytes, key: str
) -> httpx.Response:
    """`POST /claims` for agreement `index` as its reseller, under the idempotency key `key`;
    raises unless the claim was created (201)."""
    body, content_type = claim_form(program, index, invoice)
    answer = await http.post(
        "/claims",
        content=body,
        headers=program.reseller_of(index).headers
        | {"Content-Type": content_type, "Idempotency-Key": key},
    )
    if answer.status_code != 201:
        raise RuntimeError(f"POST /claims answered {answer.status_code}: {answer.text[:300]}")
    return answer


def store_invoice(storage: InvoiceStorage, invoice: bytes) -> InvoiceRef:
    """One stored invoice that claims started without the API can all refer to."""
    from cashback.invoices import sha256_hex

    digest = sha256_hex(invoice)
    stored: StoredInvoice = storage.put(
        f"invoices/bench-shared/{digest}.pdf", invoice, "application/pdf"
    )
    return InvoiceRef.model_validate(stored, from_attributes=True)


def add_claims(
    database: Database,
    program: Program,
    indexes: Sequence[int],
    invoice: InvoiceRef,
    policy: ProgramPolicy,
) -> list[ClaimInput]:
    """Claim rows (status SUBMITTED, as the API stores them) for the agreements `indexes`, in
    one transaction, and the workflow input of each: what `POST /claims` would start."""
    now = datetime.now(UTC)
    rows = []
    for index in indexes:
        claim_id = f"c_{secrets.token_hex(8)}"
        reseller = program.reseller_of(index)
        rows.append(
            Claim(
                id=claim_id,
                workflow_id=claim_workflow_id(claim_id),
                idempotency_key=f"{reseller.reseller_id} bench-{claim_id}",
                reseller_id=reseller.reseller_id,
                offer_id=program.offer_id,
                agreement_number=program.agreement(index),
                customer_name=program.customer(index),
                reseller_name_on_agreement=reseller.company_name,
                terms_accepted_version=program.terms_version,
                terms_accepted_at=now,
                invoice_object_key=invoice.object_key,
                invoice_sha256=invoice.sha256,
                request_sha256="",
                status=ClaimStatus.SUBMITTED,
                amount_minor_units=None,
                currency=None,
                created_at=now,
                updated_at=now,
            )
        )
    with database.transaction() as session:
        offer = session.get_one(Offer, program.offer_id)
        resellers = {r.id: r for r in session.scalars(select(Reseller))}
        session.add_all(rows)
        session.flush()
        return [
            claim_input_of(resellers[row.reseller_id], offer, row, invoice, policy) for row in rows
        ]


def count_in_status(database: Database, statuses: Iterable[ClaimStatus]) -> int:
    with database.reading() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Claim).where(Claim.status.in_(list(statuses)))
            )
            or 0
        )


async def wait_for_status(
    database: Database,
    statuses: Iterable[ClaimStatus],
    expected: int,
    within: float,
    *,
    what: str = "claims",
) -> float:
    """Poll the database until `expected` claims are in one of `statuses`; the seconds waited.
    Raises TimeoutError with the count reached."""
    wanted = list(statuses)
    started = time.monotonic()
    while True:
        reached = await asyncio.to_thread(count_in_status, database, wanted)
        if reached >= expected:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise TimeoutError(
                f"{what}: {reached} of {expected} reached {'/'.join(wanted)} in {within:.0f} s"
            )
        await asyncio.sleep(0.5)
