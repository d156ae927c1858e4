"""The outbox that sends notices over SMTP, once per (claim, notice kind, number).

Idempotency has two layers: the notice log (a retried activity finds the receipt and sends
nothing), and a Message-ID derived from the idempotency key, so that a resend after a crash
between sending and recording carries the same Message-ID and a receiver can drop the duplicate.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from activities.mail import NoticeLog, NoticeReceipt, NoticeRequest
from cashback.domain.reseller import Language
from cashback.mail.changes import BankDetailsChange
from cashback.mail.errors import InvalidNotice, MailServerUnavailable
from cashback.mail.render import OPERATOR_KINDS, MailRenderer, RenderedNotice

NOTICE_HEADER = "X-Cashback-Notice"
"""Carries the notice's idempotency key (claim id, kind, number), for support and for tests."""

CHANGE_HEADER = "X-Cashback-Bank-Details"
"""Carries the key of an e-mail about changed bank details (`BankDetailsChange.key`)."""


def message_id_for(idempotency_key: str, domain: str) -> str:
    """The Message-ID of the notice sent under `idempotency_key`: the same on every resend."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<notice.{digest}@{domain}>"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _unknown(notice: NoticeRequest) -> str | None:
    return None


class SmtpOutbox:
    """`activities.mail.Outbox` over SMTP (R7, R9, R10, R11, R13, R14, R16, R17, D6).

    Reseller notices go to the reseller's address in the reseller's language, with the support
    address as Reply-To; operator notices (escalation, payout overdue) go to `operators_address`
    in `operator_language`. With `starttls` the session is encrypted before any login, checked
    against `tls_context` (default: the system's trusted CAs and the host name). `link_for` mints
    the secure bank-details link (R13) of a notice that asks for bank details; it is called only
    when the notice is about to be sent, and again if a send is retried after an error.
    `masked_iban_for` names the account (masked) a final confirmation or remittance advice is
    about, when it is known (R10, R14)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        from_address: str,
        support_address: str,
        operators_address: str,
        notice_log: NoticeLog,
        link_for: Callable[[NoticeRequest], str | None],
        masked_iban_for: Callable[[NoticeRequest], str | None] = _unknown,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        tls_context: ssl.SSLContext | None = None,
        renderer: MailRenderer | None = None,
        operator_language: Language = Language.ENGLISH,
        timeout: float = 30.0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        _, sender = parseaddr(from_address)
        if "@" not in sender:
            raise ValueError("from_address must contain an e-mail address")
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._starttls = starttls
        self._tls_context = tls_context
        self._from_address = from_address
        self._envelope_sender = sender
        self._domain = sender.rpartition("@")[2]
        self._support_address = support_address
        self._operators_address = operators_address
        self._log = notice_log
        self._link_for = link_for
        self._masked_iban_for = masked_iban_for
        self._renderer = renderer or MailRenderer()
        self._operator_language = operator_language
        self._timeout = timeout
        self._clock = clock

    def send(self, notice: NoticeRequest) -> NoticeReceipt:
        """Render and send `notice` once; a notice already in the log returns its receipt without
        sending. Raises `InvalidNotice` (not retried) when the notice cannot be rendered or the
        server refuses the recipient for good, `MailServerUnavailable` (retried) otherwise."""
        key = notice.idempotency_key
        receipt = self._log.receipt_for(key)
        if receipt is not None:
            return receipt
        for_operators = notice.kind in OPERATOR_KINDS
        rendered = self._renderer.render(
            notice,
            language=self._operator_language if for_operators else notice.reseller.language,
            support_address=self._support_address,
            secure_link=self._link_for(notice) if notice.kind.asks_for_bank_details else None,
            masked_iban=None if for_operators else self._masked_iban_for(notice),
        )
        recipient = self._operators_address if for_operators else str(notice.reseller.email)
        receipt = NoticeReceipt(message_id=message_id_for(key, self._domain), sent_at=self._clock())
        message = self._message(rendered, recipient, receipt, for_operators, (NOTICE_HEADER, key))
        self._deliver(message, recipient, key)
        self._log.record(notice, receipt)
        return receipt

    def send_change(self, change: BankDetailsChange) -> NoticeReceipt:
        """R10, R13: tell the reseller its bank details changed, at once and without the notice
        log (each change is sent once, by the request that made it). Raises `InvalidNotice` or
        `MailServerUnavailable` like `send`."""
        rendered = self._renderer.render_change(change, support_address=self._support_address)
        recipient = str(change.reseller.email)
        key = change.key
        receipt = NoticeReceipt(message_id=message_id_for(key, self._domain), sent_at=self._clock())
        message = self._message(rendered, recipient, receipt, False, (CHANGE_HEADER, key))
        self._deliver(message, recipient, key)
        return receipt

    def _message(
        self,
        rendered: RenderedNotice,
        recipient: str,
        receipt: NoticeReceipt,
        for_operators: bool,
        label: tuple[str, str],
    ) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._from_address
        message["To"] = recipient
        if not for_operators:
            message["Reply-To"] = self._support_address  # R17: replies reach the support team
        message["Subject"] = rendered.subject
        message["Date"] = format_datetime(receipt.sent_at)
        message["Message-ID"] = receipt.message_id
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
        message[label[0]] = label[1]
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        # After the parts: making the message multipart moves Content-* headers into the first.
        message["Content-Language"] = rendered.language.value
        return message

    def _deliver(self, message: EmailMessage, recipient: str, key: str) -> None:
        deliver(
            message,
            recipient,
            SmtpServer(
                self._host,
                self._port,
                self._envelope_sender,
                self._username,
                self._password,
                self._starttls,
                self._tls_context,
                self._timeout,
            ),
            what=f"notice {key}",
        )


@dataclass(frozen=True)
class SmtpServer:
    """Where mail goes, and how to log in there."""

    host: str
    port: int
    envelope_sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    tls_context: ssl.SSLContext | None = None
    timeout: float = 30.0


def deliver(message: EmailMessage, recipient: str, server: SmtpServer, *, what: str) -> None:
    """Send `message` to `recipient`. Raises `InvalidNotice` when the server refuses the
    recipient for good, `MailServerUnavailable` otherwise; `what` names the message in them."""
    # Errors are raised `from None`: smtplib's exceptions carry the recipient's address, and
    # a cause would be stored, unencrypted, in the workflow's history.
    try:
        with smtplib.SMTP(server.host, server.port, timeout=server.timeout) as smtp:
            if server.starttls:
                smtp.starttls(context=server.tls_context or ssl.create_default_context())
            if server.username is not None:
                smtp.login(server.username, server.password or "")
            smtp.send_message(message, from_addr=server.envelope_sender, to_addrs=[recipient])
    except smtplib.SMTPRecipientsRefused as error:
        codes = sorted({code for code, _ in error.recipients.values()})
        if all(500 <= code < 600 for code in codes):
            raise InvalidNotice(
                f"{what}: the mail server refused the recipient for good ({codes})"
            ) from None
        raise MailServerUnavailable(
            f"{what}: the mail server deferred the recipient ({codes})"
        ) from None
    except smtplib.SMTPResponseException as error:
        raise MailServerUnavailable(f"{what}: the mail server answered {error.smtp_code}") from None
    except smtplib.SMTPException as error:
        raise MailServerUnavailable(
            f"{what}: the mail session failed ({type(error).__name__})"
        ) from None
    except OSError as error:
        raise MailServerUnavailable(
            f"{what}: the mail server is unreachable ({type(error).__name__})"
        ) from None
