"""Log lines fit for operations, in every process of the program (worker, API, run command).

- Every line about a claim names it: `claim=<id>` (JSON: `"claim_id"`), taken from the Temporal
  activity or workflow the line was written in (workflow id `claim-<id>`).
- A transient activity failure, which Temporal retries (the bank answering TECH, the mail
  server away), is one WARNING line: the claim, the activity, the attempt and the error code.
  A traceback is kept for the unexpected only.
- `CASHBACK_LOG_FORMAT=json` writes JSON lines instead of text (uvicorn's lines too).
- The access log never holds a secret of a URL: a bank-details link's token, an address
  confirmation's token and an invoice link's signature are written as `[redacted]`.

Only codes and class names of errors are written for transient failures, never their texts:
those may quote what a server was sent.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from temporalio import activity, workflow

from cashback.claims import claim_workflow_id
from cashback.config import LogFormat

# Failures Temporal retries as a matter of course, by class name: the activities that raise them
# are not imported here (the core does not depend on them).
TRANSIENT_ERRORS = frozenset(
    {"TransientBankError", "MailServerUnavailable", "ConnectionError", "TimeoutError"}
)
_REASON_CODE = re.compile(r"^([A-Z0-9]{4}):")  # an ISO 20022 reason code leads the bank's text
_CLAIM_PREFIX = claim_workflow_id("")
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# The parts of a URL that open something by themselves: a bank-details link's path segment and
# the `token` and `signature` query parameters (address confirmation, invoice links).
_SECRET_PATH = re.compile(r"(/bank-details/)[^/?#\s]+")
_SECRET_QUERY = re.compile(r"([?&](?:token|signature)=)[^&#\s]*", re.IGNORECASE)
REDACTED = "[redacted]"
_TEXT = "%(asctime)s %(levelname)s %(name)s %(claim)s%(message)s"


def claim_of(record: logging.LogRecord) -> str | None:
    """The claim a log line concerns: from the Temporal context the SDK put on the record, or
    the activity or workflow running where it was written."""
    workflow_id: str | None = None
    for details in ("temporal_activity", "temporal_workflow"):
        found = getattr(record, details, None)
        if isinstance(found, dict) and isinstance(found.get("workflow_id"), str):
            workflow_id = found["workflow_id"]
            break
    else:
        if activity.in_activity():
            workflow_id = activity.info().workflow_id
        elif workflow.in_workflow():
            workflow_id = workflow.info().workflow_id
    if workflow_id is None or not workflow_id.startswith(_CLAIM_PREFIX):
        return None
    return workflow_id.removeprefix(_CLAIM_PREFIX)


class ClaimContext(logging.Filter):
    """Puts `claim_id` on every record (None when the line concerns no claim)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.claim_id = claim_of(record)
        return True


class TransientFailures(logging.Filter):
    """Turns the SDK's "Completing activity as failed" warning with a traceback into one line,
    when the failure is one Temporal retries as a matter of course."""

    def filter(self, record: logging.LogRecord) -> bool:
        details = getattr(record, "temporal_activity", None)
        if not (
            record.name == "temporalio.activity"
            and getattr(record, "__temporal_error_identifier", None) == "ActivityFailure"
            and isinstance(details, dict)
            and record.exc_info
            and record.exc_info[1] is not None
        ):
            return True
        error = record.exc_info[1]
        if not TRANSIENT_ERRORS.intersection(kind.__name__ for kind in type(error).__mro__):
            return True  # unexpected: the traceback stays
        code = _REASON_CODE.match(str(error))
        record.msg = "activity %s failed on attempt %s with %s; Temporal retries it"
        record.args = (
            details.get("activity_type"),
            details.get("attempt"),
            code.group(1) if code else type(error).__name__,
        )
        record.exc_info = None
        record.exc_text = None
        record.transient = True
        return True


def without_secrets(url: str) -> str:
    """`url` with the secrets that open a page by themselves replaced by `[redacted]`."""
    url = _SECRET_PATH.sub(rf"\g<1>{REDACTED}", url)
    return _SECRET_QUERY.sub(rf"\g<1>{REDACTED}", url)


class SecretsInUrls(logging.Filter):
    """uvicorn's access lines (`client - "METHOD path HTTP/x" status`) without the secrets of
    their URLs: whoever reads the log must not be able to open a reseller's bank-details page."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            record.args = tuple(
                without_secrets(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


class TextLines(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(_TEXT)

    def format(self, record: logging.LogRecord) -> str:
        claim_id = getattr(record, "claim_id", None)
        record.claim = f"claim={claim_id} " if claim_id else ""
        return super().format(record)


class JsonLines(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, claim_id when the line
    concerns a claim, and the traceback (`exception`) of the unexpected."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        claim_id = getattr(record, "claim_id", None)
        if claim_id:
            line["claim_id"] = claim_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(
    log_format: LogFormat = LogFormat.TEXT, level: int = logging.INFO, stream: TextIO | None = None
) -> logging.Handler:
    """Replaces the root logger's handlers with one writing to `stream` (stderr) in
    `log_format`, with the claim and transient-failure filters; the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ClaimContext())
    handler.addFilter(TransientFailures())
    handler.addFilter(SecretsInUrls())
    handler.setFormatter(JsonLines() if log_format is LogFormat.JSON else TextLines())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in UVICORN_LOGGERS:  # `uvicorn api.main:app` gave them handlers of their own
        server = logging.getLogger(name)
        for old in server.handlers[:]:
            server.removeHandler(old)
        server.propagate = True
        server.disabled = False  # a logging config loaded before may have switched them off
    return handler
