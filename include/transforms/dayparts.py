"""Day parts: the labor list (hours of the clock) and the sales list, and splitting a shift across them.

Labor day parts follow the store-local clock, ``start <= hour < end``. The business day runs
from 08:00 to 08:00 the next day, so its parts in business order are Morning ... Evening and
then Late Night (00:00-08:00). The split is purely by clock hour: which business day a
minute belongs to is decided by the caller (see :mod:`include.transforms.labor`).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import numpy as np


class Daypart(NamedTuple):
    """A named span of clock hours, ``start_hour <= hour < end_hour``."""

    name: str
    start_hour: int
    end_hour: int


#: Labor day parts in business-day order (08:00 to 08:00).
LABOR_DAYPARTS: tuple[Daypart, ...] = (
    Daypart("Morning", 8, 10),
    Daypart("Lunch", 10, 14),
    Daypart("Afternoon", 14, 17),
    Daypart("Dinner", 17, 21),
    Daypart("Evening", 21, 24),
    Daypart("Late Night", 0, 8),
)
LABOR_DAYPART_NAMES: tuple[str, ...] = tuple(p.name for p in LABOR_DAYPARTS)

#: Sales day parts, as the POS reports them (not the labor list).
SALES_DAYPARTS: tuple[str, ...] = ("Lunch", "Afternoon", "Dinner", "Evening")

#: Clock hour -> labor day part name, for hours 0..23.
_PART_OF_HOUR: tuple[str, ...] = tuple(
    next(p.name for p in LABOR_DAYPARTS if p.start_hour <= hour < p.end_hour) for hour in range(24)
)
#: Clock hour -> the hour at which its day part ends (24 = next midnight).
_END_OF_HOUR: tuple[int, ...] = tuple(
    next(p.end_hour for p in LABOR_DAYPARTS if p.start_hour <= hour < p.end_hour) for hour in range(24)
)


def labor_daypart_of_hour(hour: int) -> str:
    """The labor day part that clock hour ``hour`` (0-23) falls in."""
    return _PART_OF_HOUR[hour]


def split_minutes_by_daypart(start: datetime, end: datetime) -> dict[str, float]:
    """Minutes of ``[start, end)`` spent in each labor day part (only parts with time in them).

    Keys come in the order the shift passes through them; a shift spanning the same part
    twice (e.g. 07:00-09:00 the next morning after an overnight) sums both stretches.
    An empty or reversed interval gives ``{}``.
    """
    minutes: dict[str, float] = {}
    cursor = start
    while cursor < end:
        hour = cursor.hour
        boundary_hour = _END_OF_HOUR[hour]
        day = datetime.combine(cursor.date(), time(), tzinfo=cursor.tzinfo)
        boundary = day + timedelta(hours=boundary_hour)
        stop = end if end < boundary else boundary
        name = _PART_OF_HOUR[hour]
        minutes[name] = minutes.get(name, 0.0) + (stop - cursor).total_seconds() / 60.0
        cursor = stop
    return minutes


def split_minutes_vectorised(starts: np.ndarray, ends: np.ndarray) -> dict[str, np.ndarray]:
    """Vectorised :func:`split_minutes_by_daypart` for many shifts at once.

    ``starts`` and ``ends`` are ``datetime64`` arrays of equal length (store-local, naive).
    Returns one float array of minutes per labor day part (every part present, zeros allowed).
    """
    import numpy as np

    start = np.asarray(starts, dtype="datetime64[s]")
    end = np.asarray(ends, dtype="datetime64[s]")
    end = np.maximum(end, start)
    first_day = start.astype("datetime64[D]")
    span_days = int(((end.astype("datetime64[D]") - first_day).astype(np.int64)).max(initial=0))
    result = {name: np.zeros(len(start), dtype=np.float64) for name in LABOR_DAYPART_NAMES}
    for offset in range(span_days + 1):
        day = (first_day + np.timedelta64(offset, "D")).astype("datetime64[s]")
        for part in LABOR_DAYPARTS:
            lo = np.maximum(start, day + np.timedelta64(part.start_hour, "h"))
            hi = np.minimum(end, day + np.timedelta64(part.end_hour, "h"))
            result[part.name] += np.clip((hi - lo).astype(np.int64), 0, None) / 60.0
    return result
