"""``malote bench workers`` (PostgreSQL, against procrastinate) and ``--database`` on the benchmarks.

Figures are printed, never asserted: these tests check the JSON's shape and that per-order order
held on both sides."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from malote_dev.bench.workers import check_order, workload


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "malote_dev.settings"}
    return subprocess.run(
        [sys.executable, "-m", "malote.cli", "bench", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def test_the_order_check_finds_an_order_delivered_out_of_order_or_incomplete() -> None:
    lines = [
        '1.0 order:0 {"key": "order:0", "seq": 0}',
        '1.1 order:1 {"key": "order:1", "seq": 1}',
        '1.2 order:1 {"key": "order:1", "seq": 0}',
        '1.3 order:0 {"key": "order:0", "seq": 1}',
        '1.4 order:0 {"key": "order:0", "seq": 1}',  # a redelivery: counted once
        '1.5 warmup:0 {"key": "warmup:0", "seq": 0}',
    ]
    result = check_order(lines, {"order:0": 2, "order:1": 2, "order:2": 1})
    assert result["delivered"] == 4
    assert result["received_requests"] == 5
    assert result["orders_out_of_order"] == 1
    assert result["orders_incomplete"] == 1  # order:2 never arrived
    assert (result["first_at"], result["last_at"]) == (1.0, 1.4)


def test_the_workload_interleaves_orders_with_ascending_sequence_numbers() -> None:
    assert workload(5, 2) == [("order:0", 0), ("order:1", 0), ("order:0", 1), ("order:1", 1), ("order:0", 2)]


def test_a_postgresql_server_that_does_not_answer_skips_the_benchmark_with_a_message() -> None:
    done = _bench("transitions", "--orders", "5", "--database", "postgres://postgres@127.0.0.1:1/none")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["benchmark"] == "transitions"
    assert "no PostgreSQL server answers at 127.0.0.1:1" in result["skipped"]
    assert "Traceback" not in done.stderr


@pytest.mark.postgres
def test_bench_workers_delivers_every_message_in_order_on_both_sides() -> None:
    pytest.importorskip("procrastinate", reason="the bench dependency group is not installed (make bench)")
    url = os.environ["DATABASE_URL"]
    done = _bench(
        "workers", "--database", url, "--messages", "60", "--orders", "6", "--threads", "2", "--counts", "1"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["benchmark"] == "workers"
    assert result["database"].startswith("postgresql ")
    row = result["by_worker_count"]["1"]
    for side in ("malote", "procrastinate"):
        assert row[side]["delivered"] == 60
        assert row[side]["orders_out_of_order"] == 0
        assert row[side]["orders_incomplete"] == 0
        assert row[side]["deliveries_per_second"] > 0
    assert row["ratio_malote_to_procrastinate"] > 0
    assert row["scaling_efficiency_malote"] == row["scaling_efficiency_procrastinate"] == 1.0
    assert [line["workers"] for line in result["table"]] == [1]
    scratch = result["database"].split("scratch database ")[1].split(",")[0]
    import psycopg

    with psycopg.connect(url, dbname="postgres", connect_timeout=3) as conn:
        left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [scratch]).fetchall()
    assert left == []  # the scratch database was dropped
