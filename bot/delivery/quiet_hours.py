"""Quiet hours: nothing a resident did not just ask for reaches her at night.

One value, built from the settings (QUIET_HOURS_START/END, 21:00 to 08:00 local by default), read
by the delivery engine and by every job that decides what to queue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo


class QuietHoursSettings(Protocol):
    """The part of the settings quiet hours are built from."""

    quiet_hours_start: int
    quiet_hours_end: int

    @property
    def zone(self) -> ZoneInfo:
        """The council's time zone."""
        ...


@dataclass(frozen=True)
class QuietHours:
    """From `start` o'clock to `end` o'clock in the council's time zone (none if equal)."""

    zone: ZoneInfo
    start: int = 21
    end: int = 8

    @classmethod
    def from_settings(cls, settings: QuietHoursSettings) -> QuietHours:
        """The quiet hours as configured."""
        return cls(settings.zone, settings.quiet_hours_start, settings.quiet_hours_end)

    def contains(self, moment: dt.datetime) -> bool:
        """Whether `moment` falls in the quiet hours."""
        if self.start == self.end:
            return False
        hour = moment.astimezone(self.zone).hour
        if self.start > self.end:
            return hour >= self.start or hour < self.end
        return self.start <= hour < self.end

    def next_send_time(self, moment: dt.datetime) -> dt.datetime:
        """`moment` itself outside quiet hours, else the local `end` o'clock they finish at."""
        if not self.contains(moment):
            return moment
        local = moment.astimezone(self.zone)
        day = local.date()
        if local.hour >= self.end:
            # Evening: quiet hours end tomorrow morning.
            day += dt.timedelta(days=1)
        # Built from the local date, so 08:00 stays 08:00 across the March and October changes.
        wake = dt.datetime.combine(day, dt.time(self.end), tzinfo=self.zone)
        return wake.astimezone(dt.UTC)

    def labels(self) -> dict[str, str]:
        """How the hours read in a message, e.g. {"quiet_start": "9pm", "quiet_end": "8am"}."""
        return {"quiet_start": _clock_hour(self.start), "quiet_end": _clock_hour(self.end)}


def _clock_hour(hour: int) -> str:
    if hour == 0:
        return "midnight"
    if hour == 12:
        return "noon"
    return f"{hour % 12}{'am' if hour < 12 else 'pm'}"
