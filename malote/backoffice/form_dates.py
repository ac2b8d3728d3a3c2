"""Dates and times as Brazilian operators type them, read in the shop's time zone.

Accepted: ``dd/mm/aaaa hh:mm`` (also ``hh:mm:ss``, ``hhhmm`` and ``-`` or ``.`` between the date's
parts), ``dd/mm/aaaa`` (midnight), what a ``datetime-local`` input sends
(``aaaa-mm-ddThh:mm[:ss]``) and ISO 8601 with an offset. Times without an offset are in the
current time zone (America/Sao_Paulo by default).
"""

from __future__ import annotations

import re
from datetime import datetime

from django.utils import timezone

DISPLAY_FORMAT = "%d/%m/%Y %H:%M"
_BRAZILIAN = re.compile(
    r"(?P<day>\d{1,2})[/.-](?P<month>\d{1,2})[/.-](?P<year>\d{4})"
    r"(?:[\sT,]+(?P<hour>\d{1,2})(?:[:h](?P<minute>\d{2})(?::(?P<second>\d{2}))?)?h?)?"
)


def parse(text: str) -> datetime | None:
    """The moment ``text`` names (timezone-aware), or ``None`` when it is no date this form reads."""
    value = " ".join(text.split())
    if not value:
        return None
    match = _BRAZILIAN.fullmatch(value)
    try:
        if match:
            parts = {k: int(v) for k, v in match.groupdict().items() if v is not None}
            moment = datetime(
                parts["year"],
                parts["month"],
                parts["day"],
                parts.get("hour", 0),
                parts.get("minute", 0),
                parts.get("second", 0),
            )
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if timezone.is_naive(moment):
        try:
            moment = timezone.make_aware(moment, timezone.get_current_timezone())
        except (OverflowError, ValueError):
            return None
    return moment


def display(moment: datetime, *, seconds: bool = False) -> str:
    """``dd/mm/aaaa hh:mm`` (or with ``:ss``) in the current time zone."""
    local = timezone.localtime(moment)
    return local.strftime(DISPLAY_FORMAT + (":%S" if seconds else ""))


def has_seconds(text: str) -> bool:
    """Whether the typed time carries seconds (``hh:mm:ss``), i.e. is more precise than a minute."""
    return bool(re.search(r"\d{1,2}:\d{2}:\d{2}", text))
