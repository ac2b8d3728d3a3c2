"""A whole process on another day, for proving the suite does not depend on the calendar."""

from __future__ import annotations

import os
from datetime import datetime

import time_machine

_travellers: list[time_machine.travel] = []


def travel_from_environment() -> None:
    """Move this process's clock to ``MALOTE_TEST_CLOCK`` (ISO 8601, with an offset), ticking from
    there; a second call in the same process does nothing."""
    if _travellers:
        return
    moment = datetime.fromisoformat(os.environ["MALOTE_TEST_CLOCK"])
    if moment.tzinfo is None:
        raise ValueError("MALOTE_TEST_CLOCK needs an offset, e.g. 2027-11-15T10:00:00-03:00")
    traveller = time_machine.travel(moment, tick=True)
    traveller.start()
    _travellers.append(traveller)
