"""One soak: onboarding, the day, the settling, the oracle (called by ``malote soak``'s inner process).

Wall time is split: a short onboarding (the channels connected with history already in the fakes,
first stock pushes), the day (60 % of ``minutes``: purchases, payments, fates, faults), then the
settling (the rest: people keep working, faults are cleared, reconciliation runs) during which
the oracle is consulted every few seconds to time convergence after the last change.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from django.utils import timezone

from malote.sync.models import OutboxMessage
from malote_dev.sandbox.demo import DemoDriver
from malote_dev.soak import history, oracle
from malote_dev.soak.faults import FaultPlan, fault_plan
from malote_dev.soak.harness import Harness
from malote_dev.soak.scenario import CONTESTED_SKU, CONTESTED_UNITS, Day, plan


def run_soak(
    *, seed: int, minutes: float, workers: int, small: bool = False, sales: int | None = None
) -> dict[str, Any]:
    total = minutes * 60
    onboarding, day_seconds = min(8.0, total * 0.1), total * 0.6
    settle_seconds = max(20.0, total - onboarding - day_seconds)
    started = time.time()
    go_live_at = timezone.now()
    harness = Harness(workers=workers, stock={CONTESTED_SKU: CONTESTED_UNITS})
    try:
        harness.start(go_live_at)
        codes = harness.channel_codes()
        urls: dict[str, str] = {str(kind): fake.url for kind, fake in harness.fakes.items()}
        # What a previous integration left in every system, dated before the go-live.
        history_numbers = history.seed(urls)
        history_before = history.snapshot(oracle.fetch_states(urls), history_numbers)
        time.sleep(onboarding)
        day_sales, steps = plan(seed, day_seconds, sales=sales)
        faults = fault_plan(codes, small=small)
        fault_runner = FaultPlan(urls, faults, day_seconds)
        f = harness.fakes
        driver = DemoDriver(
            f["jumpseller"],
            f["pagarme"],
            f["tiny"],
            skyhub=f["skyhub"],
            mercadolivre=f["mercadolivre"],
            vtex=f["vtex"],
            step=3.0,
            stop=threading.Event(),
        )
        day = Day(urls, day_sales, steps, driver, step=3.0)

        def every(elapsed: float) -> None:
            fault_runner.arm_due(elapsed)
            harness.check_children()

        day_started = time.time()
        day.run(day_seconds, every)
        fault_runner.disarm_all()
        day.faults_cleared = time.time()
        timings = settle(harness, day, fault_runner, codes, urls, day_sales, go_live_at, settle_seconds)
        timings.update(day_seconds=round(day_seconds, 1), day_started=day_started, wall_seconds=0.0)
        fault_runner.resolve()
        report = oracle.judge(
            urls=urls,
            codes=codes,
            sales=day_sales,
            faults=faults,
            go_live_at=go_live_at,
            maildir=harness.maildir,
            timings=timings,
            history_before=history_before,
            history_numbers=history_numbers,
        )
        timings["wall_seconds"] = round(time.time() - started, 1)
        return {
            "soak": {
                "seed": seed,
                "minutes": minutes,
                "workers": workers,
                "go_live_at": go_live_at.isoformat(),
                "var_dir": str(harness.var_dir),
                "load_average": os.getloadavg(),
            },
            "goals": oracle.GOALS,
            "summary": oracle.summary(report),
            "manifest": {
                "sales": [sale.to_json() for sale in day_sales],
                "faults": [fault.to_json() for fault in faults],
                "expectations": {
                    "history": "no issue expected on any order placed before go-live; no history record"
                    " in any system changed, copied or removed",
                    "history_seeded": {"store_numbers": history_numbers, "records": len(history_before)},
                    "typed_in_erp": "a sale the Bling operator typed in by hand before Malote sent it:"
                    " linked, never created a second time; no issue expected",
                    "contested": f"{CONTESTED_SKU}: {CONTESTED_UNITS} units, 4 sales at once; "
                    "the surplus waits out of stock, no issue expected",
                    "panel_cancel": "SkyHub panel cancel taken in; no issue expected",
                },
            },
            "report": report,
            "scenario_errors": day.log,
        }
    finally:
        harness.stop()


def settle(
    harness: Harness,
    day: Day,
    faults: FaultPlan,
    codes: dict[str, str],
    urls: dict[str, str],
    sales: list[Any],
    go_live_at: Any,
    seconds: float,
) -> dict[str, Any]:
    """Keep the people working and time convergence (statuses) and stock equality: from the day's
    end, when the faults were cleared (the faults hold some systems down until then, so that is
    when convergence can start), checked every 4 s; and from the last change, which bounds it
    from above (the day runs on after its last change while the faults are armed)."""
    deadline = time.monotonic() + seconds
    converged_at = stock_at = None
    checks = 0
    while time.monotonic() < deadline:
        day.tick()
        harness.check_children()
        time.sleep(2.0)
        checks += 1
        if checks % 2:
            continue
        report = oracle.judge(
            urls=urls, codes=codes, sales=sales, faults=[], go_live_at=go_live_at, maildir=None, timings={}
        )
        unconverged = len(report["orders"]["statuses_not_converged"]) + len(report["orders"]["lost"])
        stock_diffs = sum(len(v["mismatched"]) for v in report["stock"].values())
        now = time.time()
        converged_at = (converged_at or now) if unconverged == 0 else None
        stock_at = (stock_at or now) if stock_diffs == 0 else None
        pending = OutboxMessage.objects.filter(
            delivered_at__isnull=True, state__in=["pending", "in_flight"]
        ).count()
        if converged_at and stock_at and not pending and now - day.last_change > 40:
            break
    last, cleared = day.last_change, day.faults_cleared or day.last_change

    def after(moment: float | None, start: float) -> float | None:
        return None if moment is None else round(max(0.0, moment - start), 1)

    return {
        "last_change": last,
        "faults_cleared": cleared,
        "converged_after_faults_cleared": after(converged_at, cleared),
        "stock_equal_after_faults_cleared": after(stock_at, cleared),
        "converged_after_last_change": after(converged_at, last),
        "stock_equal_after_last_change": after(stock_at, last),
        "settle_seconds_used": round(seconds - max(0.0, deadline - time.monotonic()), 1),
    }
