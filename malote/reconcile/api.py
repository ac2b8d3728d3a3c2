"""API of integration issues (``/api/v1/issues``)."""

from ninja import Router

router = Router(tags=["issues"])
