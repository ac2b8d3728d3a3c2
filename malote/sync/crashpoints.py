"""Named points where a worker can be made to die with SIGKILL, for the crash tests.

``MALOTE_CRASH_AT=<point>`` in a worker's environment kills it (``kill -9`` of itself) the first
time it reaches that point; unset, ``reach`` costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

POINTS = ("after_claim", "after_remote_call", "during_commit")


def reach(point: str) -> None:
    if os.environ.get("MALOTE_CRASH_AT") == point:
        os.kill(os.getpid(), signal.SIGKILL)
