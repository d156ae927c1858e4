"""How sending a notice can fail, in the terms of the activity's retry policy (activities/mail.py).

Messages name the notice's idempotency key and SMTP codes only, never an address or a name:
failure messages are stored unencrypted in the workflow's history.
"""

from __future__ import annotations


class InvalidNotice(Exception):
    """The notice can never be sent as it is: a fact its kind needs is missing, or the mail server
    refused the recipient permanently (5xx). Listed as non-retryable in `activities.mail.RETRY`,
    so Temporal fails the activity at once instead of retrying it."""


class MailServerUnavailable(Exception):
    """The mail server did not take the message now (connection refused or lost, a 4xx answer,
    a refused login): Temporal retries the activity."""
