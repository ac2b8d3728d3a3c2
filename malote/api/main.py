"""The REST API: ``/api/v1/``, OpenAPI at ``/api/v1/openapi.json``, docs at ``/api/docs``."""

from __future__ import annotations

from typing import Any

from ninja import NinjaAPI
from pydantic.json_schema import models_json_schema

from malote.api import errors
from malote.api.auth import AUTH
from malote.api.bodies import BODY_MODELS
from malote.api.issues import router as issues_router
from malote.api.orders import router as orders_router
from malote.api.outbox import router as outbox_router
from malote.api.returns import router as returns_router
from malote.api.stock import router as stock_router
from malote.orders.lifecycle import TRANSITIONS


class MaloteAPI(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """Add the schemas of the bodies the endpoints read themselves (transition inputs, issue
        actions), which their ``requestBody`` references by name."""
        schema = super().get_openapi_schema(*args, **kwargs)
        inputs = BODY_MODELS | {t.input for t in TRANSITIONS.values()}
        _, defs = models_json_schema(
            [(model, "validation") for model in sorted(inputs, key=lambda m: m.__name__)],
            ref_template="#/components/schemas/{model}",
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
        return schema


api = MaloteAPI(
    title="Malote API",
    version="1",
    description=(
        "Canonical orders, their lifecycle, stock and export. Authenticate with "
        "`Authorization: Bearer <token>` (create one with `malote token create --user NAME`). "
        "Every error is `{code, detail, field?}`. Every POST honours an `Idempotency-Key` header."
    ),
    auth=AUTH,
    urls_namespace="api-v1",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
errors.install(api, body_params={"payload"})
api.add_router("", orders_router)
api.add_router("", stock_router)
api.add_router("", outbox_router)
api.add_router("", issues_router)
api.add_router("", returns_router)
