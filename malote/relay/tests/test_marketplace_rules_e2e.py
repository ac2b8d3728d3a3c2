"""The marketplace channel rules (docs/channel-rules.md) proven end to end: connectors talk to the SkyHub,
Mercado Livre, Jumpseller and Tiny fakes over real HTTP; what the fakes report comes in through
the real intake (the channels' poll job); the outbox is delivered by the worker's drain.

Each rule with its allowed and its forbidden case:
- invoice needs XML (Mercado Livre): the bare key is not sent; the XML, once attached, is
  uploaded exactly once; the ERP hears of the invoice at once;
- invoice waits for shipment (SkyHub's Magalu, Carrefour, Amazon, Zoom, Mercado Livre): the key
  reaches SkyHub only after the shipment; Lojas Americanas and "Mercado Envios Coleta" at once;
- delivery from the channel (B2W Entregas, Mercado Envios 2): never pushed, taken from the
  channel, passed on to the ERP and the customer once; a Correios order's delivery is pushed;
- multi-channel stock: one unit sold on three channels at once is reserved once and every
  channel's own stock reaches 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from malote.conftest import SYSTEM, ApiClient
from malote.notify.models import SentEmail
from malote.orders import actions
from malote.orders.models import Order
from malote.relay.tests.e2e import (
    channel_of,
    connect,
    control,
    deliver_all,
    invoice_input,
    invoice_xml,
    order_of,
    paths,
    poll,
    run,
    running,
    skyhub_headers,
    tiny_pedido,
)
from malote.stock.actions import set_physical
from malote.stock.models import StockItem
from malote.sync.models import OutboxMessage
from malote_dev.sandbox.server import RunningFake
from malote_dev.testing.notify import SmtpSink

pytestmark = pytest.mark.django_db

SKU = "CHINELO-42"
SHIP = {"carrier": "correios", "method": "SEDEX", "tracking_code": "AA123456785BR"}


@pytest.fixture
def tiny(db: None) -> Any:
    with running("tiny") as fake:
        connect(fake, "tiny")
        yield fake


@pytest.fixture
def skyhub(db: None) -> Any:
    with running("skyhub") as fake:
        connect(fake, "skyhub")
        yield fake


@pytest.fixture
def mercadolivre(db: None) -> Any:
    with running("mercadolivre") as fake:
        connect(fake, "mercadolivre", invoice_needs_xml=True)
        yield fake


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpSink]:
    """A real SMTP server as the customers' mailbox (as ``malote/notify/tests/conftest.py``)."""
    sink = SmtpSink()
    sink.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", sink.port, 5
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(autouse=True)
def stock(db: None) -> None:
    set_physical(SKU, 20, actor=SYSTEM)


# --- helpers -----------------------------------------------------------------------------------


def skyhub_sale(skyhub: RunningFake[Any], marketplace: str, method: str) -> tuple[str, Order]:
    """A paid sale at a SkyHub sub-channel, imported through the queue."""
    placed = control(
        skyhub,
        "POST",
        "/_sandbox/orders",
        {
            "channel": marketplace,
            "shipping_method": method,
            "status": "payment_received",
            "items": [{"sku": SKU, "qty": 1}],
        },
    )["order"]
    poll(channel_of(skyhub))
    order = order_of(channel_of(skyhub), placed["code"])
    assert (order.status, order.marketplace, order.shipping_method) == ("paid", marketplace, method)
    deliver_all()
    return placed["code"], order


def skyhub_order(skyhub: RunningFake[Any], code: str) -> dict[str, Any]:
    with skyhub.app.lock:
        return dict(skyhub.state.orders[code])


def skyhub_writes(skyhub: RunningFake[Any], code: str) -> list[str]:
    """The write endpoints SkyHub received for the order, in order (``invoice``, ``shipments``…)."""
    prefix = "/orders/" + code.replace(" ", "%20") + "/"
    found = [p.rsplit("/", 1)[1] for p in paths(skyhub, "POST", prefix)]
    if not found:  # the call log may keep the decoded path
        found = [p.rsplit("/", 1)[1] for p in paths(skyhub, "POST", f"/orders/{code}/")]
    return found


def ml_sale(mercadolivre: RunningFake[Any], logistic_type: str = "drop_off") -> tuple[dict[str, Any], Order]:
    """A paid ME2 sale at Mercado Livre, imported by the poll."""
    bought = control(
        mercadolivre,
        "POST",
        "/_sandbox/orders",
        {"items": [{"sku": SKU, "qty": 1}], "mode": "me2", "logistic_type": logistic_type},
    )
    poll(channel_of(mercadolivre))
    order = order_of(channel_of(mercadolivre), str(bought["order"]["id"]))
    assert order.status == "paid"
    deliver_all()
    return bought, order


def ml_uploads(mercadolivre: RunningFake[Any], shipment_id: int) -> int:
    return len(paths(mercadolivre, "POST", f"/shipments/{shipment_id}/invoice_data"))


def ml_invoice(mercadolivre: RunningFake[Any], shipment_id: int) -> Any:
    with mercadolivre.app.lock:
        return mercadolivre.state.invoices.get(shipment_id)


# --- 1. invoice needs XML (Mercado Livre) -------------------------------------------------------


def test_mercado_livre_gets_the_invoice_only_as_xml_exactly_once(
    mercadolivre: RunningFake[Any], tiny: RunningFake[Any], api: ApiClient
) -> None:
    bought, order = ml_sale(mercadolivre)
    shipment_id = int(bought["shipment"]["id"])
    assert tiny_pedido(tiny, order.number)["_situacao"] == "aprovado", "the ERP got the paid order"

    data = invoice_input(order, 811)
    order = run(order, "invoice", data)
    deliver_all()
    # Forbidden: the bare key never goes to ML (nor is tried: no dead letter, no refusal there).
    assert ml_uploads(mercadolivre, shipment_id) == 0
    assert ml_invoice(mercadolivre, shipment_id) is None
    assert api.get(f"/api/v1/orders/{order.pk}").json()["invoice_xml_pending"] is True
    # Allowed: the ERP hears of the invoice at once.
    assert tiny_pedido(tiny, order.number)["_situacao"] == "faturado"

    xml = invoice_xml(order, data["key"])
    answer = api.post(f"/api/v1/orders/{order.pk}/invoice/xml", {"xml": xml})
    assert answer.status_code == 200, answer.content
    assert answer.json()["invoice_xml_pending"] is False
    deliver_all()
    assert ml_uploads(mercadolivre, shipment_id) == 1
    assert actions.attach_invoice_xml(order.pk, xml, actor=SYSTEM).applied is False
    assert api.post(f"/api/v1/orders/{order.pk}/invoice/xml", {"xml": xml}).status_code == 200
    deliver_all()
    assert ml_uploads(mercadolivre, shipment_id) == 1, "attached twice: still one upload"
    stored = ml_invoice(mercadolivre, shipment_id)
    assert stored is not None and stored["fiscal_key"] == data["key"]


# --- 2. invoice waits for shipment (SkyHub sub-channels) ----------------------------------------


@pytest.mark.parametrize("marketplace", ["Magazine Luiza", "Carrefour", "Amazon", "Zoom", "Mercado Livre"])
def test_skyhub_gets_the_key_only_after_the_shipment_for_these_marketplaces(
    skyhub: RunningFake[Any], marketplace: str
) -> None:
    code, order = skyhub_sale(skyhub, marketplace, "Correios SEDEX")
    order = run(order, "invoice", invoice_input(order, 821, with_xml=True))
    deliver_all()
    assert skyhub_writes(skyhub, code) == [], "Malote invoiced; SkyHub must not get the key yet"
    assert skyhub_order(skyhub, code)["invoices"] == []

    run(order, "ship", SHIP)
    deliver_all()
    assert skyhub_writes(skyhub, code) == ["shipments", "invoice"]
    there = skyhub_order(skyhub, code)
    assert [i["key"] for i in there["invoices"]] == [order.invoices.get().key]
    assert there["status"]["code"] == "order_shipped", "the late key does not move SkyHub back"


@pytest.mark.parametrize(
    ("marketplace", "method"),
    [("Lojas Americanas", "B2W Entregas"), ("Mercado Livre", "Mercado Envios Coleta")],
)
def test_skyhub_gets_the_key_at_once_for_the_others(
    skyhub: RunningFake[Any], marketplace: str, method: str
) -> None:
    code, order = skyhub_sale(skyhub, marketplace, method)
    order = run(order, "invoice", invoice_input(order, 822, with_xml=True))
    deliver_all()
    assert skyhub_writes(skyhub, code) == ["invoice"]
    there = skyhub_order(skyhub, code)
    assert [i["key"] for i in there["invoices"]] == [order.invoices.get().key]
    assert there["status"]["code"] == "order_invoiced"
    # Mercado Livre via SkyHub takes the NF-e as its XML (multipart); the others the bare key.
    assert bool(there.get("_invoice_xml")) is (marketplace == "Mercado Livre")
    run(order, "ship", SHIP)
    deliver_all()
    assert skyhub_writes(skyhub, code) == ["invoice", "shipments"], "the key is not sent twice"


def test_mercado_livre_via_skyhub_without_xml_gets_the_invoice_when_both_shipment_and_xml_exist(
    skyhub: RunningFake[Any], api: ApiClient
) -> None:
    code, order = skyhub_sale(skyhub, "Mercado Livre", "Correios SEDEX")
    data = invoice_input(order, 823)
    order = run(order, "invoice", data)
    order = run(order, "ship", SHIP)
    deliver_all()
    assert skyhub_writes(skyhub, code) == ["shipments"], "shipped, but the invoice still lacks its XML"
    assert api.get(f"/api/v1/orders/{order.pk}").json()["invoice_xml_pending"] is True
    answer = api.post(f"/api/v1/orders/{order.pk}/invoice/xml", {"xml": invoice_xml(order, data["key"])})
    assert answer.status_code == 200, answer.content
    deliver_all()
    assert skyhub_writes(skyhub, code) == ["shipments", "invoice"]
    there = skyhub_order(skyhub, code)
    assert [i["key"] for i in there["invoices"]] == [data["key"]] and there.get("_invoice_xml")
    assert there["status"]["code"] == "order_shipped"


# --- 3. delivery from the channel ---------------------------------------------------------------


def delivered_emails(order: Order) -> int:
    return SentEmail.objects.filter(order=order, status="delivered").count()


def test_a_b2w_entregas_delivery_comes_from_skyhub_and_is_never_pushed(
    skyhub: RunningFake[Any], tiny: RunningFake[Any], smtp: SmtpSink
) -> None:
    code, order = skyhub_sale(skyhub, "Lojas Americanas", "B2W Entregas")
    order = run(order, "invoice", invoice_input(order, 831))
    order = run(order, "ship", SHIP)
    deliver_all()
    assert skyhub_writes(skyhub, code) == ["invoice", "shipments"]

    control(skyhub, "POST", "/_sandbox/clock", {"advance": 2 * 86400})  # two days on the road
    control(skyhub, "POST", f"/_sandbox/orders/{code}/deliver")  # B2W Entregas reports it; queued
    poll(channel_of(skyhub))
    order.refresh_from_db()
    assert order.status == "delivered"
    deliver_all()
    poll(channel_of(skyhub))  # nothing new in the queue: no second delivery
    deliver_all()
    assert "delivery" not in skyhub_writes(skyhub, code), "Malote never pushes this delivery"
    assert skyhub_order(skyhub, code)["status"]["code"] == "complete"
    assert tiny_pedido(tiny, order.number)["_situacao"] == "entregue", "the ERP hears of it"
    assert delivered_emails(order) == 1
    assert sum("entregue" in str(m["Subject"]).lower() for m in smtp.messages) == 1


def test_a_correios_delivery_is_pushed_to_skyhub(skyhub: RunningFake[Any], tiny: RunningFake[Any]) -> None:
    code, order = skyhub_sale(skyhub, "Lojas Americanas", "Correios SEDEX")
    order = run(order, "invoice", invoice_input(order, 832))
    order = run(order, "ship", SHIP)
    order = run(order, "deliver", {"delivered_at": order.status_changed_at.isoformat()})
    deliver_all()
    assert skyhub_writes(skyhub, code) == ["invoice", "shipments", "delivery"]
    assert skyhub_order(skyhub, code)["status"]["code"] == "complete"
    assert tiny_pedido(tiny, order.number)["_situacao"] == "entregue"


def test_a_mercado_envios_2_delivery_comes_from_mercado_livre_and_is_never_pushed(
    mercadolivre: RunningFake[Any], tiny: RunningFake[Any]
) -> None:
    bought, order = ml_sale(mercadolivre)
    assert order.shipping_method == "Mercado Envios 2"
    shipment_id = int(bought["shipment"]["id"])
    order = run(order, "invoice", invoice_input(order, 833, with_xml=True))
    deliver_all()
    assert ml_uploads(mercadolivre, shipment_id) == 1

    control(mercadolivre, "POST", f"/_sandbox/shipments/{shipment_id}/status", {"status": "shipped"})
    poll(channel_of(mercadolivre))
    order.refresh_from_db()
    assert order.status == "shipped"
    control(mercadolivre, "POST", f"/_sandbox/shipments/{shipment_id}/status", {"status": "delivered"})
    poll(channel_of(mercadolivre))
    order.refresh_from_db()
    assert order.status == "delivered"
    deliver_all()
    poll(channel_of(mercadolivre))
    deliver_all()
    assert paths(mercadolivre, "POST", f"/shipments/{shipment_id}/seller_notifications") == []
    assert paths(mercadolivre, "PUT", f"/shipments/{shipment_id}") == []
    assert tiny_pedido(tiny, order.number)["_situacao"] == "entregue"
    # ML hides the buyer's e-mail (the fake, like the API, exposes none): no customer e-mail at all.
    assert order.customer_email == ""
    assert not OutboxMessage.objects.filter(order=order, destination="email:customer").exists()


# --- 5. one unit sold on three channels at once -------------------------------------------------


def test_the_last_unit_sold_on_three_channels_is_reserved_once_and_every_channel_hears_zero() -> None:
    set_physical(SKU, 1, actor=SYSTEM)
    with running("jumpseller", seed=True) as store, running("skyhub") as hub, running("mercadolivre") as ml:
        with store.app.lock:
            last_id = max(store.state.orders, default=0)
            [product_id] = [pid for pid, p in store.state.products.items() if p["sku"] == SKU]
        loja = connect(store, "loja", options={"push_stock": True, "pull_after_id": last_id})
        skyhub = connect(hub, "skyhub", options={"push_stock": True})
        mercadolivre = connect(ml, "mercadolivre", invoice_needs_xml=True, options={"push_stock": True})
        # The SKU listed in each channel (SkyHub: a variation of a product; ML: a listing).
        created = httpx.post(
            f"{hub.api_url}/products",
            headers=skyhub_headers(hub),
            json={"product": {"sku": "CHINELO", "name": "Chinelo", "price": 49.9,
                              "variations": [{"sku": SKU, "qty": 5}, {"sku": "CHINELO-40", "qty": 3}]}},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        listing = httpx.post(
            f"{ml.api_url}/items",
            headers={"Authorization": f"Bearer {ml.credentials['access_token']}"},
            json={"title": "Chinelo de praia 42", "price": 49.9, "available_quantity": 5,
                  "seller_custom_field": SKU},
        ).json()  # fmt: skip

        control(store, "POST", "/_sandbox/orders", {"items": [{"sku": SKU, "qty": 1}], "status": "paid"})
        control(
            hub, "POST", "/_sandbox/orders", {"items": [{"sku": SKU, "qty": 1}], "status": "payment_received"}
        )
        control(ml, "POST", "/_sandbox/orders", {"items": [{"sku": SKU, "qty": 1}]})
        for channel in (loja, skyhub, mercadolivre):
            poll(channel)
        orders = {o.channel.code: o.status for o in Order.objects.select_related("channel")}
        assert sorted(orders.values()) == ["out_of_stock", "out_of_stock", "paid"], orders
        assert orders["loja"] == "paid", "the first imported takes the unit"
        stock = StockItem.objects.get(sku=SKU)
        assert (stock.physical, stock.reserved) == (1, 1)
        deliver_all()

        with store.app.lock:
            assert store.state.products[product_id]["stock"] == 0
        with hub.app.lock:
            variations = {v["sku"]: v["qty"] for v in hub.state.products["CHINELO"]["variations"]}
        assert variations == {SKU: 0, "CHINELO-40": 3}, "only the SKU's variation changes"
        with ml.app.lock:
            item = dict(ml.state.items[listing["id"]])
        assert (item["available_quantity"], item["status"]) == (0, "paused")
        # Each channel got exactly one stock write for the SKU (pushes coalesce; a repeat writes nothing).
        assert len(hub.calls.filter("PUT", f"/variations/{SKU}")) == 1
        assert len(ml.calls.filter("PUT", f"/items/{listing['id']}")) == 1
