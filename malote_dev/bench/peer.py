"""The peer's version of one delivery: a ``django-tasks`` task POSTing to the sink with the same
HTTP code Malote's ``http`` handler uses, so only the queue machinery differs."""

from __future__ import annotations

from django_tasks import task

from malote.sync.http import post_json


@task()
def deliver_to_sink(url: str, key: str, seq: int) -> None:
    post_json(url, {"key": key, "seq": seq}, {"Malote-Key": key})
