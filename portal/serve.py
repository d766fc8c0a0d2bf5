"""Run the portal and its job consumer.

``python -m portal.serve [--host H --port P --workers N --threads T]`` (``make run``): the portal under
gunicorn **and** one job consumer, as two child processes of this one. Ctrl-C (SIGINT) or SIGTERM stops
both; when either child ends, the other is stopped too, so nothing keeps running half-way.

``python -m portal.serve worker`` (``make worker``): one more consumer only. With REDIS_URL set it can run
on any machine that shares the database and Redis.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from portal import create_app
from portal.queue import run_consumer

STOP_GRACE_SECONDS = 15


def _worker() -> None:
    run_consumer(create_app())


def _serve(args: argparse.Namespace) -> int:
    gunicorn = [sys.executable, "-m", "gunicorn", "--bind", f"{args.host}:{args.port}", "--workers", str(args.workers),
                "--threads", str(args.threads), "--access-logfile", "-", "--forwarded-allow-ips", "", "wsgi:app"]
    consumer = [sys.executable, "-m", "portal.serve", "worker"]
    children: list[subprocess.Popen] = []
    stopping = {"signal": None}

    def on_signal(signum, _frame):
        stopping["signal"] = signum

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # Each child in its own process group: a terminal's Ctrl-C reaches only this process, which passes one
    # signal on to each child. (Sent to the whole group as well, gunicorn's workers would get the INT from
    # the terminal and a QUIT from their master at once; a worker can deadlock in its signal handler then.)
    for command in (gunicorn, consumer):
        children.append(subprocess.Popen(command, start_new_session=True))
    print(f"Shop Portal on http://{args.host}:{args.port}/ with one job consumer "
          f"(pids {children[0].pid}, {children[1].pid}); Ctrl-C stops both.", flush=True)
    code = 0
    while stopping["signal"] is None:
        ended = [child for child in children if child.poll() is not None]
        if ended:
            code = ended[0].returncode or 1
            print(f"process {ended[0].pid} ended (code {ended[0].returncode}); stopping the other.", flush=True)
            break
        time.sleep(0.2)
    _stop(children, signal.SIGINT if stopping["signal"] == signal.SIGINT else signal.SIGTERM)
    return code


def _stop(children: list[subprocess.Popen], signum: int) -> None:
    for child in children:
        if child.poll() is None:
            try:
                child.send_signal(signum)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(child.pid, signal.SIGKILL)  # the child and whatever it started (gunicorn's workers)
            except ProcessLookupError:
                pass
            child.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portal.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", choices=("all", "worker"), default="all")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    args = parser.parse_args(argv)
    if args.mode == "worker":
        _worker()
        return 0
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
