"""The benchmark's orders-sync part (`python -m bench.run --only orders-sync`, bench/orders_sync.py) with a
tiny order count: the real portal sync against the stand-in Amazon at 200 ms, on the test database
(SQLite, or PostgreSQL with TEST_DATABASE_URL), into a temporary results folder. The pages stay within the
bucket's burst: a paced page can meet a 429 (see bench.orders_sync.THROTTLED_NOTE) and then waits 180 s."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from bench import orders_sync
from tests.conftest import TEST_DATABASE_URL

ROOT = Path(__file__).resolve().parent.parent
ORDERS, BURST, RATE = 450, 20, 2.0  # 5 pages, all from the burst


def test_orders_sync_part_reports_sane_numbers(tmp_path):
    results = tmp_path / "results"
    command = [sys.executable, "-m", "bench.run", "--only", "orders-sync", "--quick", "--orders", str(ORDERS),
               "--orders-burst", str(BURST), "--orders-rate", str(RATE), "--results-dir", str(results)]
    if TEST_DATABASE_URL:
        command += ["--database-url", TEST_DATABASE_URL]
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    done = subprocess.run(command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    result = json.loads((results / "latest-orders-sync.json").read_text(encoding="utf-8"))
    sync = result["orders_sync"]
    backfill, incremental = sync["backfill"], sync["incremental"]
    pages = 5
    assert (sync["expected_pages"], backfill["pages"], backfill["requests"]) == (pages, pages, pages)
    assert backfill["amazon_orders_requests"] == pages  # the stand-in saw no request beyond the bucket (no 429)
    assert (backfill["status"], backfill["created"], backfill["throttled"]) == ("ok", ORDERS, 0)
    assert sync["rows_after_backfill"] == sync["rows"] == ORDERS
    assert sync["changed_at_amazon"] == 5
    assert (incremental["status"], incremental["created"], incremental["updated"]) == ("ok", 0, 5)
    assert sync["no_duplicates"] is True

    assert sync["bound_s"] == max(pages * 0.2, (pages - BURST) / RATE) == 1.0
    assert sync["bound_formula"] == "5 × 0.2 s (all 5 pages within the burst of 20)"
    assert sync["ratio"] == round(backfill["wall_s"] / sync["bound_s"], 3)
    assert sync["ratio"] >= 1.0  # a sequential sync cannot beat pages × latency
    assert backfill["wall_s"] < 30
    assert 0 < sync["cpu_ms_per_page"] < 2000
    assert backfill["peak_rss_mb"] >= backfill["rss_before_sync_mb"] > 10

    targets = {t["target"]: t for t in result["targets"]}
    speed = targets[f"Orders sync, {ORDERS} orders, one seller"]
    assert speed["status"] == ("PASS" if sync["ratio"] <= 1.3 else "MISS")
    assert targets["Orders sync: no duplicates after an incremental run"]["status"] == "PASS"
    report = (results / "latest-orders-sync.md").read_text(encoding="utf-8")
    assert f"{sync['ratio']:.2f}×" in report and f"**{speed['status']}**" in report
    assert not (results / "latest.md").exists()  # a part alone leaves the full run's report alone

    database = re.search(r"database: sqlite \((\S+)\)", done.stdout)
    if database:
        assert not Path(database.group(1)).exists()  # the benchmark removes its SQLite file


def test_time_at_amazons_real_rate_is_computed_from_the_bound():
    estimate = orders_sync.amazon_rate_estimate(20_000, 0.2)
    assert estimate["pages"] == 200
    assert estimate["bound_s"] == round((200 - 20) / 0.0056, 1)  # 32,142.9 s
    assert 8.9 <= estimate["bound_h"] <= 9.0
    assert orders_sync.bound_s(200, 0.2, 2.0, 20) == 90.0
    assert orders_sync.bound_s(20, 0.2, 2.0, 20) == 4.0  # within the burst: latency alone
