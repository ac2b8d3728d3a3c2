"""The oracle: reads every fake's ``/_sandbox/state``, Malote's database and the SMTP sink's
mailbox at the end of the day, and scores the run against the day's sales and the fault manifest.

Sale keys are ``<channel code>:<id there>``; ERP copies are mapped back to sales by their shop
reference (Malote's number today, the store's number in the history a previous integration left).
Status convergence is judged coarsely (canceled or not) in every system holding the order, and
exactly for Malote against the sale's expected final status.
"""

from __future__ import annotations

import email
import json
import statistics
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from django.db.models import F

from malote.channels.models import OrderLink
from malote.notify.statuses import REQUIRED_ORDER_STATUS
from malote.orders.models import Order
from malote.reconcile.models import ACTIVE_STATES, IntegrationIssue
from malote.stock.models import StockItem
from malote.sync.models import OutboxMessage
from malote_dev.sandbox.seed import PRODUCTS
from malote_dev.soak import history
from malote_dev.soak.faults import Fault
from malote_dev.soak.issues import score_issues
from malote_dev.soak.scenario import Sale

GOALS = {
    "lost": 0,
    "duplicated": 0,
    "harmful_actions": 0,
    "precision": 1.0,
    "recall": 1.0,
    "stock_equal_within_seconds": 60,
    "statuses_not_converged_unflagged": 0,
    "history_records_touched": 0,
    "links_in_error_unexplained": 0,
}
CANCELED_WORDS = ("cancel",)


def fetch_states(urls: dict[str, str]) -> dict[str, Any]:
    with httpx.Client(timeout=30.0, trust_env=False) as http:
        return {kind: http.get(f"{url}/_sandbox/state").json() for kind, url in urls.items()}


def _canceled(word: Any) -> bool:
    return any(part in str(word or "").lower() for part in CANCELED_WORDS)


# ---------------------------------------------------------------------- remote orders per system
def sales_orders(states: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Fake kind → {order id there: status word} for the sales channels."""
    out: dict[str, dict[str, str]] = {
        "jumpseller": {
            str(o["order"]["id"]): str(o["order"]["status_enum"]) for o in states["jumpseller"]["orders"]
        },
        "skyhub": {str(o["code"]): str(o["status"]["code"]) for o in states["skyhub"]["orders"]},
        "mercadolivre": {str(o["id"]): str(o["status"]) for o in states["mercadolivre"]["orders"]},
        "vtex": {str(o["orderId"]): str(o["status"]) for o in states["vtex"]["orders"]},
    }
    return out


def erp_orders(states: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """ERP kind → [(shop reference, status word)] (one per remote order, duplicates kept)."""
    names = {s["id"]: s["nome"] for s in states["bling"].get("situacoes", [])}
    return {
        "tiny": [
            (str(p.get("numero_ecommerce") or ""), str(p.get("situacao") or ""))
            for p in states["tiny"]["pedidos"]
        ],
        "bling": [
            (str(p.get("numeroLoja") or ""), str(names.get((p.get("situacao") or {}).get("id"), "")))
            for p in states["bling"]["pedidos"]
        ],
    }


def shown_stock(states: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Sales fake kind → SKU → quantity it shows."""
    shown: dict[str, dict[str, int]] = {"jumpseller": {}, "skyhub": {}, "mercadolivre": {}}
    for row in states["jumpseller"]["products"]:
        product = row["product"]
        shown["jumpseller"][str(product["sku"])] = int(product.get("stock") or 0)
    for product in states["skyhub"]["products"]:
        shown["skyhub"][str(product["sku"])] = int(product.get("qty") or 0)
    for item in states["mercadolivre"].get("items", []):
        if item.get("seller_custom_field"):
            shown["mercadolivre"][str(item["seller_custom_field"])] = int(item.get("available_quantity") or 0)
        for variation in item.get("variations") or []:
            if variation.get("seller_custom_field"):
                sku = str(variation["seller_custom_field"])
                shown["mercadolivre"][sku] = int(variation.get("available_quantity") or 0)
    return shown


def stock_mismatches(states: dict[str, Any], codes: dict[str, str]) -> dict[str, dict[str, Any]]:
    available = {
        sku: physical - reserved
        for sku, physical, reserved in StockItem.objects.values_list("sku", "physical", "reserved")
    }
    skus = sorted({product.sku for product in PRODUCTS})
    out: dict[str, dict[str, Any]] = {}
    for kind, shown in shown_stock(states).items():
        diffs = {
            sku: {"shown": shown.get(sku), "malote_available": available.get(sku)}
            for sku in skus
            if sku in shown and shown.get(sku) != available.get(sku)
        }
        out[codes.get(kind, kind)] = {
            "skus_compared": sum(1 for s in skus if s in shown),
            "mismatched": diffs,
        }
    return out


# ---------------------------------------------------------------------- the sales
def _malote_orders_by_sale(codes: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in Order.objects.values(
        "id",
        "number",
        "external_id",
        "status",
        "status_path",
        "placed_at",
        "created_at",
        kind=F("channel__kind"),
        code=F("channel__code"),
        email=F("customer_email"),
    ):
        found[f"{row['code']}:{row['external_id']}"].append(dict(row))
    return found


def _sale_key(sale: Sale, codes: dict[str, str]) -> str:
    return f"{codes[sale.kind]}:{sale.ref}"


def judge(
    *,
    urls: dict[str, str],
    codes: dict[str, str],
    sales: list[Sale],
    faults: list[Fault],
    go_live_at: datetime,
    maildir: Path | None,
    timings: dict[str, Any],
    history_before: list[history.HistoryRecord] | None = None,
    history_numbers: list[str] | None = None,
) -> dict[str, Any]:
    states = fetch_states(urls)
    by_sale = _malote_orders_by_sale(codes)
    number_to_sale = {row["number"]: key for key, rows in by_sale.items() for row in rows}
    # Each ERP order to the sale its shop reference names: Malote's number, or the store's own
    # number (the history, and an order the ERP operator typed in by hand).
    erp_by_sale: dict[str, dict[str, list[str]]] = {}
    sent_by_malote: dict[str, Counter[str]] = {}  # ERP orders whose reference is Malote's number
    for erp, remote in erp_orders(states).items():
        erp_by_sale[erp] = defaultdict(list)
        sent_by_malote[erp] = Counter(ref for ref, _ in remote if ref in number_to_sale)
        for ref, situacao in remote:
            erp_by_sale[erp][number_to_sale.get(ref) or f"{codes['jumpseller']}:{ref}"].append(situacao)
    placed = [sale for sale in sales if sale.ref]
    sale_keys = {_sale_key(sale, codes): sale for sale in placed}

    # ---- lost: never imported, or paid and never in an ERP
    lost = []
    for key, sale in sale_keys.items():
        rows = by_sale.get(key, [])
        if not rows:
            lost.append({"sale": key, "fate": sale.fate, "why": "never imported"})
            continue
        row = rows[0]
        if "paid" in (row["status_path"] or []) or row["status"] not in ("pending_payment", "canceled"):
            for erp in ("tiny", "bling"):
                if not erp_by_sale[erp].get(key) and not (
                    row["status"] == "canceled" and erp_status_irrelevant(row)
                ):
                    lost.append({"sale": key, "number": row["number"], "why": f"never reached {codes[erp]}"})

    # ---- duplicates: in Malote by sale, in each ERP by the sale its shop reference points to
    duplicated = []
    for key, rows in by_sale.items():
        if len(rows) > 1:
            duplicated.append({"system": "malote", "sale": key, "copies": len(rows)})
    for erp, per_sale in erp_by_sale.items():
        for key, words in per_sale.items():
            if len(words) > 1:
                duplicated.append({"system": codes[erp], "sale": key, "copies": len(words)})

    # ---- statuses
    remote_sales = sales_orders(states)
    flagged_orders = set(
        IntegrationIssue.objects.filter(state__in=ACTIVE_STATES, order__isnull=False).values_list(
            "order__number", flat=True
        )
    )
    not_converged: list[dict[str, Any]] = []
    final_words: Counter[tuple[str, str, str]] = Counter()
    for key, sale in sale_keys.items():
        rows = by_sale.get(key, [])
        if not rows:
            continue
        row = rows[0]
        final_words[("malote", sale.expected_status, row["status"])] += 1
        if (sale_word := remote_sales[sale.kind].get(sale.ref)) is not None:
            final_words[(codes[sale.kind], sale.expected_status, sale_word)] += 1
        for erp in ("tiny", "bling"):
            for erp_word in erp_by_sale[erp].get(key) or []:
                final_words[(codes[erp], sale.expected_status, erp_word)] += 1
        disagree: dict[str, Any] = {}
        if not sale.contested and row["status"] != sale.expected_status:
            disagree["malote"] = {"is": row["status"], "expected": sale.expected_status}
        canceled = row["status"] == "canceled"
        word = remote_sales[sale.kind].get(sale.ref)
        if word is not None and _canceled(word) != canceled:
            disagree[codes[sale.kind]] = word
        for erp in ("tiny", "bling"):
            words = erp_by_sale[erp].get(key) or []
            if words and _canceled(words[0]) != canceled:
                disagree[codes[erp]] = words[0]
        if disagree:
            not_converged.append(
                {
                    "sale": key,
                    "number": row["number"],
                    "fate": sale.fate,
                    "flagged": row["number"] in flagged_orders,
                    "disagree": disagree,
                }
            )

    # ---- e-mails
    mails = read_mailbox(maildir)
    day_orders = [row for rows in by_sale.values() for row in rows if row["placed_at"] >= go_live_at]
    history_rows = [row for rows in by_sale.values() for row in rows if row["placed_at"] < go_live_at]
    imported_history = {row["number"] for row in history_rows}
    history_mail = sorted(f"{number}:{status}" for (number, status) in mails if number in imported_history)
    missing, duplicated_mail, unexpected = [], [], []
    for row in day_orders:
        if not row["email"]:
            continue  # the channel gives no address (Mercado Livre hides the buyer's)
        path = set(row["status_path"] or [])
        expected = {"received"} | {cs for cs, st in REQUIRED_ORDER_STATUS.items() if st and st in path}
        got = {status: n for (number, status), n in mails.items() if number == row["number"]}
        missing += [f"{row['number']}:{status}" for status in sorted(expected - set(got))]
        duplicated_mail += [f"{row['number']}:{status}×{n}" for status, n in got.items() if n > 1]
        unexpected += [f"{row['number']}:{status}" for status in sorted(set(got) - expected)]

    canceled_numbers = {
        row["number"] for rows in by_sale.values() for row in rows if row["status"] == "canceled"
    }
    history_refs = {*(history_numbers or []), history.HAND_TYPED_REF}
    issues = score_issues(
        codes, faults, number_to_sale, sale_keys, go_live_at, canceled_numbers, history_refs
    )
    return {
        "orders": {
            "sales_placed": len(placed),
            "malote_orders_today": len(day_orders),
            "lost": lost,
            "duplicated": duplicated,
            "statuses_not_converged": not_converged,
            "statuses_not_converged_unflagged": [n for n in not_converged if not n["flagged"]],
            # Every system's last word per sale, by the sale's expected final status (canceled or
            # delivered): what each system shows at the end of the day.
            "final_words": [
                {"system": system, "expected": expected, "word": word, "sales": n}
                for (system, expected, word), n in sorted(final_words.items())
            ],
            # Orders placed before go-live that Malote took in anyway, and which ERPs got them.
            "history_imported": [
                {
                    "number": row["number"],
                    "sale": f"{row['code']}:{row['external_id']}",
                    "status": row["status"],
                    "sent_to": [codes[e] for e in ("tiny", "bling") if sent_by_malote[e][row["number"]]],
                }
                for row in history_rows
            ],
        },
        # The shop's history seeded before the go-live, as every system held it then vs now.
        "history": history.touched(history_before or [], states, history_numbers or []),
        "stock": stock_mismatches(states, codes),
        "emails": {
            "sent": sum(mails.values()),
            "missing": missing,
            "duplicated": duplicated_mail,
            "unexpected": unexpected,
            "to_history_orders": history_mail,
            "orders_without_address": sum(1 for row in day_orders if not row["email"]),
        },
        "issues": issues,
        "sync_lag_seconds": sync_lag(),
        "timings": timings,
        "links_in_error": links_in_error(),
        "dead_letters": OutboxMessage.objects.filter(state="dead").count(),
    }


def links_in_error() -> dict[str, list[tuple[str | None, str, str]]]:
    """Links in error or divergent at the end (each is an item in the operator's inbox), and those
    of them no integration issue of that channel and order explains: an alarm the manifest cannot
    have called for, since every injected fault is scored through its issues."""
    found = list(
        OrderLink.objects.filter(state__in=["error", "divergent"]).values_list(
            "order_id", "order__number", "channel_id", "channel__code", "state"
        )
    )
    explained = set(IntegrationIssue.objects.values_list("order_id", "channel_id"))
    return {
        "all": [(number, code, state) for _, number, _, code, state in found],
        "unexplained": [
            (number, code, state)
            for order_id, number, channel_id, code, state in found
            if (order_id, channel_id) not in explained
        ],
    }


def erp_status_irrelevant(row: dict[str, Any]) -> bool:
    """A canceled order: the ERP does not need it any more (repair resolves such an issue)."""
    return row["status"] == "canceled"


def read_mailbox(maildir: Path | None) -> Counter[tuple[str, str]]:
    """(order number, customer status) → messages received, from ``Message-ID: <order-N-S@…>``."""
    found: Counter[tuple[str, str]] = Counter()
    if maildir is None or not maildir.exists():
        return found
    for path in maildir.iterdir():
        message = email.message_from_bytes(path.read_bytes())
        mid = str(message.get("Message-ID") or "").strip("<>")
        local = mid.split("@", 1)[0]
        if local.startswith("order-"):
            number, _, status = local[len("order-") :].partition("-")
            found[(number, status)] += 1
    return found


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 3)


def sync_lag() -> dict[str, Any]:
    lags: dict[str, list[float]] = defaultdict(list)
    for destination, created, delivered in OutboxMessage.objects.filter(
        delivered_at__isnull=False
    ).values_list("destination", "created_at", "delivered_at"):
        if delivered is not None:
            lags[destination].append((delivered - created).total_seconds())
    pending = Counter(
        OutboxMessage.objects.filter(delivered_at__isnull=True).values_list("destination", flat=True)
    )
    return {
        destination: {
            "n": len(values),
            "p50": _percentile(values, 0.5),
            "p99": _percentile(values, 0.99),
            "mean": round(statistics.fmean(values), 3),
            "undelivered": pending.get(destination, 0),
        }
        for destination, values in sorted(lags.items())
    }


def summary(report: dict[str, Any]) -> dict[str, Any]:
    orders, issues = report["orders"], report["issues"]
    stock_diffs = sum(len(v["mismatched"]) for v in report["stock"].values())
    return {
        "lost": len(orders["lost"]),
        "duplicated": len(orders["duplicated"]),
        "history_orders_imported": len(orders["history_imported"]),
        "history_orders_sent_to_erp": sum(1 for row in orders["history_imported"] if row["sent_to"]),
        "emails_to_history_orders": len(report["emails"]["to_history_orders"]),
        "history_records_touched": sum(len(report["history"][key]) for key in ("changed", "created", "gone")),
        "statuses_not_converged": len(orders["statuses_not_converged"]),
        "statuses_not_converged_unflagged": len(orders["statuses_not_converged_unflagged"]),
        "stock_mismatches_at_end": stock_diffs,
        # From the day's end, when the faults were cleared; "after last change" is an upper bound.
        "stock_equal_after_seconds": report["timings"].get("stock_equal_after_faults_cleared"),
        "stock_equal_after_last_change_seconds_upper_bound": report["timings"].get(
            "stock_equal_after_last_change"
        ),
        "emails_missing": len(report["emails"]["missing"]),
        "emails_duplicated": len(report["emails"]["duplicated"]),
        "issues_tp": len(issues["true_positives"]),
        "issues_fp": len(issues["false_positives"]),
        "issues_fn": len(issues["false_negatives"]),
        "precision": issues["precision"],
        "recall": issues["recall"],
        "actions_taken": len(issues["actions"]["taken"]),
        "harmful_actions": len(issues["actions"]["harmful"]),
        "convergence_after_seconds": report["timings"].get("converged_after_faults_cleared"),
        "convergence_after_last_change_seconds_upper_bound": report["timings"].get(
            "converged_after_last_change"
        ),
        "links_in_error": len(report["links_in_error"]["all"]),
        "links_in_error_unexplained": len(report["links_in_error"]["unexplained"]),
    }


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, default=str)
