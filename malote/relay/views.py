"""Inbound webhooks: ``POST /hooks/<channel code>``.

Authenticated by the channel's own scheme (signature, token in the URL…), not by API tokens. A
request that fails verification is answered 401 and stored nowhere; a verified one is parsed into
changes, each taken in through the inbox (duplicates and replays change nothing). A connector
that must answer before reading (``answers_before_reading``: Mercado Livre) has its notification
stored unread and answered at once; a worker reads and applies it (``intake.read_notification``).

Hostile input is refused before any work: a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (chunked
ones included) is answered 413 ``webhook_too_large`` unread; a body no connector can read as JSON
(``connectors.payload.load_json``: not UTF-8, not JSON, too deeply nested…) 400 with the
connector's code. Only harmless headers (``STORED_HEADERS``) are stored with an event: signatures,
shared secrets, tokens and cookies never reach the inbox.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from malote.channels.models import Channel
from malote.connectors.base import Unsupported, WebhookRejected
from malote.connectors.errors import ConnectorErrorCode
from malote.connectors.payload import UnreadableBody
from malote.connectors.registry import connector_for
from malote.core.errors import MaloteError
from malote.relay import intake
from malote.relay.errors import RelayErrorCode
from malote.sync.errors import DeliveryError

log = logging.getLogger(__name__)
# The request headers stored with an inbox event: an allow-list, so that no header carrying a
# secret (a signature, a shared hook secret under a name the channel chose, Authorization, a
# cookie, an app key or token) is ever stored, whatever its name.
STORED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "content-encoding",
        "user-agent",
        "x-forwarded-for",
        "x-request-id",
        "idempotency-key",
        "jumpseller-event",
        "malote-event",
    }
)
HEADER_VALUE_KEPT = 300


def _error(code: str, detail: str, status: int) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status)


def stored_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers of a webhook worth keeping with its inbox event (``STORED_HEADERS``), cut short."""
    return {
        name: value[:HEADER_VALUE_KEPT] for name, value in headers.items() if name.lower() in STORED_HEADERS
    }


def read_body(request: HttpRequest) -> bytes:
    """The request body, at most ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes, else ``RequestDataTooBig``.

    Django checks the limit against Content-Length. A chunked body has none, and under WSGI Django
    reads it as empty; where the server marks the input as terminated (gunicorn does), it is read
    here instead, never more than one byte past the limit.
    """
    meta = request.META
    chunked = "chunked" in str(meta.get("HTTP_TRANSFER_ENCODING", "")).lower()
    if not (chunked and not meta.get("CONTENT_LENGTH") and meta.get("wsgi.input_terminated")):
        return request.body
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        data: bytes = meta["wsgi.input"].read(-1 if limit is None else limit + 1)
    except OSError as exc:
        raise UnreadablePostError(*exc.args) from exc
    if limit is not None and len(data) > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    return data


@csrf_exempt
@require_POST
def receive_webhook(request: HttpRequest, code: str) -> HttpResponse:
    channel = Channel.objects.filter(code=code, enabled=True).first()
    if channel is None:
        return _error(RelayErrorCode.UNKNOWN_CHANNEL, "No enabled channel with this code.", 404)
    try:
        body = read_body(request)
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return _error(RelayErrorCode.WEBHOOK_TOO_LARGE, f"The body is larger than {limit} bytes.", 413)
    except UnreadablePostError:
        return _error(ConnectorErrorCode.WEBHOOK_BODY_NOT_JSON, "The body could not be read.", 400)
    headers = stored_headers(request.headers)
    try:
        query = {key: str(value) for key, value in request.GET.items()}
    except SuspiciousOperation:  # more parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS
        return _error(RelayErrorCode.WEBHOOK_QUERY_INVALID, "The query string cannot be read.", 400)
    try:
        with connector_for(channel) as connector:
            connector.verify_webhook(request.headers, body, query)
            text = body.decode("utf-8", "replace")
            if connector.defers_reading:
                # Answered at once: stored unread, read and applied by a worker (no remote call here).
                notification = connector.notification(request.headers, body)
                results = (
                    []
                    if notification is None
                    else [intake.defer(channel, notification, headers=headers, body=text)]
                )
            else:
                changes = connector.parse_webhook(request.headers, body)
                results = [intake.take_in(channel, c, headers=headers, body=text) for c in changes]
            answer = connector.acknowledge([r.result for r in results])
            return HttpResponse(answer.body, content_type=answer.content_type, status=answer.status)
    except UnreadableBody as exc:
        log.warning("webhook for %s unreadable: %s", channel.code, exc.code)
        return _error(exc.code, exc.detail, 400)
    except WebhookRejected as exc:
        log.warning("webhook for %s rejected: %s", channel.code, exc.code)
        return _error(exc.code, exc.detail, 401)
    except (Unsupported, LookupError):
        return _error(ConnectorErrorCode.WEBHOOKS_NOT_SUPPORTED, "This channel takes no webhooks.", 404)
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        return _error(
            RelayErrorCode.MALFORMED_WEBHOOK, f"Cannot read this webhook: {type(exc).__name__}.", 422
        )
    except MaloteError as exc:
        return JsonResponse(exc.as_dict(), status=exc.status)
    except DeliveryError as exc:
        # The connector had to ask its system for details and could not: let the sender retry.
        return _error(RelayErrorCode.UPSTREAM_UNAVAILABLE, exc.detail[:300], 503)
