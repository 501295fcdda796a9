"""Working hours in the agency's time zone: night shifts across midnight, holidays, DST, and the
conversation that arrives when the agency is closed."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from civdesk.agency import hours
from civdesk.core.errors import InvalidInput
from tests.routing.desk import Desk

KYIV = ZoneInfo("Europe/Kyiv")
WEEKDAYS = {day: [["08:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=KYIV)


def test_weekday_hours_and_the_next_opening() -> None:
    cal = hours.calendar(time_zone="Europe/Kyiv", schedule=WEEKDAYS)
    assert hours.is_open(cal, at(2026, 11, 30, 8, 0))  # Monday 08:00
    assert not hours.is_open(cal, at(2026, 11, 30, 17, 0))  # the end is exclusive
    assert hours.next_opening(cal, at(2026, 11, 27, 18, 30)) == at(2026, 11, 30, 8, 0)  # Friday evening → Monday
    assert hours.next_opening(cal, at(2026, 11, 30, 9, 0)) == at(2026, 11, 30, 9, 0)  # open now


def test_a_night_shift_runs_across_midnight() -> None:
    cal = hours.calendar(time_zone="Europe/Kyiv", schedule={"fri": [["22:00", "06:00"]]})
    assert hours.is_open(cal, at(2026, 11, 27, 23, 30))  # Friday night
    assert hours.is_open(cal, at(2026, 11, 28, 5, 59))  # still Friday's shift, on Saturday morning
    assert not hours.is_open(cal, at(2026, 11, 28, 6, 0))
    assert not hours.is_open(cal, at(2026, 11, 27, 5, 0))  # Friday morning is Thursday's (none)
    assert hours.next_opening(cal, at(2026, 11, 28, 7, 0)) == at(2026, 12, 4, 22, 0)
    assert hours.describe(cal, "uk") == "пт 22:00–06:00"


def test_a_holiday_closes_the_day_and_is_not_a_working_day() -> None:
    christmas = date(2026, 12, 25)  # a Friday
    cal = hours.calendar(time_zone="Europe/Kyiv", schedule=WEEKDAYS, holidays=[christmas])
    assert not hours.is_open(cal, at(2026, 12, 25, 10, 0))
    assert hours.next_opening(cal, at(2026, 12, 24, 18, 0)) == at(2026, 12, 28, 8, 0)
    # Thursday 24th → Monday 28th is one working day (the 28th), Friday being a holiday.
    assert hours.working_days_between(cal, at(2026, 12, 24, 12, 0), at(2026, 12, 28, 12, 0)) == 1
    assert hours.describe(cal, "en") == "Mon–Fri 08:00–17:00"


def test_daylight_saving_keeps_the_wall_clock() -> None:
    cal = hours.calendar(time_zone="Europe/Kyiv", schedule={"sun": [["08:00", "17:00"]]})
    # 2027-03-28 is the Sunday clocks go forward in Kyiv: still 08:00 local.
    opening = hours.next_opening(cal, at(2027, 3, 27, 12, 0))
    assert opening is not None and opening.astimezone(KYIV).hour == 8


@pytest.mark.parametrize(
    "schedule",
    [{"monday": [["08:00", "17:00"]]}, {"mon": [["8", "17:00"]]}, {"mon": [["08:00"]]}, {"mon": [["24:00", "01:00"]]}],
)
def test_a_wrong_schedule_is_refused_with_the_reason(schedule: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        hours.parse_schedule(schedule)


async def test_outside_hours_the_citizen_is_told_the_hours_and_waits_in_order(desk: Desk) -> None:
    # Closed every day but a slot that has just ended: nothing is open now.
    await desk.configure(default_strategy="balanced", working_hours={"sun": [["00:00", "00:01"]]}, time_zone="UTC")
    await desk.topic("subsidies", "Субсидії", keywords=["субсид"])
    await desk.agent("olena", topics=["subsidies"], capacity=5)
    first = await desk.write("c1", "субсидія")
    second = await desk.write("c2", "субсидія")
    await desk.fire()
    assert await desk.assignee(first) is None and await desk.assignee(second) is None
    [notice] = await desk.told(first)
    assert "неробочий час" in notice and "нд 00:00–00:01" in notice and "UTC" in notice

    await desk.configure(working_hours=None)  # opening time: the queue drains, first come first served
    await desk.fire()
    assert await desk.assignee(first) == "olena" and await desk.assignee(second) == "olena"
    decisions = [await desk.decisions(c) for c in (first, second)]
    assert decisions[0][-1].created_at <= decisions[1][-1].created_at
