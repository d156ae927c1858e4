"""The program's tables (SQLAlchemy 2.0, typed). One class per table; repositories hold the SQL.

Timestamps are timezone-aware UTC (`UtcDateTime`), money is integer minor units (D4), statuses
are StrEnums stored as their values.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from activities.records import TimelineEvent
from cashback.db.types import StrEnumText, UtcDateTime
from cashback.domain.agreements import agreement_key
from cashback.domain.budgets import CommitmentState
from cashback.domain.eligibility import Verdict
from cashback.domain.money import Money
from cashback.domain.offers import ClaimPeriod, DecisionPolicy, LicenceLimits, OfferCriteria
from cashback.domain.reseller import Language
from cashback.domain.status import RELEASES_AGREEMENT, ClaimStatus, NoticeKind

# Named constraints: migrations can drop and alter them on every database by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _agreement_key(context: DefaultExecutionContext) -> str:
    """D1: a row's agreement key, always derived from its agreement number."""
    parameters: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return agreement_key(parameters["agreement_number"])


class UserRole(StrEnum):
    RESELLER = "reseller"
    OPERATOR = "operator"


class ResellerStatus(StrEnum):
    """R1: an organisation claims only once an operator approved its identity."""

    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class PaymentStatus(StrEnum):
    PENDING = "pending"  # ordered, no answer from the bank yet
    PAID = "paid"
    REJECTED = "rejected"  # for bank-detail reasons (R16), with the ISO 20022 return code
    RETURNED = "returned"  # paid, then the money came back (camt.054 return): operators act


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {  # noqa: RUF012  (SQLAlchemy's class attribute)
        datetime: UtcDateTime(),
        date: Date(),
        bool: Boolean(),
        str: String(255),
        int: Integer(),
    }


class Reseller(Base):
    """A registered reseller organisation (R1): its legal name (the name R11 compares), its
    VAT id and/or partner id (canonical, unique in the program) and whether an operator
    approved it."""

    __tablename__ = "resellers"
    __table_args__ = (
        CheckConstraint(
            "status <> 'approved' OR vat_id IS NOT NULL OR partner_id IS NOT NULL",
            name="approved_has_identifier",
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    company_name: Mapped[str]
    country: Mapped[str] = mapped_column(String(2))
    language: Mapped[Language] = mapped_column(StrEnumText(Language, 8))
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime]
    vat_id: Mapped[str | None] = mapped_column(String(32), unique=True, default=None)
    partner_id: Mapped[str | None] = mapped_column(String(32), unique=True, default=None)
    status: Mapped[ResellerStatus] = mapped_column(
        StrEnumText(ResellerStatus, 16), default=ResellerStatus.PENDING, server_default="pending"
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
    reviewed_by: Mapped[str | None] = mapped_column(String(320), default=None)
    review_note: Mapped[str] = mapped_column(Text, default="", server_default="")

    def identifiers(self) -> tuple[str, ...]:
        """R1: the verified identifiers a licensing record may name as the seller (R8)."""
        return tuple(value for value in (self.vat_id, self.partner_id) if value)

    users: Mapped[list[User]] = relationship(back_populates="reseller")


class User(Base):
    """Someone who signs in: a reseller's user or an operator (no reseller)."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role = 'operator' OR reseller_id IS NOT NULL", name="reseller_user_has_reseller"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    reseller_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("resellers.id"), index=True
    )
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str]
    role: Mapped[UserRole] = mapped_column(StrEnumText(UserRole, 16))
    created_at: Mapped[datetime]
    # R1: the address was confirmed by its one-time link (operators: at creation).
    email_confirmed_at: Mapped[datetime | None] = mapped_column(default=None)

    reseller: Mapped[Reseller | None] = relationship(back_populates="users")


class EmailConfirmation(Base):
    """R1: a one-time, expiring link that confirms a user's e-mail address. Only the token's
    SHA-256 is stored; the token itself is only in the e-mail."""

    __tablename__ = "email_confirmations"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class PasswordReset(Base):
    """A one-time, expiring link that sets a new password (the portal's "forgot password").
    Only the token's SHA-256 is stored; the token itself is only in the e-mail."""

    __tablename__ = "password_resets"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class Offer(Base):
    """One cash back promotion (R2, R3, R4, D4, R6)."""

    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint("min_per_customer >= 1", name="min_per_customer_positive"),
        CheckConstraint("max_per_customer >= min_per_customer", name="limits_ordered"),
        CheckConstraint("claim_closes_at > claim_opens_at", name="claim_period_ordered"),
        CheckConstraint("rate_minor_units >= 0", name="rate_not_negative"),
        CheckConstraint("budget_minor_units >= 0", name="budget_not_negative"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str]
    sale_date_from: Mapped[date]
    sale_date_to: Mapped[date]
    products: Mapped[list[str]] = mapped_column(JSON)
    licence_types: Mapped[list[str]] = mapped_column(JSON)
    customer_segments: Mapped[list[str]] = mapped_column(JSON)
    countries: Mapped[list[str]] = mapped_column(JSON)
    min_per_customer: Mapped[int]
    max_per_customer: Mapped[int]
    claim_opens_at: Mapped[datetime]
    claim_closes_at: Mapped[datetime]
    rate_minor_units: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    terms_version: Mapped[str] = mapped_column(String(64))
    terms_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    # D7: the offer's budget in minor units of its currency; None: no budget.
    budget_minor_units: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # D8: when its claims are decided on a conclusive automatic verdict.
    decision_policy: Mapped[DecisionPolicy] = mapped_column(
        StrEnumText(DecisionPolicy, 32),
        default=DecisionPolicy.AT_THE_DEADLINE,
        server_default=DecisionPolicy.AT_THE_DEADLINE.value,
    )

    def criteria(self) -> OfferCriteria:
        """R2, as the domain checks it."""
        return OfferCriteria(
            sale_date_from=self.sale_date_from,
            sale_date_to=self.sale_date_to,
            products=frozenset(self.products),
            licence_types=frozenset(self.licence_types),
            customer_segments=frozenset(self.customer_segments),
            countries=frozenset(self.countries),
        )

    def limits(self) -> LicenceLimits:
        """R3: licences per end customer."""
        return LicenceLimits(
            min_per_customer=self.min_per_customer, max_per_customer=self.max_per_customer
        )

    def claim_period(self) -> ClaimPeriod:
        """R4: when claims may be submitted."""
        return ClaimPeriod(opens_at=self.claim_opens_at, closes_at=self.claim_closes_at)

    def is_open_to(self, country: str, at: datetime) -> bool:
        """R2, R4: the offer covers the reseller's country, its claim period is running, and
        an operator has not closed it."""
        return (
            self.closed_at is None
            and self.claim_period().is_open(at)
            and country.upper() in self.criteria().countries
        )

    def rate_per_licence(self) -> Money:
        """D4: the rate in integer minor units of the offer's currency."""
        return Money(minor_units=self.rate_minor_units, currency=self.currency)


class LicensingAgreement(Base):
    """The program's record of an Open License agreement (imported by operators)."""

    __tablename__ = "licensing_agreements"

    agreement_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_name: Mapped[str]
    customer_segment: Mapped[str] = mapped_column(String(64))
    customer_country: Mapped[str] = mapped_column(String(2))
    reseller_name: Mapped[str]
    sale_date: Mapped[date]
    imported_at: Mapped[datetime]
    # D1, R8: the normalised agreement number the lookup compares (one record per key).
    agreement_key: Mapped[str] = mapped_column(String(64), index=True, default=_agreement_key)
    # R8: the selling reseller's VAT id or partner id (canonical); None on older records.
    seller_id: Mapped[str | None] = mapped_column(String(32), default=None)

    lines: Mapped[list[AgreementLine]] = relationship(
        back_populates="agreement",
        order_by="AgreementLine.position",
        cascade="all, delete-orphan",
    )


class AgreementLine(Base):
    """One line of an agreement: product, licence type, quantity."""

    __tablename__ = "licensing_agreement_lines"
    __table_args__ = (
        UniqueConstraint("agreement_number", "position"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    agreement_number: Mapped[str] = mapped_column(
        String(64), ForeignKey("licensing_agreements.agreement_number", ondelete="CASCADE")
    )
    position: Mapped[int]
    product: Mapped[str] = mapped_column(String(128))
    licence_type: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int]

    agreement: Mapped[LicensingAgreement] = relationship(back_populates="lines")


# D1: only an open or paid claim blocks another claim for its offer and agreement.
CLAIM_BLOCKS_AGREEMENT = "status NOT IN ({})".format(
    ", ".join(f"'{status.value}'" for status in RELEASES_AGREEMENT)
)


class Claim(Base):
    """A reseller's claim for one agreement under one offer (R5, R6); the projection of its
    workflow's status. D1: one open or paid claim per (offer, normalised agreement number).
    D2: one per idempotency key."""

    __tablename__ = "claims"
    __table_args__ = (
        Index(
            "uq_claims_open_agreement",
            "offer_id",
            "agreement_key",
            unique=True,
            sqlite_where=text(CLAIM_BLOCKS_AGREEMENT),
            postgresql_where=text(CLAIM_BLOCKS_AGREEMENT),
        ),
        # The operators' lists: by status and deadline (the review queue), by offer, by reseller.
        Index("ix_claims_status_review_deadline", "status", "review_deadline", "id"),
        Index("ix_claims_offer_status", "offer_id", "status", "reseller_id"),
        Index("ix_claims_created_at", "created_at", "id"),
        Index("ix_claims_status_created_at", "status", "created_at", "id"),
        CheckConstraint("amount_minor_units >= 0", name="amount_not_negative"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(128), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    reseller_id: Mapped[str] = mapped_column(String(64), ForeignKey("resellers.id"), index=True)
    offer_id: Mapped[str] = mapped_column(String(64), ForeignKey("offers.id"))
    agreement_number: Mapped[str] = mapped_column(String(64))
    agreement_key: Mapped[str] = mapped_column(String(64), default=_agreement_key)  # D1
    customer_name: Mapped[str]
    reseller_name_on_agreement: Mapped[str]
    terms_accepted_version: Mapped[str] = mapped_column(String(64))
    terms_accepted_at: Mapped[datetime]
    invoice_object_key: Mapped[str] = mapped_column(String(512))
    invoice_sha256: Mapped[str] = mapped_column(String(64))
    request_sha256: Mapped[str] = mapped_column(String(64), default="", server_default="")
    status: Mapped[ClaimStatus] = mapped_column(StrEnumText(ClaimStatus, 32))
    amount_minor_units: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The read model: what people read of the claim, projected by its workflow's activities
    # (activities.records.ClaimProjection, the notice log); pages never ask the workflow.
    projected_sequence: Mapped[int] = mapped_column(default=0, server_default="0")
    review_deadline: Mapped[date | None] = mapped_column(default=None)
    verdict: Mapped[Verdict | None] = mapped_column(StrEnumText(Verdict, 16), default=None)
    verdict_reasons: Mapped[list[dict[str, str]]] = mapped_column(
        JSON, default=list, server_default="[]"
    )
    eligible_licences: Mapped[int | None] = mapped_column(default=None)
    escalated: Mapped[bool] = mapped_column(default=False, server_default=false())
    decided_by: Mapped[str | None] = mapped_column(String(320), default=None)
    final_confirmation_on: Mapped[date | None] = mapped_column(default=None)
    respond_by: Mapped[datetime | None] = mapped_column(default=None)
    payout_date: Mapped[date | None] = mapped_column(default=None)
    payout_due: Mapped[date | None] = mapped_column(default=None)
    payout_overdue: Mapped[bool] = mapped_column(default=False, server_default=false())
    paid_on: Mapped[date | None] = mapped_column(default=None)
    bank_reference: Mapped[str | None] = mapped_column(String(128), default=None)
    bank_return_code: Mapped[str | None] = mapped_column(String(8), default=None)
    outcome_reasons: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    bank_details_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    # D7: approved, but the offer's budget could not cover it: waits for a top-up or a decision.
    awaiting_budget: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Issue 14: the payee's bank could not verify the payee (VoP NOAP): an operator decides.
    awaiting_payee_decision: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Issue 14: the bank answered the payout ambiguously: the operators enter the result.
    awaiting_payment_result: Mapped[bool] = mapped_column(default=False, server_default=false())


class TimelineRow(Base):
    """D3: one entry of a claim's timeline; unique on (claim_id, sequence)."""

    __tablename__ = "claim_timeline"
    __table_args__ = (UniqueConstraint("claim_id", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    claim_id: Mapped[str] = mapped_column(String(64), ForeignKey("claims.id"))
    sequence: Mapped[int]
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    event: Mapped[TimelineEvent] = mapped_column(StrEnumText(TimelineEvent, 32))
    from_status: Mapped[ClaimStatus | None] = mapped_column(StrEnumText(ClaimStatus, 32))
    to_status: Mapped[ClaimStatus | None] = mapped_column(StrEnumText(ClaimStatus, 32))
    reason: Mapped[str] = mapped_column(Text)


class NoticeSent(Base):
    """An e-mail the outbox sent, once per idempotency key (claim / kind / number)."""

    __tablename__ = "notices_sent"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    claim_id: Mapped[str] = mapped_column(String(64), ForeignKey("claims.id"), index=True)
    kind: Mapped[NoticeKind] = mapped_column(StrEnumText(NoticeKind, 32))
    number: Mapped[int]
    message_id: Mapped[str] = mapped_column(String(998))
    sent_at: Mapped[datetime]
    respond_by: Mapped[datetime | None]


class BankAccount(Base):
    """Bank details, encrypted at rest (R13): holder, IBAN and BIC only inside `ciphertext`
    (AES-GCM, a fresh nonce per row, `key_id` names the key for rotation)."""

    __tablename__ = "bank_accounts"

    reference: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    masked_iban: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class PayeeVerificationRow(Base):
    """Verification of Payee (issue 14, R11): the bank's last answer for one bank-details
    reference and the name checked, so details verified MTCH are not asked about again. The
    code only: neither the IBAN nor the name the bank holds."""

    __tablename__ = "payee_verifications"

    reference: Mapped[str] = mapped_column(
        String(64), ForeignKey("bank_accounts.reference"), primary_key=True
    )
    checked_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    code: Mapped[str] = mapped_column(String(4))
    verified_at: Mapped[datetime]


class StandingConfirmation(Base):
    """A reseller's standing confirmation of the bank details on file (R10: "submit or
    confirm"): later claims are paid to them without a request, until the reseller revokes it."""

    __tablename__ = "standing_confirmations"

    reseller_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("resellers.id"), primary_key=True
    )
    bank_details_ref: Mapped[str] = mapped_column(String(64), ForeignKey("bank_accounts.reference"))
    given_at: Mapped[datetime]


class Payment(Base):
    """A payout order and the bank's answer (R14, R16); D5: unique on the idempotency key."""

    __tablename__ = "payments"
    __table_args__ = (CheckConstraint("amount_minor_units > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    claim_id: Mapped[str] = mapped_column(String(64), ForeignKey("claims.id"), index=True)
    amount_minor_units: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    bank_details_ref: Mapped[str] = mapped_column(String(64), ForeignKey("bank_accounts.reference"))
    status: Mapped[PaymentStatus] = mapped_column(StrEnumText(PaymentStatus, 16))
    bank_reference: Mapped[str | None] = mapped_column(String(128))
    return_code: Mapped[str | None] = mapped_column(String(8))
    ordered_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    # The activity waiting for the bank's answer when it comes with a payment run's answer
    # files (completed by their import, or by the operators' decision on an escalated one);
    # None for a bank that answers at once.
    task_token: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    # Payment runs (R14, D5): the transfer's EndToEndId, when it was queued for a run, the run
    # that carries it now (a claim is in at most one open run), and an answer the operators
    # must decide (an ambiguous reason code such as MS03 or FRAD).
    end_to_end_id: Mapped[str | None] = mapped_column(String(35), unique=True, default=None)
    queued_at: Mapped[datetime | None] = mapped_column(default=None)
    run_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("payment_runs.id"), index=True, default=None
    )
    escalation_code: Mapped[str | None] = mapped_column(String(8), default=None)


class PaymentRunStatus(StrEnum):
    PREPARED = "prepared"  # its file is built; waits for a second operator (four eyes)
    RELEASED = "released"  # released and handed to the bank channel; its file never changes
    DISCARDED = "discarded"  # not released; its orders went back to the queue


class PaymentRun(Base):
    """A SEPA credit transfer file of the orders due (R14): one debtor account, one
    `pain.001.001.09` file, prepared by one operator and released by another."""

    __tablename__ = "payment_runs"
    __table_args__ = (
        CheckConstraint("control_sum_minor_units > 0", name="control_sum_positive"),
        CheckConstraint("number_of_transactions > 0", name="transactions_positive"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(35), unique=True)
    debtor_iban: Mapped[str] = mapped_column(String(34))
    # The debtor account while the run is prepared, else None: one open run per account.
    open_account: Mapped[str | None] = mapped_column(String(34), unique=True)
    status: Mapped[PaymentRunStatus] = mapped_column(StrEnumText(PaymentRunStatus, 16))
    currency: Mapped[str] = mapped_column(String(3))
    execution_date: Mapped[date] = mapped_column(Date)
    number_of_transactions: Mapped[int]
    control_sum_minor_units: Mapped[int] = mapped_column(BigInteger)
    file_key: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    claims_key: Mapped[str] = mapped_column(String(255))
    claims_sha256: Mapped[str] = mapped_column(String(64))
    prepared_by: Mapped[str] = mapped_column(String(320))
    prepared_at: Mapped[datetime]
    released_by: Mapped[str | None] = mapped_column(String(320), default=None)
    released_at: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class RunEntryOutcome(StrEnum):
    SENT = "sent"  # in the file, no final answer yet
    ACCEPTED = "accepted"  # accepted or booked: paid (R14)
    REJECTED = "rejected"  # refused for the bank details (R16)
    RETURNED = "returned"  # came back (camt.054 return) for the bank details (R16)
    RETRIED = "retried"  # transient refusal: queued for a later run
    ESCALATED = "escalated"  # ambiguous answer: the operators decide


class PaymentRunEntry(Base):
    """One transfer of a run, with what the bank answered for it (reconciliation)."""

    __tablename__ = "payment_run_entries"
    __table_args__ = (UniqueConstraint("run_id", "payment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("payment_runs.id"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"))
    claim_id: Mapped[str] = mapped_column(String(64))
    end_to_end_id: Mapped[str] = mapped_column(String(35), index=True)
    amount_minor_units: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[RunEntryOutcome] = mapped_column(StrEnumText(RunEntryOutcome, 16))
    reason_code: Mapped[str | None] = mapped_column(String(8), default=None)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    bank_file_id: Mapped[int | None] = mapped_column(ForeignKey("bank_files.id"), default=None)


class BankFile(Base):
    """A bank's answer imported once (pain.002 or camt.054): the same bytes twice are one
    import."""

    __tablename__ = "bank_files"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(35))
    imported_by: Mapped[str] = mapped_column(String(320))
    imported_at: Mapped[datetime]
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CustomerLicenceLock(Base):
    """One row per (offer, end customer), locked while a claim reserves licences (R3), so that
    two claims for the same customer reserve one after the other."""

    __tablename__ = "customer_licence_locks"

    offer_id: Mapped[str] = mapped_column(String(64), ForeignKey("offers.id"), primary_key=True)
    customer_key: Mapped[str] = mapped_column(String(255), primary_key=True)


class LicenceReservation(Base):
    """The licences one claim counts against its offer's per-customer maximum (R3)."""

    __tablename__ = "licence_reservations"
    __table_args__ = (
        Index("ix_licence_reservations_offer_customer", "offer_id", "customer_key"),
        CheckConstraint("licences >= 0", name="licences_not_negative"),
    )

    claim_id: Mapped[str] = mapped_column(String(64), ForeignKey("claims.id"), primary_key=True)
    offer_id: Mapped[str] = mapped_column(String(64), ForeignKey("offers.id"))
    customer_key: Mapped[str] = mapped_column(String(255))
    licences: Mapped[int]
    reserved_at: Mapped[datetime]


class BankDetailsInvitation(Base):
    """R13: a one-time, expiring link to the secure bank-details page, one per request notice.
    Only the token's SHA-256 is stored; the token itself is only in the e-mail."""

    __tablename__ = "bank_details_invitations"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(64), ForeignKey("claims.id"), index=True)
    notice_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ApiToken(Base):
    """A signed-in session: the bearer token's SHA-256 (the token itself is only given to the
    client), its user and its expiry."""

    __tablename__ = "api_tokens"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class WebhookDeliveryStatus(StrEnum):
    PENDING = "pending"  # to be sent, or being retried
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # given up (3 days of retries): the endpoint was disabled


class WebhookEndpoint(Base):
    """A reseller's webhook endpoint (issue 17): its URL, the event types it chose and its
    signing secret, sealed (AES-GCM under the bank-details key, `key_id` names the key). While a
    rotation's overlap lasts, the previous secret signs too."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reseller_id: Mapped[str] = mapped_column(String(64), ForeignKey("resellers.id"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(String(200), default="", server_default="")
    key_id: Mapped[str] = mapped_column(String(64))
    secret_nonce: Mapped[bytes] = mapped_column(LargeBinary)
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    previous_key_id: Mapped[str | None] = mapped_column(String(64), default=None)
    previous_secret_nonce: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    previous_secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    disabled_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookEvent(Base):
    """The outbox: an event about a claim, written in the transaction that projects the change
    onto the claim's row (the read model); unique per (claim, key), `key` being the timeline
    entry's sequence (`t<n>`) or the notice's idempotency key (`n:<key>`). `position` orders
    the events (per claim too)."""

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("claim_id", "key"),)

    position: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)  # the webhook-id header
    claim_id: Mapped[str] = mapped_column(String(64), ForeignKey("claims.id"), index=True)
    reseller_id: Mapped[str] = mapped_column(String(64), ForeignKey("resellers.id"))
    key: Mapped[str] = mapped_column(String(300))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime]
    dispatched: Mapped[bool] = mapped_column(default=False, server_default=false(), index=True)


class WebhookDelivery(Base):
    """One event for one endpoint, and how its delivery went (the endpoint's delivery log)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_position"),
        Index("ix_webhook_deliveries_endpoint_claim", "endpoint_id", "claim_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(String(64), ForeignKey("webhook_endpoints.id"))
    event_position: Mapped[int] = mapped_column(ForeignKey("webhook_events.position"))
    claim_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[WebhookDeliveryStatus] = mapped_column(StrEnumText(WebhookDeliveryStatus, 16))
    scheduled: Mapped[bool] = mapped_column(default=False, server_default=false())
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime]


class BudgetCommitment(Base):
    """D7: the amount one approved claim committed against its offer's budget, and whether
    its payout consumed it (paid) or a cancellation or forfeit released it."""

    __tablename__ = "budget_commitments"
    __table_args__ = (
        Index("ix_budget_commitments_offer_state", "offer_id", "state"),
        CheckConstraint("amount_minor_units >= 0", name="amount_not_negative"),
    )

    claim_id: Mapped[str] = mapped_column(String(64), ForeignKey("claims.id"), primary_key=True)
    offer_id: Mapped[str] = mapped_column(String(64), ForeignKey("offers.id"))
    amount_minor_units: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[CommitmentState] = mapped_column(StrEnumText(CommitmentState, 16))
    committed_at: Mapped[datetime]
    settled_at: Mapped[datetime | None] = mapped_column(default=None)


class OfferBudgetChange(Base):
    """D7: who set or topped up an offer's budget, when, and to what."""

    __tablename__ = "offer_budget_changes"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    offer_id: Mapped[str] = mapped_column(String(64), ForeignKey("offers.id"), index=True)
    at: Mapped[datetime]
    operator: Mapped[str] = mapped_column(String(320))
    change: Mapped[str] = mapped_column(String(16))  # "set" or "top_up"
    amount_minor_units: Mapped[int] = mapped_column(BigInteger)
    budget_minor_units: Mapped[int] = mapped_column(BigInteger)  # after the change


class SignInFailure(Base):
    """R1: the failed sign-ins of one key (an account from an address, or an address), shared
    by every API process so that the throttle holds across `--workers` and replicas."""

    __tablename__ = "sign_in_failures"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # "account" or "source"
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failed_at: Mapped[float] = mapped_column(Double, index=True)  # seconds since the epoch
