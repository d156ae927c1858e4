"""What the API talks to, built once per process and handed to the routes."""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio.client import Client

from api.security import PASSWORDS, Passwords, SignInThrottle
from cashback.bank_answers import BankAnswerImports
from cashback.config import Settings
from cashback.db import BankAccounts, Database
from cashback.db.invitations import BankDetailsInvitations
from cashback.db.sign_in_failures import SignInFailures
from cashback.db.standing_confirmations import StandingConfirmations
from cashback.invoices import InvoiceStorage
from cashback.mail import SmtpOutbox
from cashback.organisations import Organisations
from cashback.password_resets import PasswordResets
from cashback.payment_runs import PaymentRuns
from cashback.submissions import Submissions
from cashback.webhooks.endpoints import WebhookEndpoints
from cashback.wiring import (
    account_mailer,
    bank_accounts,
    bank_answer_imports,
    invoice_storage,
    open_database,
    outbox,
    payment_runs,
    webhook_endpoints,
)


@dataclass
class Services:
    settings: Settings
    database: Database
    temporal: Client
    invoices: InvoiceStorage
    bank_accounts: BankAccounts
    invitations: BankDetailsInvitations
    standing: StandingConfirmations
    organisations: Organisations
    submissions: Submissions
    outbox: SmtpOutbox  # R10, R13: the mails about changed bank details
    payment_runs: PaymentRuns  # R14: SEPA payment runs
    bank_answers: BankAnswerImports  # R14, R16: the bank's answers to them
    password_resets: PasswordResets
    webhooks: WebhookEndpoints  # issue 17: resellers' webhook endpoints
    throttle: SignInThrottle = field(default_factory=SignInThrottle)
    passwords: Passwords = PASSWORDS  # one dummy hash per process

    @classmethod
    def build(
        cls, settings: Settings, temporal: Client, database: Database | None = None
    ) -> Services:
        database = database or open_database(settings)
        accounts = bank_accounts(settings, database)
        mailer = account_mailer(settings)
        invoices = invoice_storage(settings)
        return cls(
            settings=settings,
            database=database,
            temporal=temporal,
            invoices=invoices,
            bank_accounts=accounts,
            invitations=BankDetailsInvitations(database),
            standing=StandingConfirmations(database, accounts),
            submissions=Submissions(
                database,
                invoices,
                temporal,
                settings.task_queue,
                settings.policy,
                settings.public_base_url,
            ),
            organisations=Organisations(database, mailer, settings.public_base_url),
            password_resets=PasswordResets(database, mailer, settings.public_base_url),
            outbox=outbox(settings, database),
            payment_runs=payment_runs(settings, database, accounts),
            bank_answers=bank_answer_imports(settings, database),
            webhooks=webhook_endpoints(settings, database),
            # R1: counted in the database, so it holds across `--workers` and replicas
            throttle=SignInThrottle.across_processes(SignInFailures(database)),
        )
