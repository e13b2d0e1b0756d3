"""Grouping photos by when they were taken: the timeline's sections. No Qt here.

Runs on a worker thread with the query (100,000 photos take a few tens of milliseconds), so
the GUI thread only lays the sections out. The date is the EXIF capture date; a photo
without one is placed by its file time, and its section says how many are dated that way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from photoclip.core.catalog import Photo

GROUPINGS = ("day", "month", "year", "none")


@dataclass(frozen=True)
class Section:
    key: str           # "2021", "2021-03", "2021-03-12"; "" for one ungrouped section
    title: str         # "March 2021"
    start: int         # first row
    count: int
    file_dated: int    # photos placed by their file time (no capture date)
    year: int | None   # for the year list

    @property
    def header(self) -> str:
        if not self.title:
            return ""
        n = f"{self.count:,} photo{'s' if self.count != 1 else ''}"
        # "Date taken" is the word file managers and photo apps use for the EXIF date.
        if self.file_dated and self.file_dated == self.count:
            dated = " by file date (no date taken)"
        elif self.file_dated:
            dated = f", {self.file_dated:,} with no date taken (placed by file date)"
        else:
            dated = ""
        return f"{self.title}  ·  {n}{dated}"


def _unit_start(moment: datetime, group: str) -> datetime:
    if group == "year":
        return moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if group == "month":
        return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _title(moment: datetime, group: str) -> tuple[str, str]:
    if group == "year":
        return moment.strftime("%Y"), moment.strftime("%Y")
    if group == "month":
        return moment.strftime("%Y-%m"), moment.strftime("%B %Y")
    return moment.strftime("%Y-%m-%d"), moment.strftime("%A, %d %B %Y")


def sections_for(photos: Sequence[Photo], group: str) -> list[Section]:
    """Runs of photos with the same local day / month / year; ``photos`` come newest first.

    One step per section, not per photo: the start of the newest photo's day (month, year)
    in local time is looked up in the sorted dates by bisection, so 100,000 photos over
    ten years take milliseconds.
    """
    n = len(photos)
    if group == "none" or not n:
        return [Section("", "", 0, n, 0, None)] if n else []
    # Ascending copies for searchsorted (the photos themselves are newest first).
    dates = -np.fromiter((p.taken_at if p.taken_at is not None else p.mtime for p in photos),
                         dtype=np.float64, count=n)
    undated = np.concatenate(([0], np.cumsum(
        np.fromiter((p.taken_at is None for p in photos), dtype=np.int64, count=n))))
    out: list[Section] = []
    row = 0
    while row < n:
        moment = datetime.fromtimestamp(-dates[row])
        begins = _unit_start(moment, group).timestamp()
        # The first row older than this unit's start ends the section.
        end = max(row + 1, int(np.searchsorted(dates, -begins, side="right")))
        key, title = _title(moment, group)
        out.append(Section(key, title, row, end - row, int(undated[end] - undated[row]),
                           moment.year))
        row = end
    return out
