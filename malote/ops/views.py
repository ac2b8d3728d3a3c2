"""``/healthz`` (liveness), ``/readyz`` (readiness) and ``/metrics`` (Prometheus, token-protected).

``/healthz`` answers 200 whenever the database answers, reporting the worker and schedule checks
without acting on them: a web process with no worker yet (a fresh start, ``malote up``, the soak)
is alive. ``/readyz`` answers 503 unless every check passes. Neither needs a login nor names a
host, worker, schedule or error (docs/observability.md).
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client.exposition import choose_encoder

from malote.ops.errors import OpsErrorCode
from malote.ops.health import Check, run_checks
from malote.ops.metrics import registry


def _health_answer(checks: dict[str, Check], *, healthy: bool) -> JsonResponse:
    body = {
        "status": "ok" if all(c.ok for c in checks.values()) else ("degraded" if healthy else "failing"),
        "checks": {name: check.as_dict() for name, check in checks.items()},
    }
    return JsonResponse(body, status=200 if healthy else 503)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    checks = run_checks()
    return _health_answer(checks, healthy=checks["database"].ok)


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    checks = run_checks()
    return _health_answer(checks, healthy=all(c.ok for c in checks.values()))


def _digest(token: str) -> bytes:
    # Compared as digests so the comparison takes the same time whatever the length sent.
    return hashlib.sha256(token.encode()).digest()


def bearer_token_matches(header: str, expected: str) -> bool:
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(_digest(given.strip()), _digest(expected))


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Without ``MALOTE_METRICS_TOKEN`` the endpoint does not exist (404); with it, the request must
    send ``Authorization: Bearer <token>`` (else 401)."""
    expected = getattr(settings, "MALOTE_METRICS_TOKEN", "")
    if not expected:
        return JsonResponse(
            {
                "code": OpsErrorCode.METRICS_DISABLED,
                "detail": "Metrics are off: MALOTE_METRICS_TOKEN is not set.",
            },
            status=404,
        )
    if not bearer_token_matches(request.headers.get("Authorization", ""), expected):
        response = JsonResponse(
            {
                "code": OpsErrorCode.METRICS_TOKEN_INVALID,
                "detail": "Send Authorization: Bearer <metrics token>.",
            },
            status=401,
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(registry), content_type=content_type)
