"""A small closed-loop HTTP load generator, run as its own process: `python -m bench.loadgen SPEC_JSON`.

`concurrency` threads each keep one HTTP/1.1 keep-alive connection (stdlib http.client, cheaper per
request than a full client library, so more of the 2 cores are left to the server), opened anew every
`recycle` requests so that both gunicorn workers get a fair share, and send the same request back to
back. Warm-up: each connection runs for `warmup` seconds and until it has two answers
(cold workers compile templates, open database connections); then all connections start the measured
window together. New requests stop at the end of the window, in-flight ones are awaited. Every loop is bounded by time and every socket by a
timeout. Prints one JSON object: requests, errors, req/s, latency percentiles, body bytes, and the CPU
used by the server processes (`pids`), by this process, and by the whole machine in the window.

Only 127.0.0.1 is accepted as the target.
"""
from __future__ import annotations

import http.client
import json
import os
import resource
import sys
import threading
import time
from collections import Counter

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def _pids_named(comm: str | None) -> list[int]:
    if not comm:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as handle:
                    if handle.read().strip() == comm:
                        found.append(int(entry))
            except OSError:
                pass
    return found


def _cpu_by_pid(pids: list[int]) -> dict[int, float]:
    return {pid: _proc_cpu_seconds([pid]) for pid in pids}


def _machine_cpu() -> tuple[int, int]:
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values), idle


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def run(spec: dict) -> dict:
    host, port = spec.get("host", "127.0.0.1"), int(spec["port"])
    if host != "127.0.0.1":
        raise SystemExit("bench.loadgen only sends to 127.0.0.1")
    method, path = spec.get("method", "GET"), spec["path"]
    headers = dict(spec.get("headers") or {})
    body = spec.get("body")
    body_bytes = body.encode() if isinstance(body, str) else None
    if body_bytes is not None:
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    expected = set(spec.get("expect_status") or [200])
    concurrency = int(spec.get("concurrency", 8))
    warmup, duration = float(spec.get("warmup", 2.0)), float(spec.get("duration", 10.0))
    timeout = float(spec.get("timeout", 30.0))
    pids = [int(p) for p in spec.get("pids") or []]
    # A new connection every `recycle` requests: gunicorn's workers each keep the keep-alive connections
    # they accepted, so without this one worker can hold 6 of the 8 connections for the whole window.
    recycle = int(spec.get("recycle", 10))
    db_comm = spec.get("db_process_name")  # e.g. "postgres": the database server's CPU is counted apart

    start = time.perf_counter()
    warm_until = start + warmup
    warm_limit = warm_until + 60 + timeout  # a server that never answers still ends the warm-up
    results = [([], [], Counter(), Counter()) for _ in range(concurrency)]  # latencies, ends, sizes, statuses
    errors = Counter()
    error_lock = threading.Lock()
    span = {"from": None, "until": None}
    sample = {}

    def open_window() -> None:  # runs once, when every connection has finished its warm-up
        now = time.perf_counter()
        sample["server_cpu"] = _proc_cpu_seconds(pids)
        sample["server_by_pid"] = _cpu_by_pid(pids)
        sample["self_cpu"] = _self_cpu()
        sample["machine"] = _machine_cpu()
        sample["db"] = _cpu_by_pid(_pids_named(db_comm))
        span["from"], span["until"] = now, now + duration

    barrier = threading.Barrier(concurrency, action=open_window)

    retries = Counter()

    def send(conn):
        reused = conn is not None
        if conn is None:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request(method, path, body=body_bytes, headers=headers)
            response = conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
            # The server closed an idle keep-alive connection as the request went out: like browsers
            # and HTTP libraries, send it again once on a new connection (counted, not an error).
            conn.close()
            with error_lock:
                retries["keepalive_retry"] += 1
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
            conn.request(method, path, body=body_bytes, headers=headers)
            response = conn.getresponse()
        data = response.read()
        if response.will_close:
            conn.close()
            conn = None
        return conn, response.status, data

    def worker(slot: int) -> None:
        latencies, ends, sizes, statuses = results[slot]
        conn, done, on_conn = None, 0, 0
        # Warm-up: at least `warmup` seconds and two answers on this connection (cold workers compile
        # templates and open database connections), then all connections start measuring together.
        while time.perf_counter() < warm_limit and (time.perf_counter() < warm_until or done < 2):
            try:
                conn, _status, _data = send(conn)
                done += 1
            except (OSError, http.client.HTTPException) as error:
                with error_lock:
                    errors["warmup:" + type(error).__name__] += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
        try:
            barrier.wait(timeout=max(1.0, warm_limit - time.perf_counter() + timeout))
        except threading.BrokenBarrierError:
            pass
        if span["from"] is None:
            return
        while True:
            began = time.perf_counter()
            if began >= span["until"]:
                break
            try:
                conn, status, data = send(conn)
            except (OSError, http.client.HTTPException) as error:
                with error_lock:
                    errors[type(error).__name__] += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.01)
                continue
            finished = time.perf_counter()
            on_conn = on_conn + 1 if conn is not None else 0
            if conn is not None and recycle and on_conn >= recycle:
                conn.close()
                conn, on_conn = None, 0
            latencies.append(finished - began)
            ends.append(finished)
            sizes[len(data)] += 1
            statuses[status] += 1
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=worker, args=(slot,), daemon=True) for slot in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.1, warm_limit + duration + 2 * timeout - time.perf_counter()))
    ended_at = time.perf_counter()
    server_cpu = _proc_cpu_seconds(pids) - sample.get("server_cpu", 0.0)
    server_by_pid = {str(pid): round(cpu - sample.get("server_by_pid", {}).get(pid, 0.0), 2)
                     for pid, cpu in _cpu_by_pid(pids).items()}
    self_cpu = _self_cpu() - sample.get("self_cpu", 0.0)
    db_now = _cpu_by_pid(_pids_named(db_comm))
    db_cpu = sum(cpu - sample.get("db", {}).get(pid, 0.0) for pid, cpu in db_now.items())
    total, idle = _machine_cpu()
    total0, idle0 = sample.get("machine", (total, idle))
    machine_busy = 1 - (idle - idle0) / (total - total0) if total > total0 else float("nan")
    busy_seconds = ((total - total0) - (idle - idle0)) / CLK_TCK
    measure_from = span["from"] or ended_at
    latencies = sorted(x for r in results for x in r[0])
    last_end = max((x for r in results for x in r[1]), default=measure_from)
    sizes, statuses = Counter(), Counter()
    for r in results:
        sizes.update(r[2])
        statuses.update(r[3])
    count = len(latencies)
    window = max(last_end - measure_from, 1e-9)
    bad = sum(n for status, n in statuses.items() if status not in expected)
    return {
        "requests": count,
        "window_s": round(window, 3),
        "rps": count / window if count else 0.0,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p90_ms": percentile(latencies, 0.90) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": (latencies[-1] * 1000) if latencies else float("nan"),
        "bytes": sizes.most_common(1)[0][0] if sizes else 0,
        "bytes_min": min(sizes) if sizes else 0,
        "bytes_max": max(sizes) if sizes else 0,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "unexpected_status": bad,
        "errors": dict(errors),
        "keepalive_retries": retries["keepalive_retry"],
        "server_cpu_ms_per_request": server_cpu * 1000 / count if count else None,
        "server_cpu_s_by_worker": server_by_pid,
        "loadgen_cpu_ms_per_request": self_cpu * 1000 / count if count else None,
        "db_server_cpu_ms_per_request": (db_cpu * 1000 / count if count else None) if db_comm else None,
        "machine_cpu_busy": machine_busy,
        # CPU used by everything else on the machine in the window (other users' jobs, the database
        # server), as a share of all CPUs: high values mean the figures are disturbed.
        "other_cpu_share": max(0.0, busy_seconds - server_cpu - self_cpu - db_cpu) / (window * (os.cpu_count() or 1)),
        "concurrency": concurrency,
        "recycle_every": recycle,
        "warmup_s": warmup,
        "duration_s": duration,
        "warmup_actual_s": round(measure_from - start, 3),
        "wall_s": round(ended_at - start, 3),
    }


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python -m bench.loadgen SPEC_JSON")
    print(json.dumps(run(json.loads(argv[0]))))


if __name__ == "__main__":
    main()
