"""The demo's simulated shoppers, marketplaces and ERP operator, against the fakes alone."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from malote_dev.sandbox import demo as demo_module
from malote_dev.sandbox import start_fake
from malote_dev.sandbox.demo import DemoDriver
from malote_dev.sandbox.server import FakeKind, RunningFake


@pytest.fixture
def fakes() -> Iterator[dict[str, RunningFake[Any]]]:
    kinds: tuple[FakeKind, ...] = ("jumpseller", "pagarme", "tiny", "skyhub", "mercadolivre", "vtex")
    started: dict[str, RunningFake[Any]] = {kind: start_fake(kind) for kind in kinds}
    try:
        yield started
    finally:
        for fake in started.values():
            fake.stop()


def _driver(fakes: dict[str, RunningFake[Any]], *, marketplaces: bool = True) -> DemoDriver:
    return DemoDriver(
        fakes["jumpseller"],
        fakes["pagarme"],
        fakes["tiny"],
        skyhub=fakes["skyhub"] if marketplaces else None,
        mercadolivre=fakes["mercadolivre"] if marketplaces else None,
        vtex=fakes["vtex"] if marketplaces else None,
        step=0.0,
    )


def _eventually(check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 5
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _tiny_situacoes(tiny: RunningFake[Any]) -> dict[int, str]:
    with tiny.app.lock:
        return {int(p["id"]): p["_situacao"] for p in tiny.state.pedidos.values()}


def test_purchases_take_turns_between_the_store_and_the_marketplaces(
    fakes: dict[str, RunningFake[Any]],
) -> None:
    driver = _driver(fakes)
    store_before = len(fakes["jumpseller"].state.orders)
    skyhub_before, ml_before = len(fakes["skyhub"].state.orders), len(fakes["mercadolivre"].state.orders)
    vtex_before = len(fakes["vtex"].state.orders)
    for _ in range(6):
        driver.purchase()
    try:
        assert len(fakes["jumpseller"].state.orders) == store_before + 3
        assert len(fakes["skyhub"].state.orders) == skyhub_before + 1
        assert len(fakes["mercadolivre"].state.orders) == ml_before + 1
        assert len(fakes["vtex"].state.orders) == vtex_before + 1
        (vtex_id,) = driver.vtex_orders
        assert (
            fakes["vtex"].state.orders[vtex_id]["status"] == "ready-for-handling"
        )  # paid: Malote imports it
        (code,) = driver.skyhub_codes
        (ml_id,) = driver.mercadolivre_orders
        # A step later the marketplace confirms the payment; the Mercado Livre buyer pays.
        assert _eventually(lambda: fakes["skyhub"].state.orders[code]["status"]["code"] == "payment_received")
        assert _eventually(lambda: fakes["mercadolivre"].state.orders[ml_id]["status"] == "paid")
        queued = [entry.code for entry in fakes["skyhub"].state.queue]
        assert code in queued  # Malote learns of it by polling the queue
    finally:
        driver.stop_event.set()
        driver.http.close()


def test_without_marketplaces_every_purchase_is_at_the_store(fakes: dict[str, RunningFake[Any]]) -> None:
    driver = _driver(fakes, marketplaces=False)
    skyhub_before = len(fakes["skyhub"].state.orders)
    store_before = len(fakes["jumpseller"].state.orders)
    for _ in range(3):
        driver.purchase()
    driver.stop_event.set()
    driver.http.close()
    assert len(fakes["jumpseller"].state.orders) == store_before + 3
    assert len(fakes["skyhub"].state.orders) == skyhub_before
    assert set(driver.turns) == {"jumpseller"}


def test_the_tiny_operator_leaves_deliveries_the_marketplace_reports(
    fakes: dict[str, RunningFake[Any]],
) -> None:
    tiny = fakes["tiny"]
    driver = _driver(fakes)
    shipped = next(pid for pid, situacao in _tiny_situacoes(tiny).items() if situacao == "enviado")
    approved = next(pid for pid, situacao in _tiny_situacoes(tiny).items() if situacao == "aprovado")
    with tiny.app.lock:
        pedido = next(p for p in tiny.state.pedidos.values() if int(p["id"]) == shipped)
        pedido["forma_frete"] = "Mercado Envios 2"
    driver.erp_operator()
    assert _tiny_situacoes(tiny)[approved] == "faturado"  # invoiced as before
    assert _tiny_situacoes(tiny)[shipped] == "enviado"  # Mercado Livre reports this delivery
    with tiny.app.lock:
        pedido["forma_frete"] = "Correios SEDEX"
    driver.erp_operator()
    assert _tiny_situacoes(tiny)[shipped] == "entregue"
    driver.http.close()


def test_marketplace_logistics_ship_and_deliver_only_the_drivers_own_orders(
    fakes: dict[str, RunningFake[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    skyhub, ml = fakes["skyhub"], fakes["mercadolivre"]
    driver = _driver(fakes)
    monkeypatch.setattr(demo_module, "SKYHUB_SALES", [("Lojas Americanas", "B2W Entregas")])
    driver.buy_at_skyhub()
    monkeypatch.setattr(demo_module, "SKYHUB_SALES", [("Submarino", "Correios SEDEX")])
    driver.buy_at_skyhub()
    driver.buy_at_mercadolivre()
    by_b2w, by_correios = sorted(driver.skyhub_codes, key=lambda c: not c.startswith("Lojas"))
    (ml_id,) = driver.mercadolivre_orders
    assert _eventually(lambda: ml.state.orders[ml_id]["status"] == "paid")
    shipment_id = ml.state.orders[ml_id]["shipping"]["id"]
    seeded_shipment = next(s["id"] for s in ml.state.shipments.values() if s["order_id"] != ml_id)
    seeded_code = next(
        code
        for code, o in skyhub.state.orders.items()
        if code not in driver.skyhub_codes and o["shipping_method"] == "B2W Entregas"
    )
    with httpx.Client(trust_env=False, timeout=5) as client:
        # The seeded story's orders look just like the driver's, but are not the driver's to move.
        client.post(
            f"{ml.url}/_sandbox/shipments/{seeded_shipment}/status",
            json={"status": "ready_to_ship", "substatus": "ready_to_print"},
        )
        for code in (by_b2w, by_correios, seeded_code):  # Malote reported these shipments
            client.post(
                f"{skyhub.url}/_sandbox/orders/{quote(code, safe='')}/status",
                json={"status": "order_shipped"},
            )
        # Before the NF-e, Mercado Livre does not ship.
        driver.marketplace_logistics()
        assert ml.state.shipments[shipment_id]["status"] != "shipped"
        # The NF-e is in (the label is free): Mercado Livre ships, then delivers.
        client.post(
            f"{ml.url}/_sandbox/shipments/{shipment_id}/status",
            json={"status": "ready_to_ship", "substatus": "ready_to_print"},
        )
    driver.marketplace_logistics()
    assert skyhub.state.orders[by_b2w]["status"]["code"] == "complete"  # B2W Entregas delivers
    assert skyhub.state.orders[by_correios]["status"]["code"] == "order_shipped"  # the seller's carrier
    assert ml.state.shipments[shipment_id]["status"] == "shipped"
    driver.marketplace_logistics()
    assert ml.state.shipments[shipment_id]["status"] == "delivered"
    assert ml.state.shipments[seeded_shipment]["status"] == "ready_to_ship"
    assert skyhub.state.orders[seeded_code]["status"]["code"] == "order_shipped"
    driver.http.close()


def _placed_at_mercadolivre(ml: RunningFake[Any], driver: DemoDriver) -> list[list[str]]:
    """What the driver sold at Mercado Livre, oldest first: the SKUs of each sale (a pack: its orders')."""
    with ml.app.lock:
        orders = sorted((ml.state.orders[i] for i in driver.mercadolivre_orders), key=lambda o: o["id"])
        sales: dict[Any, list[str]] = {}
        for order in orders:
            sales.setdefault(order["pack_id"] or order["id"], []).extend(
                line["item"]["seller_sku"] for line in order["order_items"]
            )
    return list(sales.values())


def test_every_other_mercadolivre_sale_is_a_cart_of_two_orders_in_one_pack(
    fakes: dict[str, RunningFake[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    ml = fakes["mercadolivre"]
    driver = _driver(fakes)
    later: list[str] = []
    monkeypatch.setattr(driver, "_later", later.append)  # the steps run when the test says so
    packs_before = set(ml.state.packs)
    driver.buy_at_mercadolivre()
    assert set(ml.state.packs) == packs_before, "the first sale is a single order"
    (single,) = driver.mercadolivre_orders
    assert ml.state.orders[single]["pack_id"] is None
    driver.buy_at_mercadolivre()
    (pack_id,) = set(ml.state.packs) - packs_before
    pack = ml.state.packs[pack_id]
    cart = [ml.state.orders[entry["id"]] for entry in pack["orders"]]
    assert len(cart) == 2 and {o["id"] for o in cart} | {single} == driver.mercadolivre_orders
    assert {o["shipping"]["id"] for o in cart} == {pack["shipment"]["id"]}, "one shipment for the cart"
    skus = [line["item"]["seller_sku"] for o in cart for line in o["order_items"]]
    assert len(skus) == len(set(skus)) == 2, "two different products, one of each"
    assert [o["status"] for o in cart] == ["payment_required"] * 2, "paid a step later"
    with httpx.Client(trust_env=False, timeout=5) as client:
        for url in later:
            client.post(url, json={})
        assert [o["status"] for o in cart] == ["paid"] * 2
        shipment = ml.state.shipments[pack["shipment"]["id"]]
        assert (shipment["status"], shipment["substatus"]) == ("ready_to_ship", "invoice_pending")
        # Malote uploaded the pack's one NF-e: Mercado Livre ships the cart, then delivers it.
        client.post(
            f"{ml.url}/_sandbox/shipments/{shipment['id']}/status",
            json={"status": "ready_to_ship", "substatus": "ready_to_print"},
        )
    driver.marketplace_logistics()
    assert shipment["status"] == "shipped"
    driver.marketplace_logistics()
    assert shipment["status"] == "delivered"
    driver.http.close()


def test_the_demos_mercadolivre_sales_are_the_same_on_every_run(
    fakes: dict[str, RunningFake[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = []
    for _run in range(2):
        driver = _driver(fakes)
        monkeypatch.setattr(driver, "_later", lambda url: None)  # nobody pays: not needed here
        for _ in range(4 * len(driver.turns)):
            driver.purchase()
        driver.http.close()
        runs.append(_placed_at_mercadolivre(fakes["mercadolivre"], driver))
    assert runs[0] == runs[1]
    assert [len(skus) for skus in runs[0]] == [1, 2, 1, 2], "every other sale is a cart of two"
