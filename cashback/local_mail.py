"""The embedded default's mail server: an SMTP server on loopback that keeps every message it
receives as an .eml file in a folder, where a person can open it."""

from __future__ import annotations

import time
from email.parser import BytesHeaderParser
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class EmlFolder:
    """aiosmtpd handler: one .eml file per message, named by time of arrival."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        subject = BytesHeaderParser().parsebytes(content).get("Subject", "")
        stem = f"{time.time_ns()}-{_slug(str(subject))}"
        (self.folder / f"{stem}.eml").write_bytes(content)
        return "250 Message accepted for delivery"


def _slug(text: str) -> str:
    kept = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(part for part in kept.split("-") if part)[:60] or "message"


def start_local_mail(folder: Path, host: str, port: int) -> Controller:
    """Start the SMTP server in a thread; `.stop()` ends it."""
    controller = Controller(EmlFolder(folder), hostname=host, port=port)
    controller.start()
    return controller


def received(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.eml"))
