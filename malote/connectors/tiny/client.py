"""Tiny's API 2.0: ``POST <base_url>/<service><suffix>`` with the token as a form field.

Every answer is HTTP 200 with a ``retorno`` envelope; a logical error in it becomes ``TinyError``
(retryable only for the per-minute throttle).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from malote.connectors.errors import ConnectorErrorCode
from malote.connectors.http import BadAnswer, JsonHttp, decode_json
from malote.sync.errors import DeliveryError

RATE_LIMITED = 6
DUPLICATE = 30
NO_RECORDS = 20
NO_SUCH_PAGE = 23
NOT_FOUND = 32
RATE_LIMIT_PAUSE_SECONDS = 60.0  # "excedido o número de acessos no último minuto"


class TinyError(DeliveryError):
    """A logical error inside Tiny's ``retorno`` (HTTP 200); ``code`` is its ``codigo_erro``."""

    def __init__(self, service: str, code: int | None, message: str) -> None:
        throttled = code == RATE_LIMITED or "bloquead" in message.casefold()
        super().__init__(
            f"tiny {service}: codigo_erro {code}: {message}",
            retryable=throttled,
            # Tiny answers HTTP 200 to everything; "not found" (32) is given the status the other
            # systems answer, so the outbox handlers treat a missing order alike (relay.delivery).
            status=404 if code == NOT_FOUND else None,
            retry_after=RATE_LIMIT_PAUSE_SECONDS if throttled else None,
        )
        self.code = code
        self.service = service


def _error_of(retorno: Mapping[str, Any]) -> tuple[int | None, str]:
    """``codigo_erro`` and messages of a failed ``retorno`` (or of its first failed record)."""
    source: Mapping[str, Any] = retorno
    if retorno.get("codigo_erro") in (None, ""):
        for entry in retorno.get("registros") or []:
            registro = entry.get("registro") if isinstance(entry, dict) else None
            if isinstance(registro, dict) and str(registro.get("status", "")).lower() == "erro":
                source = registro
                break
    try:
        code: int | None = int(str(source.get("codigo_erro")).strip())
    except ValueError:
        code = None
    messages = [
        str(item.get("erro", item)) if isinstance(item, dict) else str(item)
        for item in source.get("erros") or []
    ]
    return code, "; ".join(messages) or "erro sem descrição"


class TinyClient(JsonHttp):
    """Tiny's services, each answering its ``retorno`` or raising ``TinyError``/``DeliveryError``."""

    def __init__(self, http: httpx.Client, base_url: str, *, token: str, suffix: str) -> None:
        super().__init__(http, base_url, label="tiny")
        self.token = token
        self.suffix = suffix

    def post(self, service: str, **params: str) -> httpx.Response:
        data = {"token": self.token, "formato": "json", **params}
        return self.send("POST", f"/{service}{self.suffix}", what=service, data=data)

    def call(self, service: str, **params: str) -> dict[str, Any]:
        """One service call; returns its ``retorno``."""
        body = decode_json(self.post(service, **params), what=f"tiny {service}")
        retorno = body.get("retorno") if isinstance(body, dict) else None
        if not isinstance(retorno, dict):
            raise BadAnswer(
                f"tiny {service}: answer has no retorno envelope", code=ConnectorErrorCode.ANSWER_NOT_OBJECT
            )
        if str(retorno.get("status", "")).strip().upper() == "OK":
            return retorno
        code, message = _error_of(retorno)
        raise TinyError(service, code, message)

    def pedido(self, pedido_id: str) -> dict[str, Any]:
        """``pedido.obter``: the order in full."""
        pedido = self.call("pedido.obter", id=pedido_id).get("pedido")
        if not isinstance(pedido, dict):
            raise DeliveryError(f"tiny pedido.obter {pedido_id}: answer has no pedido", retryable=True)
        return pedido

    def nota_xml(self, service: str, nota_id: str) -> str:
        """The nota's authorized XML from the XML ``service``, or ``""`` when it has none."""
        try:
            response = self.post(service, id=nota_id)
        except DeliveryError as exc:
            if exc.retryable:
                raise
            return ""  # no such service here: the invoice goes on without its XML
        text = response.text
        try:
            retorno = response.json().get("retorno") or {}
        except (ValueError, AttributeError):
            retorno = None
        if isinstance(retorno, dict):
            if str(retorno.get("status", "")).upper() != "OK":
                code, message = _error_of(retorno)
                error = TinyError(service, code, message)
                if error.retryable:
                    raise error
                return ""
            return str(retorno.get("xml_nfe") or "")
        # The service may answer XML: take the nfeProc element out of it.
        start, end = text.find("<nfeProc"), text.rfind("</nfeProc>")
        return text[start : end + len("</nfeProc>")] if start >= 0 and end > start else ""
