"""Licensing records and per-customer licence reservations (R3, R8).

R3: the licences a claim counts against its offer's maximum for an end customer are reserved in
one transaction that holds the lock of (offer, customer): a row of `customer_licence_locks`
locked with SELECT ... FOR UPDATE on PostgreSQL; on SQLite the whole database, taken by the
transaction's BEGIN IMMEDIATE (see `Database.transaction`). Claims for the same customer
therefore reserve one after the other, and two claims racing for the last licences cannot
both get them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from cashback.db.session import Database
from cashback.db.statements import insert_unless_present
from cashback.db.tables import (
    AgreementLine,
    CustomerLicenceLock,
    LicenceReservation,
    LicensingAgreement,
)
from cashback.domain.agreements import agreement_key, agreement_number
from cashback.domain.eligibility import LicenceLine, LicensingRecord


class LicensingRepository:
    """Licensing records and reservations within the caller's transaction (never commits)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add_agreement(self, record: LicensingRecord, imported_at: datetime) -> None:
        """Import (or replace) the record of one agreement, with its lines. Its number is
        normalised (D1): a record of `ol demo 4` replaces the one of `OL-DEMO-4`."""
        key = agreement_key(record.agreement_number)
        for existing in self._session.scalars(
            select(LicensingAgreement).where(LicensingAgreement.agreement_key == key)
        ):
            self._session.delete(existing)
        self._session.flush()
        self._session.add(
            LicensingAgreement(
                agreement_number=agreement_number(record.agreement_number),
                seller_id=record.seller_id,
                customer_name=record.customer_name,
                customer_segment=record.customer_segment,
                customer_country=record.customer_country,
                reseller_name=record.reseller_name,
                sale_date=record.sale_date,
                imported_at=imported_at,
                lines=[
                    AgreementLine(
                        position=position,
                        product=line.product,
                        licence_type=line.licence_type,
                        quantity=line.quantity,
                    )
                    for position, line in enumerate(record.lines, start=1)
                ],
            )
        )

    def find_agreement(self, number: str) -> LicensingRecord | None:
        """The record of the agreement `number` names, however it is written (D1)."""
        row = self._session.scalar(
            select(LicensingAgreement)
            .where(LicensingAgreement.agreement_key == agreement_key(number))
            .order_by(LicensingAgreement.imported_at.desc())
            .limit(1)
            .options(selectinload(LicensingAgreement.lines))
        )
        if row is None:
            return None
        return LicensingRecord(
            agreement_number=row.agreement_number,
            customer_name=row.customer_name,
            customer_segment=row.customer_segment,
            customer_country=row.customer_country,
            reseller_name=row.reseller_name,
            seller_id=row.seller_id,
            sale_date=row.sale_date,
            lines=tuple(
                LicenceLine(
                    product=line.product, licence_type=line.licence_type, quantity=line.quantity
                )
                for line in row.lines
            ),
        )

    def lock_customer(self, offer_id: str, customer_key: str) -> None:
        """Take the (offer, customer) lock until the transaction ends (R3)."""
        insert_unless_present(
            self._session,
            CustomerLicenceLock,
            {"offer_id": offer_id, "customer_key": customer_key},
            keys=("offer_id", "customer_key"),
        )
        self._session.execute(
            select(CustomerLicenceLock.offer_id)
            .where(
                CustomerLicenceLock.offer_id == offer_id,
                CustomerLicenceLock.customer_key == customer_key,
            )
            .with_for_update()
        )

    def held(self, offer_id: str, customer_key: str, *, except_claim: str | None = None) -> int:
        """Licences the claims of `offer_id` hold for `customer_key` (R3)."""
        query = select(func.coalesce(func.sum(LicenceReservation.licences), 0)).where(
            LicenceReservation.offer_id == offer_id,
            LicenceReservation.customer_key == customer_key,
        )
        if except_claim is not None:
            query = query.where(LicenceReservation.claim_id != except_claim)
        return int(self._session.scalar(query) or 0)

    def reserve_licences(
        self, claim_id: str, offer_id: str, customer_key: str, decide: Callable[[int], int]
    ) -> int:
        """R3: under the (offer, customer) lock, call `decide(held by other claims)` and hold
        what it returns for `claim_id` (replacing the claim's earlier reservation). Returns the
        licences held for the claim."""
        self.lock_customer(offer_id, customer_key)
        licences = decide(self.held(offer_id, customer_key, except_claim=claim_id))
        if licences < 0:
            raise ValueError("a claim cannot reserve a negative number of licences")
        reservation = self._session.get(LicenceReservation, claim_id)
        if reservation is not None and (reservation.offer_id, reservation.customer_key) != (
            offer_id,
            customer_key,
        ):
            # Moving to another (offer, customer): the old one needs no lock to shrink.
            self._session.delete(reservation)
            self._session.flush()
            reservation = None
        if reservation is None:
            self._session.add(
                LicenceReservation(
                    claim_id=claim_id,
                    offer_id=offer_id,
                    customer_key=customer_key,
                    licences=licences,
                    reserved_at=datetime.now(UTC),
                )
            )
        else:
            reservation.licences = licences
            reservation.reserved_at = datetime.now(UTC)
        self._session.flush()
        return licences

    def release_licences(self, claim_id: str) -> None:
        """R3: the claim no longer counts against the maximum (idempotent)."""
        self._session.execute(
            delete(LicenceReservation).where(LicenceReservation.claim_id == claim_id)
        )


class SqlLicensingRecords:
    """`activities.eligibility.LicensingRecords` on the database: one transaction per call."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def find_agreement(self, agreement_number: str) -> LicensingRecord | None:
        with self._database.reading() as session:
            return LicensingRepository(session).find_agreement(agreement_number)

    def reserve_licences(
        self, claim_id: str, offer_id: str, customer_key: str, decide: Callable[[int], int]
    ) -> int:
        with self._database.transaction() as session:
            return LicensingRepository(session).reserve_licences(
                claim_id, offer_id, customer_key, decide
            )

    def release_licences(self, claim_id: str) -> None:
        with self._database.transaction() as session:
            LicensingRepository(session).release_licences(claim_id)

    def held(self, offer_id: str, customer_key: str) -> int:
        """Licences all claims of `offer_id` hold for `customer_key` (R3)."""
        with self._database.reading() as session:
            return LicensingRepository(session).held(offer_id, customer_key)
