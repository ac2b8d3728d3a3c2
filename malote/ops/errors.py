"""Codes of the metrics endpoint's refusals (machine-facing: ``{"code", "detail"}``)."""

from __future__ import annotations

from enum import StrEnum


class OpsErrorCode(StrEnum):
    METRICS_DISABLED = "metrics_disabled"
    METRICS_TOKEN_INVALID = "metrics_token_invalid"
