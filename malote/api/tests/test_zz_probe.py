import json
import pytest
from malote.api.tests.helpers import ORDERS, order_data, transition_url
pytestmark = pytest.mark.django_db

CASES = {
    "deep_list": b"[" * 100000 + b"]" * 100000,
    "deep_obj": b'{"a":' * 50000 + b"1" + b"}" * 50000,
    "deep_500": b"[" * 500 + b"]" * 500,
    "bigint": b'{"total": ' + b"9" * 5000 + b"}",
    "bigint_qty": json.dumps({**order_data(), "items": [{"sku": "A", "name": "b", "quantity": 10**5000 if False else 1, "unit_price": "1.00"}]}).encode(),
    "nan": b'{"total": NaN}',
    "nul": json.dumps(order_data(external_id="a\x00b")).encode(),
    "lone_surrogate": b'{"external_id": "\\ud800"}',
    "big_decimal": json.dumps(order_data(total="9" * 100000)).encode(),
    "exp_decimal": json.dumps(order_data(total="1e-999999999")).encode(),
    "float_exp": json.dumps(order_data(total=1e308)).encode(),
    "deep_nested_field": json.dumps(order_data(customer=json.loads("[" * 300 + "]" * 300))).encode(),
    "placed_at_far": json.dumps(order_data(placed_at="9999-12-31T23:59:59-05:00")).encode(),
    "placed_at_min": json.dumps(order_data(placed_at="0001-01-01T00:00:00+05:00")).encode(),
    "due_date": json.dumps(order_data(payment={"method": "pix", "expires_at": "9999-12-31T23:59:59-14:00"})).encode(),
}

@pytest.mark.parametrize("name", list(CASES))
def test_probe(api, make_order, channel, name):
    order = make_order()
    body = CASES[name]
    r = api.client.generic("POST", ORDERS, body, content_type="application/json", headers=api.headers)
    print("\nPROBE", name, "orders", r.status_code, r.content[:150])
    for t in ("invoice", "deliver", "approve_payment"):
        r = api.client.generic("POST", transition_url(order.pk, t), body, content_type="application/json", headers=api.headers)
        print("PROBE", name, t, r.status_code, r.content[:150])
    for ct in ("multipart/form-data", "application/x-www-form-urlencoded", "text/plain"):
        r = api.client.generic("POST", transition_url(order.pk, "cancel"), b"reason=other&" + b"a=1&" * 1200, content_type=ct, headers=api.headers)
        print("PROBE", name, ct, r.status_code, r.content[:150])
    r = api.get(ORDERS + "?" + "a=1&" * 1200)
    print("PROBE", name, "manyq", r.status_code, r.content[:150])
