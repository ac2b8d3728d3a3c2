"""Business days in Brazil: Monday to Friday, minus the national holidays (``holidays`` package).

State and city holidays are not counted (a shop's bank follows the national calendar for boleto
compensation); a channel can add its own dates with the option ``extra_holidays`` (ISO dates).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

BRASILIA = ZoneInfo("America/Sao_Paulo")


@lru_cache(maxsize=64)
def _national(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("BR", years=year).keys())


def is_business_day(day: date, extra: Iterable[date] = ()) -> bool:
    return day.weekday() < 5 and day not in _national(day.year) and day not in set(extra)


def add_business_days(day: date, count: int, extra: Iterable[date] = ()) -> date:
    """The ``count``-th business day after ``day`` (``day`` itself never counts)."""
    extra = frozenset(extra)
    current = day
    remaining = count
    while remaining > 0:
        current += timedelta(days=1)
        if is_business_day(current, extra):
            remaining -= 1
    return current


def payable_until(due: date, extra: Iterable[date] = ()) -> date:
    """The last day a bill due on ``due`` is paid on time: a due date on a weekend or holiday is
    payable on the next business day (FEBRABAN), so that day is the real due date."""
    extra = frozenset(extra)
    current = due
    while not is_business_day(current, extra):
        current += timedelta(days=1)
    return current


def end_of(day: date) -> datetime:
    """The first instant after ``day`` ends in Brasília: things due "by that day" are late from then."""
    return datetime.combine(day + timedelta(days=1), time(0, 0), BRASILIA)


def business_deadline(start: datetime, count: int, extra: Iterable[date] = ()) -> datetime:
    """``start`` plus ``count`` business days, same clock time in Brasília.

    A start on a weekend or holiday counts from the next business day's start.
    """
    local = start.astimezone(BRASILIA)
    day = local.date()
    if not is_business_day(day, extra):
        local = datetime.combine(day, time(0, 0), BRASILIA)
    target = add_business_days(local.date(), count, extra)
    return datetime.combine(target, local.timetz().replace(tzinfo=None), BRASILIA)


def parse_dates(values: Iterable[object]) -> frozenset[date]:
    found = set()
    for value in values or ():
        try:
            found.add(date.fromisoformat(str(value)))
        except ValueError:
            continue
    return frozenset(found)
