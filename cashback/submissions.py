"""Submitting a claim (R4, R5, R6, D1, D2): the application service behind `POST /claims`.

A submission is checked early with the rules the workflow also applies, its invoice is stored,
the claim row is written and the claim's workflow is started under an id derived from the
claim, so Temporal itself refuses a second start. Nothing half-made stays behind: a failed step
removes what the earlier ones stored. The API only reads the request and shapes the answer;
`SubmissionRefused` says why a submission was refused, in words a person can act on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from anyio import to_thread
from sqlalchemy import bindparam, select
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.invoices import InvoiceRef
from cashback.claims import ClaimInput, claim_workflow_id
from cashback.db import ClaimRepository, Database, DuplicateClaim
from cashback.db.claims import store_claim
from cashback.db.snapshots import claim_input_of
from cashback.db.tables import Claim, Offer, Reseller
from cashback.domain.policy import ProgramPolicy
from cashback.domain.status import ClaimStatus
from cashback.invoices import InvoiceStorage, InvoiceStorageError, StoredInvoice, sha256_hex
from cashback.refusals import Refused
from workflows.claim import ClaimWorkflow

log = logging.getLogger(__name__)

_TEMPORAL_TIMEOUT = timedelta(seconds=5)


class Refusal(StrEnum):
    """What kind of refusal: the API answers each with its HTTP status."""

    INVALID = "invalid"  # 422
    NOT_FOUND = "not_found"  # 404
    CONFLICT = "conflict"  # 409
    UNSUPPORTED_TYPE = "unsupported_type"  # 415
    UNAVAILABLE = "unavailable"  # 503: nothing was stored, try again


class SubmissionRefused(Refused):
    """A submission refused: its kind, a stable code and a sentence a person can act on."""

    def __init__(self, kind: Refusal, code: str, detail: str) -> None:
        super().__init__(code, detail)
        self.kind = kind


@dataclass(frozen=True)
class Submissions:
    """What submitting needs: the database, the invoice store, Temporal and the settings."""

    database: Database
    invoices: InvoiceStorage
    temporal: Client
    task_queue: str
    policy: ProgramPolicy
    public_base_url: str = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class Submitted:
    """The stored claim; `again` when it is the claim an earlier request with the same
    Idempotency-Key stored (D2)."""

    claim: Claim
    again: bool


async def submit(
    services: Submissions,
    reseller_id: str,
    submission: Submission,
    upload: Upload,
    idempotency_key: str | None,
) -> Submitted:
    """R5, R6, D1, D2: store the claim and its invoice and start its workflow; or, for a
    request made before with the same Idempotency-Key, answer its claim. Raises
    `SubmissionRefused`."""
    check_complete(submission)
    data = upload.data
    claim_id = f"c_{secrets.token_hex(8)}"
    # Keys are per reseller: another reseller's key can neither collide nor reveal a claim.
    scoped_key = f"{reseller_id} {idempotency_key or 'auto-' + claim_id}"
    # One hop to the thread pool for both: the hash (10 MB: not on the loop) and the reads.
    invoice_sha256, context = await to_thread.run_sync(
        _hash_and_context, services.database, reseller_id, submission, scoped_key, data
    )
    request_sha256 = submission.digest(invoice_sha256)
    if context.same_key is not None:
        return await _replay(services, context, context.same_key, request_sha256, len(data))
    now = datetime.now(UTC)
    offer = _check_offer(submission, context, now)
    invoice_type = _invoice_type(upload)
    if context.same_agreement is not None:
        raise _duplicate(offer.id, submission.agreement_number, context.same_agreement, reseller_id)

    row = Claim(
        id=claim_id,
        workflow_id=claim_workflow_id(claim_id),
        idempotency_key=scoped_key,
        reseller_id=reseller_id,
        offer_id=offer.id,
        agreement_number=submission.agreement_number,
        customer_name=submission.customer_name,
        reseller_name_on_agreement=submission.reseller_name,
        terms_accepted_version=offer.terms_version,
        terms_accepted_at=now,
        invoice_object_key=f"invoices/{claim_id}/{invoice_sha256}.{invoice_type.extension}",
        invoice_sha256=invoice_sha256,
        request_sha256=request_sha256,
        status=ClaimStatus.SUBMITTED,
        amount_minor_units=None,
        currency=None,
        created_at=now,
        updated_at=now,
    )
    claim, stored = await _store(services, row, data, invoice_type.content_type)
    if claim.id != claim_id:  # D2: a concurrent request with the same key stored its claim
        return await _replay(services, context, claim, request_sha256, len(data))

    claim_input = _claim_input(services, context.reseller, offer, claim, stored)
    try:
        await _start_workflow(services, claim_input)
    except _WorkflowNotStarted:
        await _withdraw(services, claim)
        raise _unavailable("the workflow service") from None
    return Submitted(claim, again=False)


@dataclass(frozen=True)
class _InvoiceType:
    magic: bytes
    content_type: str
    extension: str


_INVOICE_TYPES = (
    _InvoiceType(b"%PDF-", "application/pdf", "pdf"),
    _InvoiceType(b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    _InvoiceType(b"\xff\xd8\xff", "image/jpeg", "jpg"),
)


# What a request may declare an invoice to be (its part's Content-Type, its file name's
# extension), by the extension of the type it names.
_DECLARED_TYPES = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/pjpeg": "jpg",
}
_DECLARED_EXTENSIONS = {"pdf": "pdf", "png": "png", "jpg": "jpg", "jpeg": "jpg", "jpe": "jpg"}


@dataclass(frozen=True)
class Upload:
    """The invoice as received: its bytes, and what the request said it is."""

    data: bytes
    content_type: str
    filename: str


@dataclass(frozen=True)
class Submission:
    offer_id: str
    agreement_number: str
    customer_name: str
    reseller_name: str
    terms_accepted_version: str | None

    def digest(self, invoice_sha256: str) -> str:
        """D2: what makes two requests "the same": every field and the invoice's bytes."""
        fields = {**asdict(self), "invoice_sha256": invoice_sha256}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class _Context:
    reseller: Reseller
    offer: Offer | None
    same_key: Claim | None
    same_agreement: Claim | None


async def _store(
    services: Submissions, row: Claim, data: bytes, content_type: str
) -> tuple[Claim, StoredInvoice]:
    """R5: store the invoice, then the claim. Answers the stored claim: `row`, or the claim a
    concurrent request with the same Idempotency-Key stored first (D2), in which case this
    request's invoice is deleted again, as it is when anything fails: no orphan invoice."""
    object_key = row.invoice_object_key
    put: list[StoredInvoice] = []  # what the store answered, when the insert then fails

    def put_then_insert() -> tuple[Claim, StoredInvoice]:  # one hop to the thread pool
        # hashed once, by `submit`
        put.append(services.invoices.put(object_key, data, content_type, sha256=row.invoice_sha256))
        return _insert(services.database, row), put[0]

    try:
        claim, stored = await to_thread.run_sync(put_then_insert)
    except DuplicateClaim as duplicate:  # D1: another submission won the race
        await _discard_invoice(services, object_key)
        # D2: unless it was a request with this very key, committed between the insert's reads.
        same_key = await to_thread.run_sync(_by_key, services.database, row.idempotency_key)
        if same_key is not None:
            return same_key, put[0]
        raise _duplicate(row.offer_id, row.agreement_number, duplicate, row.reseller_id) from None
    except (InvoiceStorageError, SQLAlchemyError) as error:
        log.error("claim %s could not be stored: %s", row.id, error)
        await _discard_invoice(services, object_key)
        what = "the database" if isinstance(error, SQLAlchemyError) else "the invoice store"
        raise _unavailable(what) from None
    except BaseException:
        await _discard_invoice(services, object_key)
        raise
    if claim.id != row.id:
        await _discard_invoice(services, object_key)
    return claim, stored


def check_complete(submission: Submission) -> None:
    texts = (
        submission.offer_id,
        submission.agreement_number,
        submission.customer_name,
        submission.reseller_name,
        submission.terms_accepted_version or "",
    )
    if any("\x00" in text for text in texts):
        raise SubmissionRefused(
            Refusal.INVALID,
            "invalid_text",
            "text fields must not contain NUL (0x00) characters; remove them",
        )  # checked before anything is stored: PostgreSQL refuses it
    blank = [
        name
        for name in ("offer_id", "agreement_number", "customer_name", "reseller_name")
        if not getattr(submission, name)
    ]
    if blank:
        raise SubmissionRefused(
            Refusal.INVALID,
            "claim_incomplete",
            f"R5: a claim names the agreement number, the customer and the reseller on the "
            f"agreement; blank: {', '.join(blank)}",
        )
    if submission.terms_accepted_version is None:
        raise terms_not_accepted()


def terms_not_accepted() -> SubmissionRefused:
    """R6: a claim without the accepted T&C version (blank or left out of the form)."""
    return SubmissionRefused(
        Refusal.INVALID,
        "terms_not_accepted",
        "R6: read and accept the offer's Terms and Conditions, and send the accepted "
        "version as terms_accepted_version; a claim without acceptance is not processed",
    )


def _invoice_type(upload: Upload) -> _InvoiceType:
    """R5: PDF, PNG or JPEG, told by the file's first bytes, never by its declared type. A file
    whose name or Content-Type claims one of these types and whose bytes are another is refused
    (a file that lies about its type); a neutral name or type (`scan.bin`,
    application/octet-stream) is fine."""
    for kind in _INVOICE_TYPES:
        if upload.data.startswith(kind.magic):
            declared = _DECLARED_TYPES.get(upload.content_type.split(";")[0].strip().lower())
            extension = upload.filename.rsplit(".", 1)[-1].lower() if "." in upload.filename else ""
            named = _DECLARED_EXTENSIONS.get(extension)
            if declared not in (None, kind.extension) or named not in (None, kind.extension):
                raise SubmissionRefused(
                    Refusal.UNSUPPORTED_TYPE,
                    "invoice_type_mismatch",
                    f"R5: the invoice is sent as {upload.content_type or 'a file'} named "
                    f"{upload.filename!r}, but its content is a {kind.extension.upper()} file: "
                    "send the file under its own name and type",
                )
            return kind
    raise SubmissionRefused(
        Refusal.UNSUPPORTED_TYPE,
        "invoice_type_unsupported",
        "R5: the invoice must be a PDF, PNG or JPEG file; the content of the file sent is none "
        "of these (whatever its name or declared type)",
    )


def _hash_and_context(
    database: Database, reseller_id: str, submission: Submission, scoped_key: str, data: bytes
) -> tuple[str, _Context]:
    return sha256_hex(data), _context(database, reseller_id, submission, scoped_key)


def _context(
    database: Database, reseller_id: str, submission: Submission, scoped_key: str
) -> _Context:
    with database.reading() as session:
        claims = ClaimRepository(session)
        same_key, same_agreement = claims.by_key_or_agreement(
            scoped_key, submission.offer_id, submission.agreement_number
        )
        if same_key is None and same_agreement is not None:
            # D2: on PostgreSQL each statement reads what was committed before it: a concurrent
            # request with this key may have stored its claim between the two reads.
            same_key = claims.by_idempotency_key(scoped_key)
        # The reseller and the offer (None when it does not exist) in one statement.
        found = session.execute(
            _RESELLER_AND_OFFER, {"reseller_id": reseller_id, "offer_id": submission.offer_id}
        ).one()
        return _Context(
            reseller=found.Reseller,
            offer=found.Offer,
            same_key=same_key,
            same_agreement=same_agreement,
        )


# Built once: a statement built per request costs its construction and its cache key.
_RESELLER_AND_OFFER = (
    select(Reseller, Offer)
    .outerjoin(Offer, Offer.id == bindparam("offer_id"))
    .where(Reseller.id == bindparam("reseller_id"))
)


def _check_offer(submission: Submission, context: _Context, now: datetime) -> Offer:
    """The offer exists, is open to the reseller now (R2, R4), and its T&C were accepted (R6)."""
    offer = context.offer
    if offer is None:
        raise SubmissionRefused(
            Refusal.NOT_FOUND,
            "offer_not_found",
            f"offer {submission.offer_id} does not exist: see GET /offers",
        )
    if not offer.is_open_to(context.reseller.country, now):
        raise SubmissionRefused(
            Refusal.INVALID, "offer_not_open", _why_not_open(offer, context.reseller, now)
        )
    if submission.terms_accepted_version != offer.terms_version:
        raise SubmissionRefused(
            Refusal.INVALID,
            "terms_version_mismatch",
            f"R6: you accepted the Terms and Conditions version "
            f"{submission.terms_accepted_version}, but offer {offer.id} has version "
            f"{offer.terms_version}: read and accept the current version",
        )
    return offer


def _why_not_open(offer: Offer, reseller: Reseller, now: datetime) -> str:
    period = offer.claim_period()
    if offer.closed_at is not None:
        return f"R4: offer {offer.id} was closed on {offer.closed_at:%Y-%m-%d}; no new claims"
    if not period.is_open(now):
        return (
            f"R4: claims for offer {offer.id} can only be submitted during its claim period, "
            f"{period.opens_at:%Y-%m-%d %H:%M} to {period.closes_at:%Y-%m-%d %H:%M} UTC"
        )
    return (
        f"R4 (R2): offer {offer.id} is not open to resellers in {reseller.country}; "
        "see GET /offers for the offers open to you"
    )


def _duplicate(
    offer_id: str, agreement_number: str, existing: Claim | DuplicateClaim, reseller_id: str
) -> SubmissionRefused:
    """D1: the existing claim is named only to the reseller that owns it."""
    owner = existing.reseller_id if isinstance(existing, Claim) else existing.owner_id
    claim_id = existing.id if isinstance(existing, Claim) else existing.existing_claim_id
    which = f"your claim {claim_id}" if owner == reseller_id else "an open or paid claim"
    return SubmissionRefused(
        Refusal.CONFLICT,
        "duplicate_claim",
        f"D1: offer {offer_id} already has {which} for agreement {agreement_number}; one open "
        "or paid claim per offer and agreement (numbers compared without case, spaces or "
        "separators)",
    )


async def _replay(
    services: Submissions, context: _Context, claim: Claim, request_sha256: str, invoice_size: int
) -> Submitted:
    """D2: the claim stored under this Idempotency-Key, if the request is the same. Its workflow
    is started again under the same id: Temporal refuses if it runs or ran (nothing new starts),
    and a claim whose first request died between storing and starting gets its workflow."""
    if claim.request_sha256 != request_sha256:
        raise SubmissionRefused(
            Refusal.INVALID,
            "idempotency_key_reused",
            "D2: this Idempotency-Key was used for another request (other fields or another "
            "invoice); use a new key for a new claim",
        )
    if context.offer is not None:
        invoice = InvoiceRef(
            object_key=claim.invoice_object_key,
            sha256=claim.invoice_sha256,
            content_type=invoice_content_type(claim.invoice_object_key),
            size_bytes=invoice_size,
        )
        try:
            await _start_workflow(
                services, _claim_input(services, context.reseller, context.offer, claim, invoice)
            )
        except _WorkflowNotStarted:
            raise _unavailable("the workflow service") from None
    return Submitted(claim, again=True)


def _insert(database: Database, row: Claim) -> Claim:
    """The stored claim: `row`, or the claim already stored under its idempotency key (D2).
    Raises `DuplicateClaim` for another claim of the offer for the agreement (D1). A lost
    COMMIT answer is ridden out: the retry finds the stored claim (`store_claim`)."""
    return store_claim(database, row)


def _by_key(database: Database, scoped_key: str) -> Claim | None:
    with database.reading() as session:
        return ClaimRepository(session).by_idempotency_key(scoped_key)


def _remove(database: Database, claim_id: str) -> None:
    with database.transaction() as session:
        row = session.get(Claim, claim_id)
        if row is not None:
            session.delete(row)


def _claim_input(
    services: Submissions,
    reseller: Reseller,
    offer: Offer,
    claim: Claim,
    invoice: InvoiceRef | StoredInvoice,
) -> ClaimInput:
    """The workflow's input, from the stored claim: the same for a first start and a retry."""
    ref = InvoiceRef.model_validate(invoice, from_attributes=True)
    return claim_input_of(reseller, offer, claim, ref, services.policy)


def _static_details(services: Submissions, claim: ClaimInput) -> str:
    """The claim's page in the Temporal Web UI: who claims what, and links an operator opens
    (the claim in the API; the invoice, for an operator signed in at /codec/sign-in)."""
    base = services.public_base_url.rstrip("/")
    return (
        f"**{claim.reseller.company_name}** claims cash back for agreement "
        f"{claim.claimed.agreement_number} under {claim.offer.name}.\n\n"
        f"- Claim: [{base}/operator/claims/{claim.claim_id}]"
        f"({base}/operator/claims/{claim.claim_id}) (operators' API)\n"
        f"- Invoice: [open]({base}/codec/claims/{claim.claim_id}/invoice) "
        "(signed in at /codec/sign-in; the link it opens expires in minutes)\n"
    )


class _WorkflowNotStarted(Exception):
    pass


async def _start_workflow(services: Submissions, claim: ClaimInput) -> None:
    """Start the claim's workflow under the id derived from the claim. A refused second start
    means the workflow exists: the same claim (D2). Raises `_WorkflowNotStarted` otherwise."""
    try:
        await services.temporal.start_workflow(
            ClaimWorkflow.run,
            claim,
            id=claim_workflow_id(claim.claim_id),
            task_queue=services.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_details=_static_details(services, claim),
            static_summary=(
                f"{claim.reseller.company_name} · {claim.offer.name} · agreement "
                f"{claim.claimed.agreement_number} (claim {claim.claim_id})"
            ),
            rpc_timeout=_TEMPORAL_TIMEOUT,
        )
    except WorkflowAlreadyStartedError:
        return
    except Exception as error:
        log.error("claim %s: the workflow could not be started: %s", claim.claim_id, error)
        raise _WorkflowNotStarted from error


async def _withdraw(services: Submissions, claim: Claim) -> None:
    """Undo a submission whose workflow did not start: no half-made claim stays behind."""
    with contextlib.suppress(Exception):  # it may have started before the call failed
        await services.temporal.get_workflow_handle(claim.workflow_id).terminate(
            reason="the submission failed; the claim was withdrawn",
            rpc_timeout=_TEMPORAL_TIMEOUT,
        )
    try:
        await to_thread.run_sync(_remove, services.database, claim.id)
    except SQLAlchemyError as error:  # its workflow ran far enough to record something
        log.error("claim %s could not be withdrawn: %s", claim.id, error)
        return
    await _discard_invoice(services, claim.invoice_object_key)


async def _discard_invoice(services: Submissions, object_key: str) -> None:
    try:
        await to_thread.run_sync(services.invoices.delete, object_key)
    except InvoiceStorageError as error:
        log.error("orphan invoice %s could not be deleted: %s", object_key, error)


def _unavailable(what: str) -> SubmissionRefused:
    return SubmissionRefused(
        Refusal.UNAVAILABLE,
        "service_unavailable",
        f"{what} is not available; nothing was stored: submit the claim again in a moment",
    )


def invoice_content_type(object_key: str) -> str:
    """The content type of a stored invoice, told by the extension its key was given."""
    extension = object_key.rsplit(".", 1)[-1]
    for kind in _INVOICE_TYPES:
        if kind.extension == extension:
            return kind.content_type
    return "application/octet-stream"
