"""Program time (cashback/domain/program_time.py): under a demo's `time_scale` every instant a
person reads of a claim is the program's, counted from the claim's arrival; the workflow wakes
at the wall-clock instant of a program instant (D3, R9, R10, R14)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cashback.demo import TIME_SCALE
from cashback.domain.program_time import ProgramClock

ARRIVED = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
DEMO = ProgramClock(origin=ARRIVED, time_scale=TIME_SCALE)  # a day lasts ten seconds

instants = st.datetimes(
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive by design
    max_value=datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
scales = st.floats(min_value=1e-6, max_value=1.0, allow_nan=False)
offsets = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2))


def test_r10_a_demo_shows_ten_wall_seconds_as_a_program_day() -> None:
    """R10: in `make demo` (a day in ten seconds) a respond-by five notice days after a request
    sent 30 wall seconds after the arrival is read as 8 days after the arrival, not 80 s."""
    sent = ARRIVED + timedelta(seconds=30)
    respond_by = sent + timedelta(days=5) * TIME_SCALE
    assert respond_by - ARRIVED == timedelta(seconds=80)
    assert DEMO.shown(sent) == ARRIVED + timedelta(days=3)
    assert DEMO.shown(respond_by) == ARRIVED + timedelta(days=8)
    assert DEMO.shown_or_none(respond_by) == ARRIVED + timedelta(days=8)
    assert DEMO.shown_or_none(None) is None


def test_d3_the_arrival_is_the_same_instant_on_both_clocks() -> None:
    """D3: the claim's arrival is where program time starts: shown as it happened."""
    assert DEMO.shown(ARRIVED) == ARRIVED
    assert DEMO.wall(ARRIVED) == ARRIVED


def test_r14_the_programs_day_turns_every_ten_seconds_in_a_demo() -> None:
    """R14: the day the program has reached (the final confirmation's day): the arrival's
    (09:30) until its midnight, 14.5 program hours or 6.04 wall seconds later; then the next."""
    assert DEMO.today(ARRIVED + timedelta(seconds=6)) == date(2026, 12, 7)
    assert DEMO.today(ARRIVED + timedelta(seconds=6.1)) == date(2026, 12, 8)
    assert DEMO.today(ARRIVED + timedelta(seconds=100)) == date(2026, 12, 17)


def test_r9_a_program_deadline_is_waited_for_sooner_on_the_wall_clock() -> None:
    """R9: the end of a review deadline 20 program days after the arrival is reached 200 wall
    seconds after it in a demo."""
    assert DEMO.wall(ARRIVED + timedelta(days=20)) == ARRIVED + timedelta(seconds=200)


def test_d3_without_a_time_scale_program_time_is_the_wall_clock() -> None:
    """D3: outside a demo (time_scale 1) every instant is shown as it is, in its own zone."""
    clock = ProgramClock(origin=ARRIVED)
    later = datetime(2026, 12, 24, 23, 59, tzinfo=timezone(timedelta(hours=1)))
    assert clock.shown(later) is later
    assert clock.wall(later) is later
    assert clock.today(later) == date(2026, 12, 24)


@pytest.mark.parametrize("scale", [0, -0.5, 1.5])
def test_a_time_scale_may_only_shorten_the_program(scale: float) -> None:
    """As the policy's: a scale above 1 or not positive is refused."""
    with pytest.raises(ValidationError):
        ProgramClock(origin=ARRIVED, time_scale=scale)


def test_program_time_needs_an_aware_origin() -> None:
    with pytest.raises(ValidationError):
        ProgramClock(origin=datetime(2026, 12, 7, 9, 30), time_scale=TIME_SCALE)  # noqa: DTZ001


@given(origin=instants, scale=scales, offset=offsets)
def test_d3_shown_and_wall_undo_each_other(
    origin: datetime, scale: float, offset: timedelta
) -> None:
    """D3: the wall-clock instant of a shown instant is the instant itself (to a microsecond
    per program day of rounding), and program time runs 1/scale times as fast."""
    clock = ProgramClock(origin=origin, time_scale=scale)
    wall = origin + offset
    shown = clock.shown(wall)
    assert shown >= wall
    assert abs(clock.wall(shown) - wall) <= timedelta(microseconds=2)
    assert abs((shown - origin) * scale - offset) <= timedelta(microseconds=2)


@given(origin=instants, scale=scales, first=offsets, second=offsets)
def test_d3_program_time_keeps_the_order_of_events(
    origin: datetime, scale: float, first: timedelta, second: timedelta
) -> None:
    """D3: the timeline's order is the same on both clocks."""
    clock = ProgramClock(origin=origin, time_scale=scale)
    earlier, later = sorted((first, second))
    assert clock.shown(origin + earlier) <= clock.shown(origin + later)
