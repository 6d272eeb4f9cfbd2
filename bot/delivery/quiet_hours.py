"""Quiet hours: nothing bulk reaches a resident at night (21:00 to 08:00 local by default)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def in_quiet_hours(moment: dt.datetime, zone: ZoneInfo, start: int = 21, end: int = 8) -> bool:
    """Whether `moment` falls in the quiet hours of the council's time zone."""
    if start == end:
        return False
    hour = moment.astimezone(zone).hour
    if start > end:
        return hour >= start or hour < end
    return start <= hour < end


def next_send_time(
    moment: dt.datetime, zone: ZoneInfo, start: int = 21, end: int = 8
) -> dt.datetime:
    """`moment` itself outside quiet hours, else the local `end` o'clock they finish at, in UTC."""
    if not in_quiet_hours(moment, zone, start, end):
        return moment
    local = moment.astimezone(zone)
    day = local.date()
    if local.hour >= end:
        # Evening: quiet hours end tomorrow morning.
        day += dt.timedelta(days=1)
    # Built from the local date, so 08:00 stays 08:00 across the March and October clock changes.
    wake = dt.datetime.combine(day, dt.time(end), tzinfo=zone)
    return wake.astimezone(dt.UTC)
