"""Working hours: a weekly schedule in the agency's time zone, closed on its holidays.

A schedule maps weekday keys to slots: {"mon": [["08:00", "17:00"]], "fri": [["22:00", "06:00"]]}.
A slot whose end is not after its start runs past midnight into the next day (a night shift), and
"24:00" means the end of the day. A holiday closes the slots that start on that date. No schedule at
all means always open.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from civdesk.core.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = {
    "uk": ("пн", "вт", "ср", "чт", "пт", "сб", "нд"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
# Looking further than this for an opening means the schedule never opens.
_HORIZON_DAYS = 400


@dataclass(frozen=True)
class Slot:
    start: int  # minutes after local midnight
    end: int  # minutes after local midnight of the start day; may exceed 1440 for a night shift


@dataclass(frozen=True)
class Calendar:
    time_zone: ZoneInfo
    slots: tuple[tuple[Slot, ...], ...] | None  # per weekday, Monday first; None = always open
    holidays: frozenset[date]

    @property
    def always_open(self) -> bool:
        return self.slots is None


def _minutes(value: str, what: str) -> int:
    if not isinstance(value, str) or not _HHMM.match(value):
        raise InvalidInput(
            f"{what}: {value!r} is not a time like 08:00", f"{what}: {value!r} — це не час на зразок 08:00"
        )
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def parse_schedule(raw: Mapping[str, Any] | None) -> tuple[tuple[Slot, ...], ...] | None:
    """Validates a schedule as it is stored and given through the API; raises InvalidInput with the reason."""
    if raw is None:
        return None
    unknown = set(raw) - set(DAYS)
    if unknown:
        raise InvalidInput(
            f"unknown weekdays {sorted(unknown)}; use {', '.join(DAYS)}",
            f"невідомі дні {sorted(unknown)}; дозволено {', '.join(DAYS)}",
        )
    week: list[tuple[Slot, ...]] = []
    for day in DAYS:
        slots: list[Slot] = []
        for pair in raw.get(day) or []:
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise InvalidInput(f"{day}: a slot is [start, end]", f"{day}: проміжок задається як [початок, кінець]")
            start, end = _minutes(pair[0], day), _minutes(pair[1], day)
            if start == 24 * 60:
                raise InvalidInput(
                    f"{day}: a slot cannot start at 24:00", f"{day}: проміжок не може починатися о 24:00"
                )
            slots.append(Slot(start, end if end > start else end + 24 * 60))
        week.append(tuple(sorted(slots, key=lambda s: s.start)))
    return tuple(week)


def calendar(*, time_zone: str, schedule: Mapping[str, Any] | None, holidays: Collection[date] = ()) -> Calendar:
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInput(f"unknown time zone {time_zone!r}", f"невідомий часовий пояс {time_zone!r}") from error
    return Calendar(time_zone=zone, slots=parse_schedule(schedule), holidays=frozenset(holidays))


def _local_slots(cal: Calendar, day: date) -> list[tuple[datetime, datetime]]:
    """The day's open intervals as aware datetimes (each slot starts on `day`)."""
    if cal.slots is None or day in cal.holidays:
        return []
    midnight = datetime.combine(day, time(0), tzinfo=cal.time_zone)
    # Wall-clock arithmetic through naive local times keeps 08:00 at 08:00 across DST changes.
    naive = midnight.replace(tzinfo=None)
    return [
        (
            (naive + timedelta(minutes=slot.start)).replace(tzinfo=cal.time_zone),
            (naive + timedelta(minutes=slot.end)).replace(tzinfo=cal.time_zone),
        )
        for slot in cal.slots[day.weekday()]
    ]


def is_open(cal: Calendar, at: datetime) -> bool:
    if cal.slots is None:
        return True
    local = at.astimezone(cal.time_zone)
    # Yesterday's night shift may still be running.
    for day in (local.date() - timedelta(days=1), local.date()):
        for start, end in _local_slots(cal, day):
            if start <= local < end:
                return True
    return False


def next_opening(cal: Calendar, at: datetime) -> datetime | None:
    """When the agency next opens after `at` (or `at` itself when open); None if it never does."""
    if is_open(cal, at):
        return at
    local = at.astimezone(cal.time_zone)
    for offset in range(_HORIZON_DAYS):
        for start, _end in _local_slots(cal, local.date() + timedelta(days=offset)):
            if start > local:
                return start
    return None


def is_working_day(cal: Calendar, day: date) -> bool:
    return day not in cal.holidays and (cal.slots is None or bool(cal.slots[day.weekday()]))


def working_days_between(cal: Calendar, earlier: datetime, later: datetime) -> int:
    """Working days after `earlier`'s date up to and including `later`'s date (0 on the same day)."""
    first = earlier.astimezone(cal.time_zone).date()
    last = later.astimezone(cal.time_zone).date()
    count, day = 0, first
    while day < last and count <= 366:
        day += timedelta(days=1)
        count += is_working_day(cal, day)
    return count


def describe(cal: Calendar, language: str) -> str:
    """The hours in one line for a citizen: "пн–пт 08:00–17:00; сб 09:00–13:00"."""
    if cal.slots is None:
        return "цілодобово" if language == "uk" else "24/7"
    names = DAY_NAMES.get(language, DAY_NAMES["en"])
    groups: list[tuple[int, int, tuple[Slot, ...]]] = []
    for index, slots in enumerate(cal.slots):
        if slots and groups and groups[-1][2] == slots and groups[-1][1] == index - 1:
            groups[-1] = (groups[-1][0], index, slots)
        elif slots:
            groups.append((index, index, slots))

    def hhmm(minutes: int) -> str:
        minutes = minutes - 24 * 60 if minutes > 24 * 60 else minutes  # a night shift ends the next day
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    parts = []
    for first, last, slots in groups:
        days = names[first] if first == last else f"{names[first]}–{names[last]}"
        parts.append(f"{days} " + ", ".join(f"{hhmm(s.start)}–{hhmm(s.end)}" for s in slots))
    return "; ".join(parts)
