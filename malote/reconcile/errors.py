"""The codes reconciliation gives when something cannot be done, one vocabulary for the package.

``code=`` of the errors it raises (the API and the back office answer ``{"code", "detail"}``), the
events it notes on an issue when a step fails, and the outcomes a repair or a run reports when it
stopped short. Being a ``StrEnum``, a member compares equal to (and serializes as) its string.
"""

from __future__ import annotations

from enum import StrEnum


class ReconcileErrorCode(StrEnum):
    # Raised: the request cannot be carried out on this issue.
    ISSUE_NOT_FOUND = "issue_not_found"
    ISSUE_CLOSED = "issue_closed"
    ISSUE_NOT_REPAIRABLE = "issue_not_repairable"
    ISSUE_WITHOUT_SUBJECT = "issue_without_subject"
    HELPDESK_MISSING = "helpdesk_missing"
    UNKNOWN_ACTION = "unknown_action"
    REASON_REQUIRED = "reason_required"
    # Noted on the issue: a step of a repair failed, the issue stays as it was.
    REPAIR_FAILED = "repair_failed"
    RECHECK_FAILED = "recheck_failed"
    IMPORT_FAILED = "import_failed"
    # Outcomes: the automation stopped short; the next slot, or a person, takes it from there.
    NEEDS_PERSON = "needs_person"
    GATEWAY_UNREACHABLE = "gateway_unreachable"
    CHANNEL_UNREACHABLE = "channel_unreachable"
    UNREACHABLE = "unreachable"
    REFRESH_FAILED = "refresh_failed"
    # Outcomes: an automatic repair held back for a person (noted on the issue).
    ERP_DOES_NOT_WANT = "erp_does_not_want"
    PAYMENT_NOT_CONFIRMED = "payment_not_confirmed"
