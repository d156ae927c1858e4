"""`SmtpOutbox` with STARTTLS and a login, against an aiosmtpd server that refuses mail before
both (R13: nothing about a claim travels in clear text to a server that offers TLS)."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bench.stack import free_port
from cashback.domain.status import NoticeKind
from cashback.mail import MailServerUnavailable
from tests.mail.mailbox import Mailbox
from tests.mail.notices import InMemoryNoticeLog, OutboxFactory, make_notice

pytestmark = pytest.mark.smtp

USER, PASSWORD = "cashback", "s3cret-for-tests"


@dataclass(frozen=True)
class TlsServer:
    port: int
    mailbox: Mailbox
    client_context: ssl.SSLContext


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # a refusal answers 535


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    cert_file, key_file = _self_signed(tmp_path_factory.mktemp("tls"))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_context,
        require_starttls=True,
        auth_required=True,
        authenticator=_authenticate,
    )
    controller.start()
    try:
        yield TlsServer(controller.port, mailbox, ssl.create_default_context(cafile=str(cert_file)))
    finally:
        controller.stop()


def test_starttls_and_login_deliver_the_notice(
    make_outbox: OutboxFactory, tls_server: TlsServer
) -> None:
    """The outbox encrypts the session (certificate and host name checked), then logs in."""
    tls_server.mailbox.clear()
    outbox = make_outbox(
        port=tls_server.port,
        starttls=True,
        tls_context=tls_server.client_context,
        username=USER,
        password=PASSWORD,
    )
    outbox.send(make_notice(NoticeKind.PRELIMINARY_CONFIRMATION))
    assert len(tls_server.mailbox.deliveries) == 1


@pytest.mark.parametrize(
    ("starttls", "password", "answer"),
    [(False, PASSWORD, "SMTPNotSupportedError"), (True, "wrong", "535")],
    ids=["no-tls", "bad-login"],
)
def test_a_session_the_server_refuses_is_retried_and_not_recorded(
    make_outbox: OutboxFactory, tls_server: TlsServer, starttls: bool, password: str, answer: str
) -> None:
    """Without TLS (the server offers no login then), or with a wrong password, nothing is
    sent: a retryable error (the operators fix the configuration, then the activity succeeds),
    and no record."""
    tls_server.mailbox.clear()
    log = InMemoryNoticeLog()
    outbox = make_outbox(
        port=tls_server.port,
        starttls=starttls,
        tls_context=tls_server.client_context,
        username=USER,
        password=password,
        notice_log=log,
    )
    with pytest.raises(MailServerUnavailable, match=answer) as raised:
        outbox.send(make_notice(NoticeKind.PRELIMINARY_CONFIRMATION))
    assert password not in str(raised.value)
    assert len(log) == 0
    assert tls_server.mailbox.deliveries == []


def test_an_untrusted_certificate_is_refused(
    make_outbox: OutboxFactory, tls_server: TlsServer
) -> None:
    """The default context trusts only the system's CAs: a self-signed server is refused."""
    outbox = make_outbox(port=tls_server.port, starttls=True, username=USER, password=PASSWORD)
    with pytest.raises(MailServerUnavailable, match="SSLCertVerificationError"):
        outbox.send(make_notice(NoticeKind.PRELIMINARY_CONFIRMATION))
