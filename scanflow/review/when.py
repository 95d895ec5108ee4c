"""Times as a teacher reads them: in the computer's own time zone, relative to today.

The archive stores UTC ISO stamps (``2026-12-07T04:55:08+00:00``); pages show
"today 09:55", "yesterday 16:10", "Mon 30 Nov 14:02" or "3 Mar 2025 10:00".

>>> import datetime as dt
>>> now = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.timezone.utc)
>>> human_time("2026-12-07T09:55:08+00:00", now=now, tz=dt.timezone.utc)
'today 09:55'
"""

from __future__ import annotations

import datetime as dt


def human_time(stamp: str | None, *, now: dt.datetime | None = None,
               tz: dt.tzinfo | None = None) -> str:
    """A stored UTC stamp as local, human words; '' for none, the stamp itself if unreadable."""
    if not stamp:
        return ""
    try:
        when = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)  # scanflow writes UTC everywhere
    when = when.astimezone(tz)
    today = (now or dt.datetime.now(dt.timezone.utc)).astimezone(tz).date()
    clock = when.strftime("%H:%M")
    days = (today - when.date()).days
    if days == 0:
        return f"today {clock}"
    if days == 1:
        return f"yesterday {clock}"
    if 0 < days < 7 or (days < 0 and when.year == today.year):
        return f"{when:%a} {when.day} {when:%b} {clock}"
    if when.year == today.year:
        return f"{when.day} {when:%b} {clock}"
    return f"{when.day} {when:%b} {when.year} {clock}"
