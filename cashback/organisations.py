"""R1: reseller organisations register with a verified identity.

A registration names the organisation's legal name and country, its VAT id and/or the program's
partner id (unique in the program) and its first user's company address. The address is
confirmed by a one-time link; the organisation stays pending until an operator approves it,
and only then can its users claim. The same service serves the API and the command line.

Registration answers alike whether or not an address is known: an address that has an account
gets an e-mail saying so instead of a second account.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from cashback.db import Database
from cashback.db.tables import EmailConfirmation, Reseller, ResellerStatus, User, UserRole
from cashback.domain.reseller import Language
from cashback.mail.accounts import AccountMail, AccountMailer

CONFIRMATION_LIFETIME = timedelta(hours=48)


@dataclass(frozen=True)
class Registration:
    """What a registration names, checked: canonical identifiers, the address in lower case,
    the password already hashed (so known and unknown addresses cost the same)."""

    legal_name: str
    country: str
    language: Language
    email: str
    password_hash: str
    vat_id: str | None
    partner_id: str | None


class OrganisationAlreadyRegistered(Exception):
    """R1: the VAT id or partner id belongs to a registered organisation: its first user can
    add colleagues; a second registration is refused."""

    def __init__(self, identifier: str) -> None:
        super().__init__(identifier)
        self.identifier = identifier  # "VAT id" or "partner id"


class OrganisationNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Organisation:
    """An organisation as operators review it (R1)."""

    reseller_id: str
    legal_name: str
    country: str
    vat_id: str | None
    partner_id: str | None
    email_domains: tuple[str, ...]
    addresses_confirmed: bool
    status: ResellerStatus
    registered_at: datetime
    reviewed_by: str | None
    review_note: str


@dataclass(frozen=True)
class ConfirmedAddress:
    legal_name: str
    language: Language
    status: ResellerStatus


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Organisations:
    """Registration, address confirmation and the operators' review of organisations (R1)."""

    def __init__(self, database: Database, mailer: AccountMailer, public_base_url: str) -> None:
        self._database = database
        self._mailer = mailer
        self._base_url = public_base_url.rstrip("/")

    def register(self, registration: Registration, *, now: datetime | None = None) -> None:
        """Register the organisation (pending) and its first user, and send the confirmation
        link; or, for an address that has an account, send it a mail saying so. Raises
        `OrganisationAlreadyRegistered`, and `MailServerUnavailable` when no mail went out."""
        now = now or datetime.now(UTC)
        if self._address_known(registration.email):
            self._mailer.send(registration.email, AccountMail.ADDRESS_IN_USE, registration.language)
            return
        self._refuse_known_identifiers(registration)
        token = secrets.token_urlsafe(32)
        try:
            with self._database.transaction() as session:
                reseller = Reseller(
                    id=f"r_{secrets.token_hex(8)}",
                    company_name=registration.legal_name,
                    country=registration.country,
                    language=registration.language,
                    email=registration.email,
                    created_at=now,
                    vat_id=registration.vat_id,
                    partner_id=registration.partner_id,
                    status=ResellerStatus.PENDING,
                )
                session.add(reseller)
                session.flush()
                user = User(
                    reseller_id=reseller.id,
                    email=registration.email,
                    password_hash=registration.password_hash,
                    role=UserRole.RESELLER,
                    created_at=now,
                )
                session.add(user)
                session.flush()
                session.add(self._confirmation(user.id, token, now))
        except IntegrityError:  # a concurrent registration of the address or identifier
            if self._address_known(registration.email):
                self._mailer.send(
                    registration.email, AccountMail.ADDRESS_IN_USE, registration.language
                )
                return
            self._refuse_known_identifiers(registration)
            raise
        self._send_link(registration.email, registration.legal_name, registration.language, token)

    def send_new_link(self, email: str, *, now: datetime | None = None) -> None:
        """A new confirmation link for an unconfirmed address; nothing for any other address
        (the caller answers alike)."""
        now = now or datetime.now(UTC)
        token = secrets.token_urlsafe(32)
        with self._database.transaction() as session:
            user = session.scalar(select(User).where(User.email == email.strip().lower()))
            if user is None or user.email_confirmed_at is not None or user.reseller is None:
                return
            session.add(self._confirmation(user.id, token, now))
            name, language = user.reseller.company_name, user.reseller.language
        self._send_link(email.strip().lower(), name, language, token)

    def confirm(self, token: str, *, now: datetime | None = None) -> ConfirmedAddress | None:
        """R1: confirm the address of the link's user; None for an unknown, used or expired
        link."""
        now = now or datetime.now(UTC)
        with self._database.transaction() as session:
            link = session.get(EmailConfirmation, _digest(token), with_for_update=True)
            if link is None or link.used_at is not None or link.expires_at <= now:
                return None
            link.used_at = now
            user = session.get_one(User, link.user_id)
            user.email_confirmed_at = user.email_confirmed_at or now
            reseller = user.reseller
            if reseller is None:
                return None
            return ConfirmedAddress(reseller.company_name, reseller.language, reseller.status)

    def listed(self, status: ResellerStatus | None = None) -> list[Organisation]:
        """The organisations (of `status`), oldest first."""
        with self._database.reading() as session:
            query = select(Reseller).order_by(Reseller.created_at, Reseller.id)
            if status is not None:
                query = query.where(Reseller.status == status)
            return [_organisation(reseller) for reseller in session.scalars(query)]

    def approve(self, reseller_id: str, operator: str, *, now: datetime | None = None) -> None:
        """R1: the organisation may claim from now on; its users get a mail. Raises
        `OrganisationNotFound`, or `ValueError` for one without a VAT id or partner id."""
        reseller = self._review(reseller_id, ResellerStatus.APPROVED, operator, "", now)
        self._mailer.send(
            reseller.email,
            AccountMail.ORGANISATION_APPROVED,
            reseller.language,
            organisation=reseller.legal_name,
            identifiers=", ".join(
                value for value in (reseller.vat_id, reseller.partner_id) if value
            ),
        )

    def refuse(
        self, reseller_id: str, operator: str, note: str, *, now: datetime | None = None
    ) -> None:
        """R1: the organisation may not claim; `note` says why, in its mail."""
        reseller = self._review(reseller_id, ResellerStatus.REFUSED, operator, note, now)
        self._mailer.send(
            reseller.email,
            AccountMail.ORGANISATION_REFUSED,
            reseller.language,
            organisation=reseller.legal_name,
            note=note,
        )

    def set_identifiers(
        self, reseller_id: str, *, vat_id: str | None = None, partner_id: str | None = None
    ) -> None:
        """Record a VAT id or partner id (canonical) of an organisation registered before
        identities were verified. Raises `OrganisationNotFound`, `OrganisationAlreadyRegistered`."""
        try:
            with self._database.transaction() as session:
                reseller = session.get(Reseller, reseller_id)
                if reseller is None:
                    raise OrganisationNotFound(reseller_id)
                reseller.vat_id = vat_id or reseller.vat_id
                reseller.partner_id = partner_id or reseller.partner_id
        except IntegrityError:
            raise OrganisationAlreadyRegistered("VAT id" if vat_id else "partner id") from None

    @dataclass(frozen=True)
    class _Reviewed:
        email: str
        language: Language
        legal_name: str
        vat_id: str | None
        partner_id: str | None

    def _review(
        self,
        reseller_id: str,
        status: ResellerStatus,
        operator: str,
        note: str,
        now: datetime | None,
    ) -> Organisations._Reviewed:
        with self._database.transaction() as session:
            reviewer = session.scalar(
                select(User.id).where(
                    User.email == operator.lower(), User.role == UserRole.OPERATOR
                )
            )
            if reviewer is None:  # the timeline of an organisation names a real operator
                raise ValueError(f"{operator} is no operator's account")
            reseller = session.get(Reseller, reseller_id, with_for_update=True)
            if reseller is None:
                raise OrganisationNotFound(reseller_id)
            if status is ResellerStatus.APPROVED and not reseller.identifiers():
                raise ValueError(
                    f"organisation {reseller_id} has no VAT id or partner id: record one first"
                )
            reseller.status = status
            reseller.reviewed_at = now or datetime.now(UTC)
            reseller.reviewed_by = operator
            reseller.review_note = note
            return Organisations._Reviewed(
                reseller.email,
                reseller.language,
                reseller.company_name,
                reseller.vat_id,
                reseller.partner_id,
            )

    def _address_known(self, email: str) -> bool:
        with self._database.reading() as session:
            return session.scalar(select(User.id).where(User.email == email)) is not None

    def _refuse_known_identifiers(self, registration: Registration) -> None:
        conditions = []
        if registration.vat_id:
            conditions.append(Reseller.vat_id == registration.vat_id)
        if registration.partner_id:
            conditions.append(Reseller.partner_id == registration.partner_id)
        with self._database.reading() as session:
            known = session.scalars(select(Reseller).where(or_(*conditions))).all()
        for reseller in known:
            if registration.vat_id and reseller.vat_id == registration.vat_id:
                raise OrganisationAlreadyRegistered("VAT id")
            raise OrganisationAlreadyRegistered("partner id")

    def _confirmation(self, user_id: int, token: str, now: datetime) -> EmailConfirmation:
        return EmailConfirmation(
            token_sha256=_digest(token),
            user_id=user_id,
            created_at=now,
            expires_at=now + CONFIRMATION_LIFETIME,
        )

    def _send_link(self, email: str, legal_name: str, language: Language, token: str) -> None:
        self._mailer.send(
            email,
            AccountMail.CONFIRM_ADDRESS,
            language,
            organisation=legal_name,
            link=f"{self._base_url}/auth/confirm?token={token}",
            valid_hours=int(CONFIRMATION_LIFETIME.total_seconds() // 3600),
        )


def _organisation(reseller: Reseller) -> Organisation:
    users: Sequence[User] = reseller.users
    return Organisation(
        reseller_id=reseller.id,
        legal_name=reseller.company_name,
        country=reseller.country,
        vat_id=reseller.vat_id,
        partner_id=reseller.partner_id,
        email_domains=tuple(sorted({user.email.rpartition("@")[2] for user in users})),
        addresses_confirmed=bool(users) and all(user.email_confirmed_at for user in users),
        status=reseller.status,
        registered_at=reseller.created_at,
        reviewed_by=reseller.reviewed_by,
        review_note=reseller.review_note,
    )
