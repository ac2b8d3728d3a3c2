"""Integration issues scored against the manifest (true and false positives, false negatives),
and every automatic action reconciliation took, called for by the manifest or not ("harmful").

An issue matches a fault's expected (or tolerated) issue by kind, channel and victim; issues on
orders placed before go-live (the history) are always false positives.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from malote.reconcile.models import IntegrationIssue, IssueEvent
from malote_dev.sandbox.seed import DEMO_ORDERS
from malote_dev.soak.faults import Fault
from malote_dev.soak.scenario import Sale

#: Issue events that change something outside the issue (everything else is a finding or a note).
ACTIONS = {
    "reintegrate",
    "reintegrated",
    "import",
    "imported",
    "cancel",
    "canceled",
    "open_ticket",
    "ticket_requested",
    "push_again",
    "pushed_again",
    "accept",
    "accepted",
}
HISTORY_NUMBERS = {str(demo.number) for demo in DEMO_ORDERS}


def _issue_subject(issue: IntegrationIssue, number_to_sale: dict[str, str]) -> dict[str, Any]:
    order = issue.order
    if order is not None:
        return {
            "number": order.number,
            "sale": number_to_sale.get(order.number or ""),
            "placed_at": order.placed_at,
        }
    references = {
        str(side.get("reference") or "")
        for side in (issue.evidence or {}).values()
        if isinstance(side, dict) and side.get("reference")
    }
    return {"ref": issue.external_ref, "references": references, "sale": None, "placed_at": None}


def _matches(
    issue: IntegrationIssue, wanted: Iterable[dict[str, Any]], victims: list[str], subject: dict[str, Any]
) -> bool:
    for want in wanted:
        if want.get("kind") != issue.kind or want.get("channel") != issue.channel.code:
            continue
        if not victims or issue.kind == "channel_stalled":
            return True
        names = {
            f"number:{subject.get('number')}",
            f"order:{(subject.get('sale') or '').partition(':')[2]}",
            f"order:{subject.get('ref')}",
        }
        if names & set(victims):
            return True
    return False


def score_issues(
    codes: dict[str, str],
    faults: list[Fault],
    number_to_sale: dict[str, str],
    sale_keys: dict[str, Sale],
    go_live_at: datetime,
    canceled: set[str] | None = None,
    history_refs: set[str] | None = None,
) -> dict[str, Any]:
    """``canceled``: Malote numbers canceled at the end; a fault whose victims all are has nothing
    left to integrate, so its expected issues are only tolerated (repair resolves them).
    ``history_refs``: the store's numbers (and hand-typed references) of the history seeded before
    the go-live; an issue about one of them is always a false positive."""
    history_refs = HISTORY_NUMBERS | (history_refs or set())
    wanted: dict[str, list[dict[str, Any]]] = {}
    tolerated: dict[str, list[dict[str, Any]]] = {}
    for fault in faults:
        moot = bool(fault.victims) and all(
            victim.startswith("number:") and victim[len("number:") :] in (canceled or set())
            for victim in fault.victims
        )
        wanted[fault.id] = [] if moot else fault.expect.get("issues", [])
        tolerated[fault.id] = fault.expect.get("allow_issues", []) + (
            fault.expect.get("issues", []) if moot else []
        )
    issues = list(IntegrationIssue.objects.select_related("order", "channel").order_by("id"))
    found_for: dict[str, list[int]] = defaultdict(list)
    tp, fp, allowed = [], [], []
    classified: dict[int, Fault | None] = {}
    for issue in issues:
        subject = _issue_subject(issue, number_to_sale)
        row = {
            "id": issue.pk,
            "kind": issue.kind,
            "channel": issue.channel.code,
            "state": issue.state,
            "action": issue.recommended_action,
            **{k: v for k, v in subject.items() if k not in ("placed_at", "references")},
            "detail": issue.detail[:160],
        }
        history = (
            (subject["placed_at"] is not None and subject["placed_at"] < go_live_at)
            or subject.get("ref") in history_refs
            or bool(subject.get("references", set()) & history_refs)
        )
        hit = None
        for fault in faults:
            if not history and _matches(issue, wanted[fault.id], fault.victims, subject):
                hit = fault
                found_for[fault.id].append(issue.pk)
                tp.append({**row, "fault": fault.id})
                break
        if hit is None:
            for fault in faults:
                if not history and _matches(issue, tolerated[fault.id], fault.victims, subject):
                    hit = fault
                    allowed.append({**row, "fault": fault.id})
                    break
        if hit is None:
            fp.append({**row, "history": history})
        classified[issue.pk] = hit
    expected = [(fault.id, want) for fault in faults if fault.armed_at for want in wanted[fault.id]]
    fn = [{"fault": fid, **want} for fid, want in expected if not found_for.get(fid)]
    precision = len(tp) / (len(tp) + len(fp)) if (tp or fp) else 1.0
    recall = (len(expected) - len(fn)) / len(expected) if expected else 1.0
    return {
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "tolerated": allowed,
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "actions": score_actions(classified),
    }


def score_actions(classified: dict[int, Fault | None]) -> dict[str, Any]:
    taken = []
    notes: Counter[str] = Counter()
    for event in IssueEvent.objects.select_related("issue", "issue__channel", "issue__order").order_by("id"):
        if event.actor_kind == "user":
            continue
        if event.action not in ACTIONS:
            if event.action not in ("opened", "cleared", "resolved"):
                notes[event.action] += 1
            continue
        fault = classified.get(event.issue_id)
        called_for = fault is not None and event.action.removesuffix("d").removesuffix("e") in {
            a.removesuffix("e") for a in fault.expect.get("actions", [])
        }
        taken.append(
            {
                "issue": event.issue_id,
                "kind": event.issue.kind,
                "channel": event.issue.channel.code,
                "order": event.issue.order.number if event.issue.order else event.issue.external_ref,
                "action": event.action,
                "by": event.actor_label,
                "fault": fault.id if fault else None,
                "called_for": called_for,
            }
        )
    return {"taken": taken, "harmful": [a for a in taken if not a["called_for"]], "notes": dict(notes)}
