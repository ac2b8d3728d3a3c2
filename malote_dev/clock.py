"""A whole process tree on another day, for proving the suite does not depend on the calendar."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta

import time_machine

_travellers: list[time_machine.travel] = []


def travel_from_environment() -> None:
    """Move this process's clock to ``MALOTE_TEST_CLOCK`` (ISO 8601, with an offset), ticking.

    The first process records the real moment it moved (``MALOTE_TEST_CLOCK_ORIGIN``, inherited by
    the processes it starts); a later process moves to the same shifted time line, not back to its
    start, so a lease taken by one worker process expires on time for the next. A second call in
    the same process does nothing."""
    if _travellers:
        return
    target = datetime.fromisoformat(os.environ["MALOTE_TEST_CLOCK"])
    if target.tzinfo is None:
        raise ValueError("MALOTE_TEST_CLOCK needs an offset, e.g. 2027-11-15T10:00:00-03:00")
    origin = float(os.environ.setdefault("MALOTE_TEST_CLOCK_ORIGIN", repr(time.time())))
    traveller = time_machine.travel(target + timedelta(seconds=time.time() - origin), tick=True)
    traveller.start()
    _travellers.append(traveller)
