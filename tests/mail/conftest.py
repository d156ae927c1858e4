"""Fixtures of the mail tests: a real SMTP server (aiosmtpd) on loopback for the session, its
mailbox emptied per test, and outboxes that send to it."""

from __future__ import annotations

from typing import Any

import pytest

from cashback.mail import MailRenderer, SmtpOutbox
from tests.mail.mailbox import SmtpServer
from tests.mail.notices import (
    FROM,
    OPERATORS,
    SUPPORT,
    InMemoryNoticeLog,
    OutboxFactory,
    secure_link,
)


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
