"""Settings for the delivery benchmark only: Malote's own plus the ``django-tasks-db`` peer.

The peer is not part of Malote's delivery path (no task library is); it is installed here so
the same workload can be measured through it in the same run.
"""

from malote_dev.settings import *  # noqa: F403
from malote_dev.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks", "django_tasks_db"]
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
