"""However a channel is saved, its reconciliation schedule follows it (created, enabled, disabled)."""

from __future__ import annotations

import pytest

from malote.channels.models import Channel, ChannelRole
from malote.sync.models import Schedule

pytestmark = pytest.mark.django_db


def test_a_new_channel_that_lists_orders_gets_an_enabled_schedule() -> None:
    tiny = Channel.objects.create(code="tiny", name="Tiny", role=ChannelRole.ERP, kind="tiny")
    schedule = Schedule.objects.get(name="reconcile:integration:tiny")
    assert schedule.enabled and schedule.channel == tiny
    assert Schedule.objects.filter(name="reconcile:stuck").exists()


def test_disabling_the_channel_disables_its_schedule() -> None:
    tiny = Channel.objects.create(code="tiny", name="Tiny", role=ChannelRole.ERP, kind="tiny")
    tiny.enabled = False
    tiny.save()
    assert not Schedule.objects.get(name="reconcile:integration:tiny").enabled


def test_a_channel_that_cannot_list_orders_gets_no_enabled_schedule() -> None:
    Channel.objects.create(code="shop", name="Manual", role=ChannelRole.STOREFRONT, kind="manual")
    assert not Schedule.objects.filter(name="reconcile:integration:shop").exists()


def test_a_gateway_without_a_listing_api_gets_no_listing_schedule() -> None:
    Channel.objects.create(code="adyen", name="Adyen", role=ChannelRole.GATEWAY, kind="adyen")
    assert not Schedule.objects.filter(name="reconcile:integration:adyen").exists()


def test_a_listing_that_turns_out_unsupported_is_reported_not_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import datetime

    from malote.connectors.base import Unsupported
    from malote.reconcile import integration, jobs

    tiny = Channel.objects.create(code="tiny", name="Tiny", role=ChannelRole.ERP, kind="tiny")

    def unsupported(*args: object, **kwargs: object) -> None:
        raise Unsupported

    monkeypatch.setattr(integration, "check", unsupported)
    schedule = Schedule.objects.get(name="reconcile:integration:tiny")
    assert jobs.integration_job(schedule, datetime.now()) == "tiny does not list orders: nothing compared"
    assert tiny.enabled
