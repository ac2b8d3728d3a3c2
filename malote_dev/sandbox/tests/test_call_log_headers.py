"""The call log keeps which credentials a request carried, never their secret values."""

from __future__ import annotations

import httpx

from malote_dev.sandbox import start_fake


def test_vtex_app_key_is_logged_and_app_token_masked() -> None:
    with start_fake("vtex") as vtex, httpx.Client(timeout=10) as http:
        creds = vtex.credentials
        headers = {"X-VTEX-API-AppKey": creds["app_key"], "X-VTEX-API-AppToken": creds["app_token"]}
        assert http.get(f"{vtex.url}/api/oms/pvt/orders", headers=headers).status_code == 200
        http.get(f"{vtex.url}/api/oms/pvt/orders")  # no credentials: refused, and logged as such
        with_creds, without = vtex.calls.filter("GET", "/api/oms/pvt/orders")
    assert with_creds.headers["x-vtex-api-appkey"] == creds["app_key"]
    assert with_creds.headers["x-vtex-api-apptoken"] == "***"
    assert creds["app_token"] not in str(with_creds.headers)
    assert "x-vtex-api-appkey" not in without.headers and without.status == 401
