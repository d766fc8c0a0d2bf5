"""The benchmark report: targets of issues 7, 11 and 14 judged PASS/MISS, a Markdown table, JSON."""
from __future__ import annotations

import json
import math

from . import orders_sync

SHOP_LIST_VS_ADMIN = 2.0
MAX_LIST_CPU_MS = 25.0
MAX_MY_SHOPS_CPU_MS = 15.0
DEEP_PAGE_FACTOR = 1.5
MAX_STATEMENTS = 8
MAX_FRAGMENT_BYTES = 3 * 1024
VERIFY_BOUND_FACTOR = 1.3
MAX_WORKER_RSS_MB = 150.0
DISTURBED = 0.25


def _num(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def judge(result: dict) -> list[dict]:
    pages = {p["key"]: p for p in result["pages"]}
    targets = []

    def add(name: str, goal: str, measured: str, ok: bool | None, note: str = "") -> None:
        targets.append({"target": name, "goal": goal, "measured": measured,
                        "status": "n/a" if ok is None else ("PASS" if ok else "MISS"), "note": note})

    shop_list, admin = pages.get("shop_list"), pages.get("flask_admin")
    if shop_list and admin and admin["load"]["rps"]:
        ratio = shop_list["load"]["rps"] / admin["load"]["rps"]
        add("Shop list vs Flask-Admin req/s", f"≥ {SHOP_LIST_VS_ADMIN}×", f"{ratio:.2f}× "
            f"({shop_list['load']['rps']:.1f} vs {admin['load']['rps']:.1f} req/s)", ratio >= SHOP_LIST_VS_ADMIN,
            f"needs {SHOP_LIST_VS_ADMIN * admin['load']['rps']:.1f} req/s" if ratio < SHOP_LIST_VS_ADMIN else "")

    search = pages.get("shop_search")
    if search and admin and admin["load"]["rps"]:
        ratio = search["load"]["rps"] / admin["load"]["rps"]
        add("Shop list search fragment vs Flask-Admin req/s", f"≥ {SHOP_LIST_VS_ADMIN}×",
            f"{ratio:.2f}× ({search['load']['rps']:.1f} vs {admin['load']['rps']:.1f} req/s)",
            ratio >= SHOP_LIST_VS_ADMIN)
    for key, limit in (("shop_list", MAX_LIST_CPU_MS), ("shop_search", MAX_LIST_CPU_MS),
                       ("my_shops", MAX_MY_SHOPS_CPU_MS), ("orders", MAX_LIST_CPU_MS)):
        page = pages.get(key)
        cpu = page and page["load"].get("server_cpu_ms_per_request")
        if cpu:
            add(f"{page['title']}: server CPU per request", f"≤ {limit:.0f} ms", f"{cpu:.1f} ms", cpu <= limit,
                f"{cpu - limit:.1f} ms over" if cpu > limit else "")
    deep, first = pages.get("shop_deep"), pages.get("shop_list")
    if deep and first and deep["load"]["rps"]:
        cost = first["load"]["rps"] / deep["load"]["rps"]  # time per request, deep page / page 1
        add("Shop list deep page vs page 1 (time per request)", f"≤ {DEEP_PAGE_FACTOR}×",
            f"{cost:.2f}× ({deep['load']['rps']:.1f} vs {first['load']['rps']:.1f} req/s)", cost <= DEEP_PAGE_FACTOR)

    counted = [p for p in result["pages"] if p.get("sql") and p["server"] == "portal"]
    grows = [p for p in counted if p["sql"]["50"] != p["sql"]["500"]]
    over = [p for p in counted if max(p["sql"]["50"], p["sql"]["500"]) > MAX_STATEMENTS]
    summary = ", ".join(f"{p['title']} {p['sql']['50']}/{p['sql']['500']}" for p in counted)
    if counted:
        add("SQL statements per page, 50 vs 500 rows", f"same, ≤ {MAX_STATEMENTS}", summary, not grows and not over,
            "; ".join(filter(None, [
                ("grows with rows: " + ", ".join(p["title"] for p in grows)) if grows else "",
                ("over the limit: " + ", ".join(p["title"] for p in over)) if over else ""])))

    row = pages.get("verify_row")
    if row:
        size = row["load"]["bytes"]
        add("Verify row fragment size", f"≤ {MAX_FRAGMENT_BYTES:,} bytes (3 KiB)", f"{size:,} bytes",
            size <= MAX_FRAGMENT_BYTES,
            f"{size - MAX_FRAGMENT_BYTES:,} bytes over" if size > MAX_FRAGMENT_BYTES else "")

    verify = result.get("verify_shops") or {}
    for run in verify.get("runs", []):
        if run["workers"] not in (8, 32):
            continue
        if run.get("elapsed_s") is None:
            add(f"verify-shops, {run['workers']} workers", f"≤ {VERIFY_BOUND_FACTOR}× ideal bound", "did not finish",
                False, run.get("error", ""))
            continue
        ratio = run["elapsed_s"] / run["ideal_bound_s"]
        add(f"verify-shops, {run['workers']} workers", f"≤ {VERIFY_BOUND_FACTOR}× ideal bound",
            f"{run['elapsed_s']:.1f} s = {ratio:.2f}× of {run['ideal_bound_s']:.1f} s",
            ratio <= VERIFY_BOUND_FACTOR and run.get("exit_code") == 0,
            f"protocol bound (2 round trips per authorization) {run['protocol_bound_s']:.1f} s = "
            f"{run['protocol_bound_s'] / run['ideal_bound_s']:.2f}× the ideal bound"
            + ("" if run.get("exit_code") == 0 else f"; exit code {run.get('exit_code')}"))

    rss = result.get("portal_worker_peak_rss_mb")
    if rss is not None:
        sign_in = result.get("sign_in") or {}
        pages_peak = result.get("portal_worker_peak_rss_pages_mb")
        add("One portal worker's peak RSS", f"≤ {MAX_WORKER_RSS_MB:.0f} MB", f"{rss:.1f} MB",
            rss <= MAX_WORKER_RSS_MB,
            f"serving the pages: {pages_peak:.1f} MB; signing in one at a time: "
            f"{sign_in.get('worker_peak_rss_one_at_a_time_mb', 0):.1f} MB; {sign_in.get('burst', 0)} sign-ins at "
            f"once: {sign_in.get('worker_peak_rss_burst_mb', 0):.1f} MB")
    targets.extend(orders_sync.targets(result.get("orders_sync")))
    return targets


def markdown(result: dict) -> str:
    meta = result["meta"]
    only = meta.get("only")
    lines = [f"# Shop Portal benchmark — {meta['mode']} run on {meta['database']}"
             + (f" ({only} only)" if only else ""), ""]
    if only:
        seed = result["seed"]
        lines.append(f"{meta['started_at']} · commit `{meta.get('commit', '?')}` · {meta['cpus']} CPUs · "
                     f"Python {meta['python']} · {meta['database_version']} · machine "
                     f"{meta.get('machine_busy_before_start', 0) * 100:.0f} % busy with other work before the start")
        lines.append("")
        lines.append(f"Data: the schema only (migrations {seed['migrate_s']:.1f} s); the part brings its own.")
        lines.append("")
        lines.extend(orders_sync.markdown(result.get("orders_sync")))
        _targets_table(lines, result)
        return "\n".join(lines)
    lines.append(f"{meta['started_at']} · commit `{meta.get('commit', '?')}` · {meta['cpus']} CPUs · "
                 f"Python {meta['python']} · {meta['database_version']} · gunicorn {meta['gunicorn']} "
                 f"(`--workers 2 --threads 4`, like `make run`) · load: {meta['concurrency']} keep-alive "
                 f"connections from a separate process on 127.0.0.1, {meta['warmup_s']:g} s warm-up + "
                 f"{meta['duration_s']:g} s per page · machine {meta.get('machine_busy_before_start', 0) * 100:.0f} % "
                 f"busy with other work before the start · pages in {meta.get('language', '?')}, catalogs "
                 f"{meta.get('translations', '?')}")
    lines.append("")
    seed = result["seed"]
    counts = seed["counts"]
    lines.append(f"Data: {counts.get('users', 0):,} users, {counts.get('shops', 0):,} Amazon shops in "
                 f"{counts.get('seller_authorizations', 0):,} seller authorizations over 23 marketplaces, "
                 f"{counts.get('shop_assignments', 0):,} assignments (the member holds "
                 f"{seed.get('member_shops', 0):,}), {counts.get('other_stores', 0):,} other stores, "
                 f"{counts.get('orders', 0):,} manual orders, {counts.get('alert_events', 0):,} alert events "
                 f"(the alert scan over every shop: {seed.get('seconds', {}).get('alert_scan', 0):.2f} s). "
                 f"Seeded in {seed['total_s']:.1f} s "
                 f"(migrations {seed['migrate_s']:.1f} s; not part of the page figures).")
    lines.append("")
    lines.append("| Page | kind | req/s | p50 ms | p99 ms | bytes | HTMX fragment bytes | SQL @50 | SQL @500 "
                 "| server CPU ms/req | worker peak RSS MB | other CPU % |")
    lines.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for page in result["pages"]:
        load = page["load"]
        sql = page.get("sql") or {}
        flag = "" if not (load["unexpected_status"] or load["errors"]) else " ⚠"
        if (load.get("other_cpu_share") or 0) > DISTURBED:
            flag += " †"
        lines.append("| " + " | ".join([
            page["title"] + flag, page["kind"], _num(load["rps"]), _num(load["p50_ms"]), _num(load["p99_ms"]),
            _num(load["bytes"]), _num(page.get("fragment_bytes")), _num(sql.get("50")), _num(sql.get("500")),
            _num(load.get("server_cpu_ms_per_request"), 2) + (
                f" (+{load['db_server_cpu_ms_per_request']:.2f} db)"
                if load.get("db_server_cpu_ms_per_request") is not None else ""),
            _num(page.get("worker_peak_rss_mb")),
            _num(100 * load["other_cpu_share"], 0) if load.get("other_cpu_share") is not None else "—",
        ]) + " |")
    lines.append("")
    ratios = result.get("ratios") or {}
    if ratios:
        lines.append("Ratios (requests/s): " + " · ".join(
            f"{k} **{v:.2f}×**" if v >= 0.1 else f"{k} **{v:.3f}×** (1/{1 / v:.0f})" for k, v in ratios.items() if v))
        lines.append("")
    errors = [p for p in result["pages"] if p["load"]["unexpected_status"] or p["load"]["errors"]]
    for page in errors:
        lines.append(f"⚠ {page['title']}: statuses {page['load']['statuses']}, errors {page['load']['errors']}")
    if errors:
        lines.append("")

    sign_in = result.get("sign_in")
    if sign_in:
        lines.append(f"Sign-in (POST /login, password hash `{sign_in['password_hash']}`): a portal worker is at "
                     f"{sign_in['worker_rss_after_start_mb']:.1f} MB after start, peaks at "
                     f"{sign_in['worker_peak_rss_one_at_a_time_mb']:.1f} MB signing in one user at a time and at "
                     f"{sign_in['worker_peak_rss_burst_mb']:.1f} MB when {sign_in['burst']} users sign in at once "
                     f"({sign_in['burst_seconds']:.1f} s for all {sign_in['burst']}).")
        lines.append("")

    timed = [p for p in result["pages"] if (p.get("sql_detail") or {}).get("50", {}).get("inprocess_cpu_ms")]
    if timed:
        lines.append("Where the time goes, in-process (Flask test client, one request at a time, no HTTP):")
        lines.append("")
        lines.append("| Page | CPU ms/req @50 | SQL ms @50 | CPU ms/req @500 | SQL ms @500 | rows @50 → @500 "
                     "| CPU ms per extra row |")
        lines.append("|---|--:|--:|--:|--:|--:|--:|")
        for page in timed:
            d50, d500 = page["sql_detail"]["50"], page["sql_detail"]["500"]
            available = page.get("rows_available")
            rows = (min(50, available), min(500, available)) if available else None
            per_row = ((d500["inprocess_cpu_ms"] - d50["inprocess_cpu_ms"]) / (rows[1] - rows[0])
                       if rows and rows[1] > rows[0] else None)
            lines.append("| " + " | ".join([
                page["title"], _num(d50["inprocess_cpu_ms"]), _num(d50["inprocess_sql_ms"]),
                _num(d500.get("inprocess_cpu_ms")), _num(d500.get("inprocess_sql_ms")),
                f"{rows[0]} → {rows[1]}" if rows else "—", _num(per_row, 2)]) + " |")
        lines.append("")

    verify = result.get("verify_shops")
    if verify:
        lines.append(f"`verify-shops` over {verify['shops']:,} shops ({verify['authorizations']:,} seller "
                     f"authorizations) against the stand-in Amazon at {verify['latency_s'] * 1000:.0f} ms per "
                     f"request. Ideal bound = shops × latency / workers (issue 7). Each check is one seller "
                     f"authorization and makes 2 sequential round trips (LWA token, then Sellers API), so the "
                     f"protocol bound is ⌈authorizations / workers⌉ × 2 × latency.")
        lines.append("")
        lines.append("| workers | elapsed s | wall s (with start-up) | ideal bound s | elapsed / ideal | protocol bound s "
                     "| elapsed / protocol | Amazon requests (LWA + Sellers) | max concurrent at Amazon | CLI CPU s (ms per check†) "
                     "| exit |")
        lines.append("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for run in verify["runs"]:  # noqa: B007
            elapsed = run.get("elapsed_s")
            lines.append("| " + " | ".join([
                str(run["workers"]), _num(elapsed), _num(run.get("wall_s")), _num(run["ideal_bound_s"]),
                _num(elapsed / run["ideal_bound_s"], 2) if elapsed else "—", _num(run["protocol_bound_s"]),
                _num(elapsed / run["protocol_bound_s"], 2) if elapsed else "—",
                f"{run.get('amazon_token_requests', 0):,} + {run.get('amazon_sellers_requests', 0):,}",
                str(run.get("amazon_max_concurrent", "—")),
                f"{_num(run.get('cli_cpu_s'))} ({_num(run.get('cli_cpu_ms_per_authorization'))})",
                str(run.get("exit_code")),
            ]) + " |")
        lines.append("")
        lines.append(f"† CPU time of the `verify-shops` process divided by the checks, its start-up without checks "
                     f"({verify.get('cli_startup_cpu_s', 0):.1f} s) subtracted. The checks run as threads of one "
                     f"Python process, so CPU per check × checks is a floor for the elapsed time at any number of "
                     f"workers.")
        lines.append("")

    lines.extend(orders_sync.markdown(result.get("orders_sync")))
    _targets_table(lines, result)
    lines.append("Notes: SQL counts are per request, in-process (Flask test client on the same database) at "
                 "PAGE_SIZE=50 and 500, transaction control not counted. Server CPU is the gunicorn workers' "
                 "CPU time in the window divided by the requests (on PostgreSQL, “+ db” is the CPU of the postgres "
                 "processes per request). Worker peak RSS is VmHWM of the larger of the "
                 "two workers while serving that page (reset before each page through /proc/PID/clear_refs; the pages "
                 "are served after the sign-ins, so it includes what the workers kept from them). "
                 "Other CPU % is the share of the machine's CPUs used by other processes during the window "
                 "(database server, anything else running): high values disturb the figures; † marks a page whose "
                 "window stayed above 25 % (after measuring again in full runs). The verify row is measured "
                 "as it answers from the throttle (the first call, in the warm-up, asks the stand-in Amazon). "
                 "The load generator shares the 2 CPUs with the server: its own CPU per request is in the JSON "
                 "(loadgen_cpu_ms_per_request), and bounds the static ceiling.")
    lines.append("")
    return "\n".join(lines)


def _targets_table(lines: list[str], result: dict) -> None:
    lines.append("| Target (issues 7, 11, 14) | goal | measured | result |")
    lines.append("|---|---|---|---|")
    for target in result["targets"]:
        measured = target["measured"] + (f" — {target['note']}" if target["note"] else "")
        lines.append(f"| {target['target']} | {target['goal']} | {measured} | **{target['status']}** |")
    lines.append("")


def console_table(result: dict) -> str:
    return markdown(result)


def to_json(result: dict) -> str:
    return json.dumps(result, indent=2, ensure_ascii=False, default=str)
