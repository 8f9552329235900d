"""Which backups to keep: the newest dump of each of the last N days, and of the last M Sundays.

Days and Sundays (UTC dates) are counted among those that have a dump, so a gap in backups
never empties the folder. Only files named like the dumps this package writes are ever
considered or deleted.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from include.maintenance.backup import STAMP_FORMAT, manifest_of

log = logging.getLogger(__name__)

SUNDAY = 6


@dataclass(frozen=True)
class RetentionPlan:
    keep: list[Path]
    delete: list[Path]


def _dumps(folder: Path, label: str) -> list[tuple[datetime, Path]]:
    pattern = re.compile(rf"^{re.escape(label)}_(\d{{8}}T\d{{6}}Z)\.dump$")
    found = []
    for path in folder.glob(f"{label}_*.dump"):
        match = pattern.match(path.name)
        if match:
            found.append((datetime.strptime(match.group(1), STAMP_FORMAT).replace(tzinfo=UTC), path))
    return sorted(found, reverse=True)


def plan_retention(folder: Path, label: str, *, keep_daily: int = 7, keep_weekly: int = 4) -> RetentionPlan:
    """The dumps of ``label`` in ``folder`` to keep and to delete (nothing is touched)."""
    if keep_daily < 1 or keep_weekly < 0:
        raise ValueError("keep at least one daily dump and zero or more weekly ones")
    dumps = _dumps(folder, label)
    keep: set[Path] = set()
    days: set = set()
    sundays: set = set()
    for taken_at, path in dumps:  # newest first: the first dump seen of a day is its newest
        day = taken_at.date()
        if day not in days and len(days) < keep_daily:
            keep.add(path)
        days.add(day)
        if day.weekday() == SUNDAY:
            if day not in sundays and len(sundays) < keep_weekly:
                keep.add(path)
            sundays.add(day)
    ordered = [p for _, p in dumps]
    return RetentionPlan(keep=[p for p in ordered if p in keep], delete=[p for p in ordered if p not in keep])


def apply_retention(folder: Path, label: str, *, keep_daily: int = 7, keep_weekly: int = 4) -> RetentionPlan:
    """Delete the dumps (and their manifests) that the plan does not keep; return the plan."""
    plan = plan_retention(folder, label, keep_daily=keep_daily, keep_weekly=keep_weekly)
    for path in plan.delete:
        path.unlink(missing_ok=True)
        manifest_of(path).unlink(missing_ok=True)
    log.info("%s: kept %d dumps, deleted %d", label, len(plan.keep), len(plan.delete))
    return plan
