"""Program time: the clock a claim's dates and instants are read on.

Normally it is the wall clock. A demo's policy runs time faster (`time_scale` < 1; `make demo`:
a day lasts ten seconds): then each claim's program clock starts with the wall clock when the
claim arrives and runs `1 / time_scale` times as fast. The workflow waits until the wall-clock
instant of a program instant (`ProgramClock.wall`); every day and instant a person reads (the
timeline, respond-by in e-mails and on pages, the API) is the program's (`ProgramClock.shown`),
converted here and nowhere else.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class ProgramClock(BaseModel):
    """One claim's program clock: `origin` is when the claim arrived, `time_scale` its
    policy's (1: the wall clock)."""

    model_config = ConfigDict(frozen=True)

    origin: AwareDatetime
    time_scale: float = Field(default=1.0, gt=0, le=1)

    def shown(self, instant: datetime) -> datetime:
        """The program's instant at the wall-clock `instant`: what a person reads."""
        if self.time_scale == 1:
            return instant
        return self.origin + (instant - self.origin) / self.time_scale

    def shown_or_none(self, instant: datetime | None) -> datetime | None:
        return None if instant is None else self.shown(instant)

    def today(self, now: datetime) -> date:
        """The program's day at the wall-clock instant `now`."""
        return self.shown(now).date()

    def wall(self, instant: datetime) -> datetime:
        """The wall-clock instant at which the program reaches its `instant`: when to wake."""
        if self.time_scale == 1:
            return instant
        return self.origin + (instant - self.origin) * self.time_scale
