"""R14, R16: the bank's answers as files: what the program writes (for the simulated bank) it
reads back entry for entry, and whatever bytes arrive, reading either gives the entries or
refuses the file with a code (never another error)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cashback.bank.answers import (
    CAMT_054,
    PAIN_002,
    RETURNED,
    AnswerEntry,
    BankAnswerFile,
    InvalidBankFile,
    TransferAnswer,
    debit_notification,
    parse,
    status_report,
)

MAX = 1024 * 1024


def read_or_refusal(content: bytes) -> BankAnswerFile | InvalidBankFile:
    """The file read, or the refusal; any other exception fails the test."""
    try:
        return parse(content, MAX)
    except InvalidBankFile as refused:
        return refused


ids = st.integers(0, 2**63).map(lambda n: f"c-{n:016x}/payout/1")
answers = st.lists(
    st.tuples(
        ids,
        st.integers(1, 10**9),
        st.sampled_from([("ACSC", None), ("RJCT", "AC04"), ("RJCT", "TECH"), ("RJCT", "MS03")]),
    ),
    min_size=1,
    max_size=20,
    unique_by=lambda a: a[0],
)


@settings(max_examples=30, deadline=None)
@given(answers)
def test_r14_r16_a_status_report_reads_back_entry_for_entry(
    given_answers: list[tuple[str, int, tuple[str, str | None]]],
) -> None:
    """R14, R16: a pain.002 report's run figures and every transfer's status, reason and
    amount are read as written."""
    written = [TransferAnswer(e2e, amount, *status) for e2e, amount, status in given_answers]
    total = sum(a.amount_minor_units for a in written)
    read = parse(status_report("P2-1", "RUN-1", len(written), total, written), MAX)
    assert (read.kind, read.message_id, read.original_message_id) == (PAIN_002, "P2-1", "RUN-1")
    assert (read.original_count, read.original_control_sum) == (len(written), total)
    assert read.entries == tuple(
        AnswerEntry(a.end_to_end_id, a.status, a.reason, a.amount_minor_units) for a in written
    )


@settings(max_examples=30, deadline=None)
@given(answers, st.booleans())
def test_r14_r16_a_notification_reads_back_bookings_and_returns(
    given_answers: list[tuple[str, int, tuple[str, str | None]]], returned: bool
) -> None:
    """R14: booked debits read as BOOK; R16: returns read as RTRN with their reason code."""
    status = RETURNED if returned else "BOOK"
    reason = "AC04" if returned else None
    written = [TransferAnswer(e2e, amount, status, reason) for e2e, amount, _ in given_answers]
    read = parse(debit_notification("C54-1", "DE89370400440532013000", written), MAX)
    assert (read.kind, read.message_id) == (CAMT_054, "C54-1")
    assert [(e.end_to_end_id, e.status, e.reason, e.amount_minor_units) for e in read.entries] == [
        (a.end_to_end_id, status, reason, a.amount_minor_units) for a in written
    ]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_r14_any_bytes_are_read_or_refused_with_a_code(content: bytes) -> None:
    """R14: random bytes never raise anything but InvalidBankFile, with a code and a sentence."""
    result = read_or_refusal(content)
    assert isinstance(result, BankAnswerFile) or (result.code and result.detail)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_r14_a_damaged_report_is_read_or_refused_with_a_code(data: st.DataObject) -> None:
    """R14: a real report with a stretch of it replaced is read or refused, never a crash."""
    content = status_report("P2-1", "RUN-1", 1, 100, [TransferAnswer("c-1/payout/1", 100, "ACSC")])
    start = data.draw(st.integers(0, len(content) - 1))
    end = data.draw(st.integers(start, min(len(content), start + 40)))
    damaged = content[:start] + data.draw(st.binary(max_size=40)) + content[end:]
    result = read_or_refusal(damaged)
    assert isinstance(result, BankAnswerFile) or (result.code and result.detail)


def test_r14_the_size_cap_is_checked_before_anything_is_parsed() -> None:
    """R14: one byte over the cap is refused as too large, whatever the content."""
    content = status_report("P2-1", "RUN-1", 1, 100, [TransferAnswer("c-1/payout/1", 100, "ACSC")])
    assert parse(content, len(content)).entries
    with pytest.raises(InvalidBankFile) as refused:
        parse(content, len(content) - 1)
    assert (refused.value.code, refused.value.too_large) == ("file_too_large", True)
