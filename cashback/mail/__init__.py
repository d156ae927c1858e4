"""E-mail to resellers and operators: notices rendered from templates (D6, R17) and sent over
SMTP once per idempotency key (activities/mail.py holds the contracts)."""

from cashback.mail.changes import BankDetailsChange, BankDetailsChangeKind
from cashback.mail.errors import InvalidNotice, MailServerUnavailable
from cashback.mail.render import OPERATOR_KINDS, TEMPLATES, MailRenderer, RenderedNotice
from cashback.mail.smtp import SmtpOutbox, message_id_for

__all__ = [
    "OPERATOR_KINDS",
    "TEMPLATES",
    "BankDetailsChange",
    "BankDetailsChangeKind",
    "InvalidNotice",
    "MailRenderer",
    "MailServerUnavailable",
    "RenderedNotice",
    "SmtpOutbox",
    "message_id_for",
]
