"""The API's periodic job: prune expired ``Idempotency-Key`` records.

The rows and the pruning belong to ``malote.accounts.idempotency``; the job is registered here
because ``accounts`` sits below ``sync`` (which runs schedules) and may not import it.

The ``Schedule`` row ``api:prune_idempotency`` (hourly) is created once there can be something to
prune: when the first API token is issued, and after a migrate that finds tokens or records (an
upgraded install). An instance without tokens has no schedule, so the schedule tests of other
apps see only their own rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from malote.accounts import idempotency
from malote.accounts.models import ApiToken, IdempotencyRecord
from malote.sync.models import Schedule

PRUNE_JOB = "api.prune_idempotency"
PRUNE_SCHEDULE = "api:prune_idempotency"
PRUNE_INTERVAL = 3600


def prune_idempotency_job(schedule: Schedule, slot: datetime) -> str:
    return f"pruned {idempotency.prune()} expired idempotency records"


def ensure_prune_schedule() -> Schedule:
    """Create the prune schedule once; an operator's later changes to it (interval, disabled) stay."""
    schedule, _ = Schedule.objects.get_or_create(
        name=PRUNE_SCHEDULE, defaults={"job": PRUNE_JOB, "interval_seconds": PRUNE_INTERVAL, "enabled": True}
    )
    return schedule


def ensure_prune_schedule_after_migrate(sender: Any, **kwargs: Any) -> None:
    # The API app has no models, so it gets no post_migrate of its own: follow the table's app.
    if kwargs.get("using", "default") != "default" or getattr(sender, "label", "") != "accounts":
        return
    if ApiToken.objects.exists() or IdempotencyRecord.objects.exists():
        ensure_prune_schedule()


def ensure_prune_schedule_after_token_issued(
    sender: Any, instance: ApiToken, created: bool = False, raw: bool = False, **kwargs: Any
) -> None:
    if created and not raw:
        ensure_prune_schedule()
