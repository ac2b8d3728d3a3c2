"""Time helpers and the date formats each vendor writes.

Brasília time is a fixed -03:00 (Brazil has had no daylight saving time since 2019).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

BRASILIA = timezone(timedelta(hours=-3), "BRT")


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def brasilia_now() -> datetime:
    return utc_now().astimezone(BRASILIA)


def jumpseller_time(moment: datetime) -> str:
    """``2023-02-10 13:56:35 UTC``, as in Jumpseller's webhook example."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_utc(moment: datetime) -> str:
    """``2023-02-10T13:56:35Z`` (Pagar.me)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def br_date(moment: datetime | date) -> str:
    """``dd/mm/yyyy`` in Brasília time (Tiny)."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(BRASILIA).date()
    return moment.strftime("%d/%m/%Y")


def br_datetime(moment: datetime) -> str:
    """``dd/mm/yyyy hh:mm:ss`` in Brasília time (Tiny)."""
    return moment.astimezone(BRASILIA).strftime("%d/%m/%Y %H:%M:%S")


def parse_br_date(text: str) -> date:
    """Parse ``dd/mm/yyyy``; raises ``ValueError``."""
    return datetime.strptime(text.strip(), "%d/%m/%Y").date()


def parse_br_datetime(text: str) -> datetime:
    """Parse ``dd/mm/yyyy hh:mm:ss`` (or a bare date) as Brasília time; raises ``ValueError``."""
    text = text.strip()
    for layout in ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, layout).replace(tzinfo=BRASILIA)
        except ValueError:
            continue
    raise ValueError(f"expected dd/mm/yyyy hh:mm:ss, got {text!r}")


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 date or date-time (``Z`` allowed); naive values are taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
