"""An export as a streamed HTTP download (shared by the API and the back office)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from malote.orders.export import export_orders
from malote.orders.models import Order


def streaming_response(qs: QuerySet[Order], fmt: str) -> StreamingHttpResponse:
    export = export_orders(qs, fmt)
    response = StreamingHttpResponse(export.chunks, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response
