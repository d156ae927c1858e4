"""Fixtures of the mail tests: a real SMTP server (aiosmtpd) on loopback for the session, its
mailbox emptied per test, and outboxes that send to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from cashback.mail import MailRenderer, SmtpOutbox
from tests.mail.mailbox import Mailbox, SmtpServer, free_port
from tests.mail.notices import (
    FROM,
    OPERATORS,
    SUPPORT,
    InMemoryNoticeLog,
    OutboxFactory,
    secure_link,
)


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpServer(controller.hostname, controller.port, mailbox)
    finally:
        controller.stop()


@pytest.fixture
def mailbox(smtp_server: SmtpServer) -> Mailbox:
    """The server's mailbox, emptied for this test."""
    smtp_server.mailbox.clear()
    return smtp_server.mailbox


@pytest.fixture(scope="session")
def renderer() -> MailRenderer:
    """Built once: loading every template takes a few hundred milliseconds."""
    return MailRenderer()


@pytest.fixture
def make_outbox(smtp_server: SmtpServer, renderer: MailRenderer) -> OutboxFactory:
    """An `SmtpOutbox` on the test server with its own notice log; keywords override."""

    def make(**overrides: Any) -> SmtpOutbox:
        arguments: dict[str, Any] = {
            "host": smtp_server.host,
            "port": smtp_server.port,
            "from_address": FROM,
            "support_address": SUPPORT,
            "operators_address": OPERATORS,
            "notice_log": InMemoryNoticeLog(),
            "link_for": secure_link,
            "renderer": renderer,
            "timeout": 5.0,
        }
        arguments.update(overrides)
        return SmtpOutbox(**arguments)

    return make
