"""E-mails about accounts rather than claims (R1): confirming an address, an address that is
already registered, an organisation approved or refused, a link to reset a password. One
plain-text template per message and language in `templates/mail/accounts/`; its `Subject:`
line becomes the header."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from enum import StrEnum
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from cashback.domain.reseller import Language
from cashback.mail.smtp import SmtpServer, deliver

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "mail" / "accounts"


class AccountMail(StrEnum):
    CONFIRM_ADDRESS = "confirm_address"
    ADDRESS_IN_USE = "address_in_use"
    ORGANISATION_APPROVED = "organisation_approved"
    ORGANISATION_REFUSED = "organisation_refused"
    PASSWORD_RESET = "password_reset"
    WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint_disabled"


class AccountMailer:
    """Renders an account mail in the reseller's language (D6) and sends it over SMTP, with the
    support address as Reply-To (R17). Every template is loaded when the mailer is built."""

    def __init__(self, server: SmtpServer, *, from_address: str, support_address: str) -> None:
        self._server = server
        self._from_address = from_address
        self._support_address = support_address
        self._env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,  # plain text only
        )
        for language in Language:
            for kind in AccountMail:
                self._env.get_template(f"{language.value}_{kind.value}.txt")

    def render(self, kind: AccountMail, language: Language, **facts: Any) -> tuple[str, str]:
        """The subject and text of `kind` in `language`."""
        template = self._env.get_template(f"{language.value}_{kind.value}.txt")
        lines = template.render(support_address=self._support_address, **facts).splitlines()
        subject = next(line for line in lines if line.startswith("Subject: "))
        text = "\n".join(line for line in lines if line is not subject).strip() + "\n"
        return subject.removeprefix("Subject: ").strip(), text

    def send(self, to: str, kind: AccountMail, language: Language, **facts: Any) -> None:
        """Send `kind` to `to`. Raises `MailServerUnavailable` (the address is never in it)."""
        subject, text = self.render(kind, language, **facts)
        message = EmailMessage()
        message["From"] = self._from_address
        message["To"] = to
        message["Reply-To"] = self._support_address
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(
            domain=parseaddr(self._from_address)[1].rpartition("@")[2]
        )
        message["Auto-Submitted"] = "auto-generated"
        message["Content-Language"] = language.value
        message.set_content(text)
        deliver(message, to, self._server, what=f"account mail {kind.value}")
