"""Demo data for the embedded default (`make run` on an empty database): an operator, a reseller,
two offers and the licensing records of a handful of agreements, so that a newcomer can sign in
and submit claims at once; and the two finance operators of the simulated finance desk (one
prepares payment runs, the other releases them). Development only; the passwords are printed,
never used in production."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from api.accounts import create_operator
from api.security import hash_password
from cashback.db import Database, LicensingRepository
from cashback.db.tables import Offer, Reseller, ResellerStatus, User, UserRole
from cashback.domain.eligibility import LicenceLine, LicensingRecord
from cashback.domain.reseller import Language

OPERATOR_EMAIL = "operator@cashback.example"
# The simulated finance desk (cashback/finance_desk.py): four eyes, two operators.
FINANCE_PREPARER_EMAIL = "finance.prepares@cashback.example"
FINANCE_RELEASER_EMAIL = "finance.releases@cashback.example"
RESELLER_EMAIL = "claims@contoso.example"
DEMO_PASSWORD = "cashback-demo-2026"  # printed by `make run`; development only
RESELLER_ID = "r_demo_contoso"
RESELLER_NAME = "Contoso Software GmbH"
RESELLER_VAT_ID = "DE136695976"  # R1: a valid German VAT id (check digit), approved
OFFERS = ("o_demo_office", "o_demo_windows")
AGREEMENTS = tuple(f"OL-DEMO-{n}" for n in range(1, 9))


@dataclass(frozen=True)
class DemoAccounts:
    operator_email: str = OPERATOR_EMAIL
    reseller_email: str = RESELLER_EMAIL
    password: str = DEMO_PASSWORD


def seed_finance_operators(database: Database) -> tuple[str, str]:
    """The finance desk's two operator accounts (preparer, releaser), added where missing (a
    database of an older `make run` has the other demo accounts already)."""
    with database.reading() as session:
        present = set(
            session.scalars(
                select(User.email).where(
                    User.email.in_((FINANCE_PREPARER_EMAIL, FINANCE_RELEASER_EMAIL))
                )
            )
        )
    for email in (FINANCE_PREPARER_EMAIL, FINANCE_RELEASER_EMAIL):
        if email not in present:
            create_operator(database, email, DEMO_PASSWORD)
    return FINANCE_PREPARER_EMAIL, FINANCE_RELEASER_EMAIL


def seed_demo_data(database: Database) -> DemoAccounts | None:
    """Add the demo data to an empty database; None when it has users already."""
    with database.reading() as session:
        if session.scalar(select(func.count()).select_from(User)):
            return None
    now = datetime.now(UTC)
    create_operator(database, OPERATOR_EMAIL, DEMO_PASSWORD)
    with database.transaction() as session:
        session.add(
            Reseller(
                id=RESELLER_ID,
                company_name=RESELLER_NAME,
                country="DE",
                language=Language.GERMAN,
                email=RESELLER_EMAIL,
                created_at=now,
                vat_id=RESELLER_VAT_ID,
                status=ResellerStatus.APPROVED,
                reviewed_at=now,
                reviewed_by=OPERATOR_EMAIL,
            )
        )
        session.flush()
        session.add(
            User(
                reseller_id=RESELLER_ID,
                email=RESELLER_EMAIL,
                password_hash=hash_password(DEMO_PASSWORD),
                role=UserRole.RESELLER,
                created_at=now,
                email_confirmed_at=now,
            )
        )
        for offer_id, name, product, rate in (
            (OFFERS[0], "Office 2026 Cash Back", "Office Professional", 1250),
            (OFFERS[1], "Windows Server Cash Back", "Windows Server Standard", 4000),
        ):
            session.add(
                Offer(
                    id=offer_id,
                    name=name,
                    sale_date_from=(now - timedelta(days=365)).date(),
                    sale_date_to=now.date(),
                    products=[product],
                    licence_types=["new"],
                    customer_segments=["commercial", "education"],
                    countries=["DE", "AT"],
                    min_per_customer=5,
                    max_per_customer=200,
                    claim_opens_at=now - timedelta(days=1),
                    claim_closes_at=now + timedelta(days=90),
                    rate_minor_units=rate,
                    currency="EUR",
                    terms_version="2026-01",
                    terms_text="Terms and Conditions for the Reseller Cash Back Promotion (demo).",
                    created_at=now,
                    closed_at=None,
                )
            )
        licensing = LicensingRepository(session)
        for number, agreement in enumerate(AGREEMENTS, start=1):
            product = "Office Professional" if number % 2 else "Windows Server Standard"
            licensing.add_agreement(
                LicensingRecord(
                    agreement_number=agreement,
                    customer_name=f"Fabrikam {number} AG",
                    customer_segment="commercial",
                    customer_country="DE",
                    reseller_name=RESELLER_NAME,
                    seller_id=RESELLER_VAT_ID,
                    sale_date=(now - timedelta(days=90 + number)).date(),
                    lines=(LicenceLine(product=product, licence_type="new", quantity=10 + number),),
                ),
                imported_at=now,
            )
    return DemoAccounts()
