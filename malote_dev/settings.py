"""Settings for ``make run``, the tests and the benchmarks: the product's settings plus the workshop.

``MALOTE_TEST_CLOCK`` (an ISO date-time) moves this process's clock there, ticking, before anything
else runs; every process started with these settings (gunicorn, ``malote worker``) inherits it, so a
whole suite can be run on another day (``make test-clock``).
"""

import os

from malote.settings import *  # noqa: F403
from malote.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "malote_dev"]

if os.environ.get("MALOTE_TEST_CLOCK"):
    from malote_dev.clock import travel_from_environment

    travel_from_environment()
