"""The SMTP server side of the mail tests: an aiosmtpd handler that keeps every message it
receives, and refuses two addresses the way real servers do (550 for good, 451 for now)."""

from __future__ import annotations

import email
import email.policy
import threading
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP, Envelope, Session

REFUSED = "unknown@reseller.example"  # the server answers 550 for it
DEFERRED = "busy@reseller.example"  # the server answers 451 for it


@dataclass(frozen=True)
class Delivery:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    def part(self, subtype: str) -> str:
        """The decoded body of the `text/<subtype>` alternative."""
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        assert body.get_content_type() == f"text/{subtype}"
        content: str = body.get_content()
        return content


class Mailbox:
    """The aiosmtpd handler: refuses the two test addresses, keeps every other message."""

    def __init__(self) -> None:
        self._deliveries: list[Delivery] = []
        self._lock = threading.Lock()

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 No such mailbox"
        if address == DEFERRED:
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert envelope.original_content is not None
        assert envelope.mail_from is not None
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self._deliveries.append(Delivery(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def clear(self) -> None:
        with self._lock:
            self._deliveries.clear()


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    mailbox: Mailbox
