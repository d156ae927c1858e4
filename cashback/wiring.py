"""Builds the real side effects from the settings: the database, the invoice store, the
outbox, the bank and the activities of the claim workflow. Every process (worker, API, run
command, end-to-end tests) wires itself here, so configuration has one meaning everywhere."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from email.utils import parseaddr

import boto3
from botocore.config import Config
from temporalio.client import Client
from temporalio.converter import DataConverter

from activities.bank_details import BankDetailsActivities
from activities.budgets import BudgetActivities
from activities.eligibility import EligibilityActivities
from activities.invoices import InvoiceActivities
from activities.mail import MailActivities, NoticeRequest
from activities.payee import PayeeActivities
from activities.payments import PaymentActivities, PaymentGateway
from activities.records import RecordsActivities
from activities.webhooks import WebhookActivities
from cashback.bank.pain001 import DebtorAccount
from cashback.bank.payment_queue import PaymentRunQueue
from cashback.bank.recorded import RecordedGateway
from cashback.bank.run_files import LocalRunFiles, RunFiles, S3RunFiles
from cashback.bank.simulated import Payee, SimulatedBank
from cashback.bank.simulated_channel import SimulatedBankChannel
from cashback.bank.simulated_payee import SimulatedPayeeVerification
from cashback.bank_answers import BankAnswerImports
from cashback.codec import EncryptionCodec, encrypted_data_converter
from cashback.config import InvoiceBackend, PaymentGatewayKind, Settings
from cashback.db import (
    BankAccounts,
    Database,
    PaymentRepository,
    SqlLicensingRecords,
    SqlNoticeLog,
    SqlTimeline,
)
from cashback.db.budgets import SqlBudgets
from cashback.db.invitations import BankDetailsInvitations
from cashback.db.payee_verifications import SqlPayeeAnswers
from cashback.db.standing_confirmations import StandingConfirmations
from cashback.domain.payee import PayeeVerification
from cashback.domain.policy import ProgramPolicy
from cashback.domain.status import NoticeKind
from cashback.invoices import (
    InvoiceLinks,
    InvoiceStorage,
    LocalInvoiceStorage,
    S3InvoiceStorage,
    link_key,
)
from cashback.mail import MailRenderer, SmtpOutbox
from cashback.mail.accounts import AccountMailer
from cashback.mail.smtp import SmtpServer
from cashback.payment_runs import PaymentRuns
from cashback.temporal import ClaimActivities
from cashback.webhooks.delivery import SqlWebhookStore
from cashback.webhooks.dispatch import Relay
from cashback.webhooks.endpoints import WebhookEndpoints
from cashback.webhooks.sealing import SecretBox


def payload_codec(settings: Settings) -> EncryptionCodec:
    key, retired = settings.payload_keys
    return EncryptionCodec(settings.payload_key_id, key, retired)


def data_converter(settings: Settings) -> DataConverter:
    """What every client and worker of the program speaks: pydantic models, encrypted (R13)."""
    return encrypted_data_converter(payload_codec(settings))


def open_database(settings: Settings) -> Database:
    if settings.database_url == "":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Database.from_url(settings.resolved_database_url)


def invoice_storage(settings: Settings) -> InvoiceStorage:
    if settings.invoice_backend is InvoiceBackend.S3:
        secret = settings.s3_secret_access_key
        return S3InvoiceStorage(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
        )
    return LocalInvoiceStorage(settings.data_dir / "invoices", invoice_links(settings))


def invoice_links(settings: Settings) -> InvoiceLinks:
    """Signed links to the local store's invoices, served by the API (R5)."""
    return InvoiceLinks(settings.public_base_url, link_key(settings.payload_keys[0]))


def bank_accounts(settings: Settings, database: Database) -> BankAccounts:
    return BankAccounts(
        database, settings.bank_details_key_bytes, key_id=settings.bank_details_key_id
    )


def bank_details_link(
    settings: Settings, invitations: BankDetailsInvitations
) -> Callable[[NoticeRequest], str | None]:
    """R13: each notice that asks for bank details gets its own one-time link, valid until the
    notice's respond-by time."""

    def link_for(notice: NoticeRequest) -> str | None:
        if not notice.kind.asks_for_bank_details or notice.respond_by is None:
            return None
        token = invitations.mint(notice.claim_id, notice.idempotency_key, notice.respond_by)
        return f"{settings.public_base_url.rstrip('/')}/bank-details/{token}"

    return link_for


def masked_iban_for(
    database: Database, accounts: BankAccounts
) -> Callable[[NoticeRequest], str | None]:
    """The account a notice is about, masked: for the final confirmation the standing details
    a claim would take (R10), for the remittance advice the account paid to (R14)."""
    standing = StandingConfirmations(database, accounts)

    def masked_iban(notice: NoticeRequest) -> str | None:
        if notice.kind is NoticeKind.FINAL_CONFIRMATION:
            reseller = notice.reseller
            return standing.masked_if_valid(reseller.reseller_id, reseller.company_name)
        if notice.kind is NoticeKind.REMITTANCE_ADVICE:
            with database.reading() as session:
                return PaymentRepository(session).masked_iban_paid(notice.claim_id)
        return None

    return masked_iban


_RENDERERS: dict[str, MailRenderer] = {}


def mail_renderer(policy: ProgramPolicy) -> MailRenderer:
    """One renderer per policy and process: building one loads every template (~0.4 s), and
    the API and the worker each need one."""
    key = policy.model_dump_json()
    if key not in _RENDERERS:
        _RENDERERS[key] = MailRenderer(policy=policy)
    return _RENDERERS[key]


def outbox(settings: Settings, database: Database) -> SmtpOutbox:
    password = settings.smtp_password
    return SmtpOutbox(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=password.get_secret_value() if password else None,
        starttls=settings.smtp_starttls,
        from_address=settings.mail_from,
        support_address=settings.support_address,
        operators_address=settings.operators_address,
        notice_log=SqlNoticeLog(database),
        link_for=bank_details_link(settings, BankDetailsInvitations(database)),
        masked_iban_for=masked_iban_for(database, bank_accounts(settings, database)),
        renderer=mail_renderer(settings.policy),
    )


def account_mailer(settings: Settings) -> AccountMailer:
    """R1: the mails about accounts (address confirmation, approval), over the same SMTP."""
    password = settings.smtp_password
    return AccountMailer(
        SmtpServer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            envelope_sender=parseaddr(settings.mail_from)[1],
            username=settings.smtp_username,
            password=password.get_secret_value() if password else None,
            starttls=settings.smtp_starttls,
        ),
        from_address=settings.mail_from,
        support_address=settings.support_address,
    )


def payment_gateway(
    settings: Settings, accounts: BankAccounts, database: Database | None = None
) -> PaymentGateway:
    """The simulated bank (answers at once), or the queue of the operators' payment runs
    (which needs the database)."""

    def payee_for(reference: str) -> Payee:
        details = accounts.reveal(reference)
        return Payee(holder_name=details.holder_name, iban=details.iban, bic=details.bic)

    if settings.payment_gateway is PaymentGatewayKind.PAYMENT_RUNS:
        if database is None:
            raise ValueError("payment runs queue their orders in the database: pass it")
        return PaymentRunQueue(database)
    return SimulatedBank(
        settings.data_dir / "simulated-bank.sqlite3",
        payee_for,
        settings.simulated_bank_behaviours,
    )


def run_files(settings: Settings) -> RunFiles:
    """Where payment runs keep their files: the invoices' S3 bucket (under `payment-runs/`)
    when invoices go to S3, else `<data dir>/payment-runs/`."""
    if settings.invoice_backend is InvoiceBackend.S3:
        secret = settings.s3_secret_access_key
        session = boto3.session.Session(
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            region_name=settings.s3_region,
        )
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
            retries={"mode": "standard", "max_attempts": 3},
        )
        client = session.client("s3", endpoint_url=settings.s3_endpoint_url, config=config)
        return S3RunFiles(client, settings.s3_bucket)
    return LocalRunFiles(settings.data_dir / "payment-runs")


def payment_runs(settings: Settings, database: Database, accounts: BankAccounts) -> PaymentRuns:
    """The operators' payment runs (R14): files where `run_files` keeps them, the bank
    channel's outbox `bank-outbox/`, the program's debtor account from the settings."""
    return PaymentRuns(
        database,
        accounts,
        run_files(settings),
        settings.data_dir / "bank-outbox",
        DebtorAccount(settings.debtor_name, settings.debtor_iban, settings.debtor_bic),
    )


def simulated_bank_channel(settings: Settings) -> SimulatedBankChannel:
    """The simulated bank behind the bank channel's folders: answers released runs into the
    inbox, failing the IBANs of `simulated_bank_behaviours` as the simulated bank does, and
    returning the transfers to the IBANs of `simulated_bank_returns` after booking them."""
    return SimulatedBankChannel(
        settings.data_dir / "bank-outbox",
        settings.data_dir / "bank-inbox",
        settings.simulated_bank_behaviours,
        returns=settings.simulated_bank_returns,
    )


def bank_answer_imports(settings: Settings, database: Database) -> BankAnswerImports:
    """The bank's answers to payment runs (R14, R16), imported once each."""
    return BankAnswerImports(database, settings.bank_file_max_bytes)


def payee_verification(settings: Settings) -> PayeeVerification:
    """Verification of Payee (issue 14, R11): the simulated responder, answering as
    `simulated_payee_answers` says (MTCH for every other account). Fails at start on an answer
    it cannot give."""
    return SimulatedPayeeVerification(settings.simulated_payee_answers)


def build_activities(settings: Settings, database: Database) -> ClaimActivities:
    """The claim workflow's activities on the configured database, store, SMTP and bank."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    accounts = bank_accounts(settings, database)
    payments = RecordedGateway(payment_gateway(settings, accounts, database), database)
    return ClaimActivities(
        records=RecordsActivities(SqlTimeline(database)),
        mail=MailActivities(outbox(settings, database)),
        invoices=InvoiceActivities(invoice_storage(settings)),
        eligibility=EligibilityActivities(SqlLicensingRecords(database)),
        payments=PaymentActivities(payments, pending=payments),
        bank_details=BankDetailsActivities(StandingConfirmations(database, accounts)),
        budgets=BudgetActivities(SqlBudgets(database)),
        payee=PayeeActivities(accounts, payee_verification(settings), SqlPayeeAnswers(database)),
    )


def webhook_secret_box(settings: Settings) -> SecretBox:
    """Webhook secrets are sealed like bank details: the same key (R13)."""
    return SecretBox(settings.bank_details_key_bytes, key_id=settings.bank_details_key_id)


def webhook_endpoints(settings: Settings, database: Database) -> WebhookEndpoints:
    return WebhookEndpoints(
        database, webhook_secret_box(settings), allow_loopback=settings.webhook_allow_loopback
    )


def build_webhook_activities(settings: Settings, database: Database) -> WebhookActivities:
    """The webhook delivery workflow's activities: the guarded sender, the delivery log, and
    the mails when an endpoint is disabled."""
    return WebhookActivities(
        SqlWebhookStore(
            database,
            webhook_secret_box(settings),
            allow_loopback=settings.webhook_allow_loopback,
            mail=account_mailer(settings).send,
            operators_address=settings.operators_address,
        )
    )


def webhook_relay(settings: Settings, database: Database, client: Client) -> Relay:
    return Relay(
        database=database,
        client=client,
        task_queue=settings.webhook_task_queue,
        retry_initial=timedelta(seconds=settings.webhook_retry_initial_seconds),
        give_up_after=timedelta(hours=settings.webhook_give_up_after_hours),
    )
