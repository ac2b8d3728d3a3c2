"""Inbound webhooks: ``POST /hooks/<channel code>``.

Authenticated by the channel's own scheme (signature, token in the URL…), not by API tokens. A
request that fails verification is answered 401 and stored nowhere; a verified one is parsed into
changes, each taken in through the inbox (duplicates and replays change nothing). A connector
that must answer before reading (``answers_before_reading``: Mercado Livre) has its notification
stored unread and answered at once; a worker reads and applies it (``intake.read_notification``).
"""

from __future__ import annotations

import json
import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from malote.channels.models import Channel
from malote.connectors.base import Unsupported, WebhookRejected
from malote.connectors.errors import ConnectorErrorCode
from malote.connectors.registry import connector_for
from malote.core.errors import MaloteError
from malote.relay import intake
from malote.relay.errors import RelayErrorCode
from malote.sync.errors import DeliveryError

log = logging.getLogger(__name__)
HEADERS_KEPT = 30


def _error(code: str, detail: str, status: int) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status)


@csrf_exempt
@require_POST
def receive_webhook(request: HttpRequest, code: str) -> HttpResponse:
    channel = Channel.objects.filter(code=code, enabled=True).first()
    if channel is None:
        return _error(RelayErrorCode.UNKNOWN_CHANNEL, "No enabled channel with this code.", 404)
    body = request.body
    headers = {k: v for k, v in list(request.headers.items())[:HEADERS_KEPT] if k.lower() != "authorization"}
    query = {key: str(value) for key, value in request.GET.items()}
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
