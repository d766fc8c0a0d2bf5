"""Orders from Amazon in the benchmark (issue 14, item 6): one seller's backfill of 20,000 orders
through ``portal.orders_sync.sync_authorization`` against the stand-in Amazon at 200 ms per request,
next to the rate-limit bound.

The part runs after the pages (or alone: ``python -m bench.run --only orders-sync``):

1. In the benchmark process: a company of its own with one admin and one Amazon shop (one seller
   authorization, marketplace US) created through ``portal.shops.services.create_shop``; the stand-in
   Amazon (served from the benchmark process, like for ``verify-shops``) gets the seller's orders in
   bulk (``StandinAmazon.generate_orders``, one minute apart, the newest 10 minutes old) and the same
   token bucket as the portal (``orders_rate`` / ``orders_burst``).
2. A subprocess (``python -m bench.orders_sync worker``, the portal app from the environment exactly
   like ``flask --app wsgi``) calls ``sync_authorization`` until the run is complete and prints its
   own figures as JSON: wall time of the sync (app start-up excluded), CPU time of the process in
   that window, peak RSS (VmHWM), pages, requests, created/updated/unchanged. The stand-in's CPU is
   in the benchmark process, not in these figures.
3. 1 % of the orders get a newer lastUpdatedTime at Amazon, then a second (incremental) run: it must
   update exactly those and create nothing, so store_order holds exactly one row per order.

The bucket's rate is configurable (``ORDERS_RATE_PER_SECOND`` / ``ORDERS_BURST``, here
``--orders-rate`` / ``--orders-burst``): at Amazon's real 0.0056 requests/s, 20,000 orders would take
about 9 hours (computed and printed, not measured). ``ORDERS_BUCKET_MAX_WAIT_SECONDS`` is raised so a
run waits for its tokens itself instead of handing back to the job queue after each empty bucket.

Bound = max(pages × latency, (pages − burst) / rate): a sync is sequential (one lease per seller), so
every page costs one round trip, and after the burst the bucket admits one request per 1/rate s.

Nothing here imports the portal at module level, so the report can import it cheaply; a measurement
of the Orders page can live next to this part (its own module, its own key in the result).
"""
from __future__ import annotations

import json
import math
import os
import resource
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ORDERS_FULL = 20_000
ORDERS_QUICK = 4_000  # 40 pages: the burst, then 20 pages paced by the bucket
BENCH_RATE = 2.0  # requests/s of the bucket while measuring (Amazon: 0.0056)
AMAZON_RATE = 0.0056  # searchOrders usage plan per seller and app (orders_2026-01-01.json)
AMAZON_BURST = 20
PAGE_SIZE = 100  # maxResultsPerPage (ORDERS_PAGE_SIZE default)
BOUND_FACTOR = 1.3
UPDATED_SHARE = 0.01  # orders changed at Amazon between the two runs
MARKETPLACE = "ATVPDKIKX0DER"
SELLER_ID = "A1BENCHORDERS1"
REFRESH_TOKEN = "Atzr|bench-orders-sync-0123456789abcdef"  # a fake token the stand-in accepts
COMPANY = "Bench orders sync"
SHOP_NAME = "Bench orders sync US"
ORDER_PREFIX = "902"
ORDER_STEP = timedelta(minutes=1)
NEWEST_ORDER_AGE = timedelta(minutes=10)  # older than the overlap of the incremental run


def pages_for(orders: int, page_size: int = PAGE_SIZE) -> int:
    return max(1, math.ceil(orders / page_size))


def bound_s(pages: int, latency: float, rate: float, burst: int) -> float:
    """max(pages × latency, (pages − burst) / rate)."""
    paced = max(0, pages - burst) / rate if rate > 0 else math.inf
    return max(pages * latency, paced)


def bound_formula(pages: int, latency: float, rate: float, burst: int) -> str:
    if pages <= burst:
        return f"{pages} × {latency:g} s (all {pages} pages within the burst of {burst})"
    return f"max({pages} × {latency:g} s, ({pages} − {burst}) / {rate:g})"


def amazon_rate_estimate(orders: int, latency: float) -> dict:
    """What the same backfill takes at Amazon's real rate (computed, never measured)."""
    pages = pages_for(orders)
    seconds = bound_s(pages, latency, AMAZON_RATE, AMAZON_BURST)
    return {"rate_per_s": AMAZON_RATE, "burst": AMAZON_BURST, "pages": pages, "bound_s": round(seconds, 1),
            "bound_h": round(seconds / 3600, 2),
            "formula": bound_formula(pages, latency, AMAZON_RATE, AMAZON_BURST)}


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- in the benchmark process ----------------------------------------------------------------------

def measure(*, config, env: dict, standin, orders: int, rate: float, burst: int, latency: float,
            run_bounded: Callable, tmp: Path) -> dict:
    """The whole part: set up the seller, fill the stand-in, two sync runs in a subprocess, count rows.
    ``config`` is the portal Config class for the benchmark database; ``env`` the subprocess environment."""
    pages = pages_for(orders)
    bound = bound_s(pages, latency, rate, burst)
    info: dict = {"orders": orders, "latency_s": latency, "rate_per_s": rate, "burst": burst,
                  "page_size": PAGE_SIZE, "expected_pages": pages, "bound_s": round(bound, 3),
                  "bound_formula": bound_formula(pages, latency, rate, burst),
                  "amazon_rate": amazon_rate_estimate(orders, latency),
                  "command": "python -m bench.orders_sync worker AUTHORIZATION_ID (sync_authorization until complete)"}
    _log(f"orders sync: {orders:,} orders for one seller, {pages} pages, bucket {rate:g} requests/s burst {burst}, "
         f"Amazon at {latency * 1000:.0f} ms (bound {bound:.1f} s = {info['bound_formula']}; at Amazon's real "
         f"rate {info['amazon_rate']['bound_h']:.1f} h)")
    setup = _setup(config, orders)
    info.update(shop_id=setup["shop_id"], authorization_id=setup["authorization_id"])
    standin.orders_rate, standin.orders_burst = rate, burst
    standin.register(REFRESH_TOKEN, seller_id=SELLER_ID, marketplaces=(MARKETPLACE,), region="NA",
                     store_name="Bench orders store")
    started = time.perf_counter()
    newest = standin.wall_clock() - NEWEST_ORDER_AGE
    ids = standin.generate_orders(SELLER_ID, orders, start=newest - (orders - 1) * ORDER_STEP, step=ORDER_STEP,
                                  marketplace_id=MARKETPLACE, prefix=ORDER_PREFIX)
    info["generate_s"] = round(time.perf_counter() - started, 2)

    worker_env = {**env, "ORDERS_RATE_PER_SECOND": repr(rate), "ORDERS_BURST": str(burst),
                  "ORDERS_PAGE_SIZE": str(PAGE_SIZE), "ORDERS_BACKFILL_DAYS": "30",
                  "ORDERS_BUCKET_MAX_WAIT_SECONDS": "3600"}
    timeout = 3 * bound + 600  # room for a few 429 answers (180 s each)
    standin.reset_counts()
    info["backfill"] = _run_worker(worker_env, setup["authorization_id"], timeout, run_bounded, tmp, "backfill")
    info["backfill"]["amazon_orders_requests"] = standin.counts["orders"]
    info["backfill"]["amazon_token_requests"] = standin.counts["token"]
    info["backfill"]["amazon_max_concurrent"] = standin.max_concurrent
    info["rows_after_backfill"] = _count_rows(config, setup["shop_id"])
    backfill = info["backfill"]
    if backfill.get("wall_s") is not None:
        info["ratio"] = round(backfill["wall_s"] / bound, 3) if bound else None
        done = max(1, backfill.get("pages") or 0)
        info["cpu_ms_per_page"] = round(backfill["cpu_s"] * 1000 / done, 2)
        _log(f"  backfill: {backfill['pages']} pages, {backfill['requests']} searchOrders requests "
             f"(+{backfill['amazon_token_requests']} LWA), {backfill['wall_s']:.1f} s = {info['ratio']:.2f}× the "
             f"bound, CPU {info['cpu_ms_per_page']:.1f} ms per page, peak RSS {backfill['peak_rss_mb']:.1f} MB, "
             f"{info['rows_after_backfill']:,} rows, status {backfill['status']}")

    changed = ids[:: max(1, round(1 / UPDATED_SHARE))] if orders >= 2 else ids
    changed_at = standin.wall_clock() - timedelta(minutes=4)  # inside the incremental window (5 min overlap)
    for order_id in changed:
        standin.update_order(SELLER_ID, order_id, last_updated=changed_at, status="SHIPPED")
    info["changed_at_amazon"] = len(changed)
    standin.reset_counts()
    info["incremental"] = _run_worker(worker_env, setup["authorization_id"], timeout, run_bounded, tmp,
                                      "incremental")
    info["incremental"]["amazon_orders_requests"] = standin.counts["orders"]
    info["rows"] = _count_rows(config, setup["shop_id"])
    incremental = info["incremental"]
    info["no_duplicates"] = (info["rows"] == orders and info["rows_after_backfill"] == orders
                             and incremental.get("created") == 0 and incremental.get("updated") == len(changed))
    _log(f"  incremental: {incremental.get('pages')} pages, {incremental.get('updated')} updated, "
         f"{incremental.get('created')} created, {incremental.get('wall_s')} s; store_order rows {info['rows']:,} "
         f"(expected {orders:,}): {'no duplicates' if info['no_duplicates'] else 'MISMATCH'}")
    return info


def _setup(config, orders: int) -> dict:
    """A company, its admin and one bound shop (through the portal's own service)."""
    from portal import create_app
    from portal.extensions import db
    from portal.models import Company, User
    from portal.passwords import hash_password
    from portal.shops.services import create_shop

    app = create_app(config)
    try:
        with app.app_context():
            admin = User(company=Company(name=COMPANY), email="orders-sync@bench.invalid", display_name="Bench",
                         role="admin", password_hash=hash_password(os.urandom(16).hex()))
            db.session.add(admin)
            db.session.commit()
            shop = create_shop(admin, name=SHOP_NAME, region="NA", mode="single", marketplace_ids=[MARKETPLACE],
                               seller_id=SELLER_ID, token=REFRESH_TOKEN).shop
            db.session.commit()
            ids = {"shop_id": shop.id, "authorization_id": shop.authorization_id, "company_id": admin.company_id}
            db.session.remove()
    finally:
        with app.app_context():
            db.engine.dispose()
    return ids


def _count_rows(config, shop_id: int) -> int:
    from sqlalchemy import func, select

    from portal import create_app
    from portal.extensions import db
    from portal.models import ORDER_SOURCE_AMAZON, Order

    app = create_app(config)
    try:
        with app.app_context():
            rows = db.session.scalar(select(func.count(Order.id)).where(
                Order.shop_id == shop_id, Order.source == ORDER_SOURCE_AMAZON))
            db.session.remove()
    finally:
        with app.app_context():
            db.engine.dispose()
    return int(rows or 0)


def _run_worker(env: dict, authorization_id: int, timeout: float, run_bounded: Callable, tmp: Path,
                label: str) -> dict:
    log_path = tmp / f"orders-sync-{os.getpid()}-{label}.log"
    try:
        with open(log_path, "wb") as output:
            code, _text, wall = run_bounded([sys.executable, "-m", "bench.orders_sync", "worker",
                                             str(authorization_id)], env=env, timeout=timeout, stdout=output)
        text = log_path.read_text(errors="replace")
    except Exception as error:  # noqa: BLE001 - a timed-out worker is a result, reported as such
        return {"status": "did not finish", "error": repr(error), "wall_s": None}
    finally:
        log_path.unlink(missing_ok=True)
    lines = [line for line in text.splitlines() if line.startswith("{")]
    if not lines:
        return {"status": "failed", "exit_code": code, "error": text[-2000:], "wall_s": None}
    outcome = json.loads(lines[-1])
    if code != 0 and outcome.get("status") == "ok":
        outcome["status"] = "failed"
    outcome["exit_code"] = code
    outcome["process_wall_s"] = round(wall, 2)
    return outcome


# --- the report ------------------------------------------------------------------------------------

def targets(info: dict | None) -> list[dict]:
    """Targets of issue 14 (item 6, the sync half), as report.judge lists them."""
    if not info:
        return []
    found = []
    backfill = info.get("backfill") or {}
    name = f"Orders sync, {info['orders']:,} orders, one seller"
    goal = f"≤ {BOUND_FACTOR}× rate-limit bound"
    if backfill.get("wall_s") is None or backfill.get("status") != "ok":
        found.append({"target": name, "goal": goal, "measured": "did not finish", "status": "MISS",
                      "note": str(backfill.get("error") or backfill.get("status"))[:300]})
    else:
        ratio = info["ratio"]
        throttled = backfill.get("throttled") or 0
        note = (f"bound {info['bound_formula']} at {info['rate_per_s']:g} requests/s (bench rate); at Amazon's "
                f"{AMAZON_RATE} requests/s: {info['amazon_rate']['bound_h']:.1f} h")
        if throttled:
            note += (f"; {throttled} × 429 from the stand-in although the portal's bucket had a token "
                     f"(the run then waited {backfill.get('waited_s', 0):.0f} s): {THROTTLED_NOTE}")
        found.append({"target": name, "goal": goal,
                      "measured": f"{backfill['wall_s']:.1f} s = {ratio:.2f}× of {info['bound_s']:.1f} s",
                      "status": "PASS" if ratio <= BOUND_FACTOR else "MISS", "note": note})
    found.append({"target": "Orders sync: no duplicates after an incremental run",
                  "goal": f"store_order rows = {info['orders']:,}",
                  "measured": f"{info.get('rows', 0):,} rows; incremental run updated "
                              f"{(info.get('incremental') or {}).get('updated')} of {info.get('changed_at_amazon')} "
                              f"changed, created {(info.get('incremental') or {}).get('created')}",
                  "status": "PASS" if info.get("no_duplicates") else "MISS", "note": ""})
    return found


# Why a run can meet a 429 although both buckets have the same rate and burst (seen in the full run).
THROTTLED_NOTE = ("the portal spends a token when it decides to send, Amazon when the request arrives; the "
                  "first request of a process also waits for the LWA exchange, so Amazon's bucket starts about "
                  "one round trip later and holds rate × that delay fewer tokens when the "
                  "portal's reaches 1; latency jitter does the same. A paced request then meets a 429 and the "
                  "sync waits at least 180 s")


def markdown(info: dict | None) -> list[str]:
    if not info:
        return []
    backfill, incremental = info.get("backfill") or {}, info.get("incremental") or {}
    estimate = info["amazon_rate"]
    lines = [(f"Orders sync (issue 14): `sync_authorization` for one seller authorization, {info['orders']:,} "
             f"orders in one marketplace, stand-in Amazon at {info['latency_s'] * 1000:.0f} ms per request, "
             f"token bucket {info['rate_per_s']:g} requests/s burst {info['burst']} (portal and stand-in alike; "
             f"Amazon's real plan is {AMAZON_RATE} requests/s burst {AMAZON_BURST}). Bound = max(pages × latency, "
             f"(pages − burst) / rate) = {info['bound_formula']} = {info['bound_s']:.1f} s. "
             f"At Amazon's real rate the same {estimate['pages']} pages take {estimate['formula']} = "
             f"{estimate['bound_s']:,.0f} s ≈ **{estimate['bound_h']:.1f} h** (computed, not measured)."), ""]
    lines.append("| run | pages | searchOrders requests | LWA requests | wall s | bound s | wall / bound | CPU ms/page "
                 "| peak RSS MB (before the sync) | 429 answers | created | updated | unchanged | store_order rows | status |")
    lines.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")

    def row(label: str, run: dict, bound: str, ratio: str, rows) -> str:
        pages = run.get("pages") or 0
        cpu = f"{run['cpu_s'] * 1000 / pages:.1f}" if run.get("cpu_s") is not None and pages else "—"
        cells = [label, _n(run.get("pages")), _n(run.get("requests")), _n(run.get("amazon_token_requests")),
                 _n(run.get("wall_s"), 2), bound, ratio, cpu, _n(run.get("peak_rss_mb"), 1) + (f" ({run['rss_before_sync_mb']:.1f})" if run.get("rss_before_sync_mb") else ""),
                 _n(run.get("throttled")), _n(run.get("created")),
                 _n(run.get("updated")), _n(run.get("unchanged")), _n(rows), str(run.get("status"))]
        return "| " + " | ".join(cells) + " |"

    lines.append(row("backfill (createdAfter, 30 days)", backfill, f"{info['bound_s']:.1f}",
                     f"{info['ratio']:.2f}×" if info.get("ratio") is not None else "—", info.get("rows_after_backfill")))
    lines.append(row(f"incremental (lastUpdatedAfter; {info.get('changed_at_amazon')} changed at Amazon)",
                     incremental, "—", "—", info.get("rows")))
    lines.append("")
    lines.append("Wall time is the sync itself in a separate process (the portal app from the environment, like "
                 "`flask --app wsgi`), app start-up excluded; CPU is that process's CPU in the same window (on "
                 "PostgreSQL the database server's CPU is not included); peak RSS is its VmHWM. The stand-in Amazon "
                 "runs in the benchmark process. LWA requests are extra round trips the bound leaves out. "
                 "A 429 answer makes the sync wait at least 180 s (Amazon's rule), whatever the bench rate.")
    lines.append("")
    return lines


def _n(value, digits: int = 0) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and digits:
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


# --- the worker subprocess -------------------------------------------------------------------------

def _vm_hwm_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(authorization_id: int, deadline_s: float = 3 * 3600) -> dict:
    """Call sync_authorization until its run is complete (what the job queue does, without the queue)."""
    from portal import create_app
    from portal.models import SYNC_OK, SYNC_WAITING
    from portal.orders_sync import PARTIAL, sync_authorization

    app = create_app()
    with app.app_context():
        rss_before = _vm_hwm_mb()
        totals = {"pages": 0, "requests": 0, "created": 0, "updated": 0, "unchanged": 0, "skipped": 0, "calls": 0,
                  "waits": 0, "waited_s": 0.0, "throttled": 0}
        status, error = None, None
        cpu0, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        while True:
            result = sync_authorization(authorization_id)
            totals["calls"] += 1
            for key in ("pages", "requests", "created", "updated", "unchanged", "skipped"):
                totals[key] += getattr(result, key)
            if result.complete:
                status = "ok" if result.status == SYNC_OK else result.status
                break
            if time.perf_counter() - started > deadline_s:
                status, error = "deadline", f"still {result.status} after {deadline_s:.0f} s"
                break
            if result.status == SYNC_WAITING:
                totals["waits"] += 1
                totals["throttled"] += int(result.error_code == "throttled")
                totals["waited_s"] += float(result.retry_after or 1)
                time.sleep(result.retry_after or 1)
                continue
            if result.status == PARTIAL:
                continue
            status, error = result.status, f"{result.error_code}: {result.error_detail}"
            break
        wall = time.perf_counter() - started
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        client = app.extensions.get("portal_orders_client")
        if client is not None:
            client.close()
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {"status": status, "error": error, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "peak_rss_mb": round(_vm_hwm_mb(), 1), "rss_before_sync_mb": round(rss_before, 1),
            **{k: (round(v, 1) if isinstance(v, float) else v) for k, v in totals.items()}}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] != "worker" or not argv[1].isdigit():
        print("usage: python -m bench.orders_sync worker AUTHORIZATION_ID (started by python -m bench.run)",
              file=sys.stderr)
        return 2
    outcome = worker(int(argv[1]))
    print(json.dumps(outcome), flush=True)
    return 0 if outcome["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
