"""gunicorn processes started like `make run`, their workers' memory, and stopping them for sure."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

WORKERS, THREADS = 2, 4  # the Makefile's defaults for `make run`


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def reset_peak(pid: int) -> None:
    """Reset VmHWM to the current RSS (Linux: write 5 to /proc/PID/clear_refs), to measure one phase."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def memory_kb(pid: int) -> dict[str, int]:
    """VmHWM (peak resident set) and VmRSS of a process, in kB."""
    values = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    key, value = line.split(":", 1)
                    values[key] = int(value.split()[0])
    except OSError:
        pass
    return values


class Gunicorn:
    """`gunicorn --bind 127.0.0.1:PORT --workers 2 --threads 4 --access-logfile - --forwarded-allow-ips "" APP`,
    in its own process group so that stopping it can never touch anything else.

    One addition to `make run`'s command line: `--control-socket` under bench/tmp/, so the benchmark's
    servers never replace the control socket of a `make run` on the same machine (~/.gunicorn/). It has
    no effect on serving."""

    def __init__(self, name: str, app_spec: str, env: dict, cwd: Path, log_dir: Path, bin_dir: Path):
        self.name, self.app_spec, self.env, self.cwd = name, app_spec, env, cwd
        self.port = free_port()
        self.log_path = log_dir / f"gunicorn-{name}.log"
        self.control_socket = log_dir / f"gunicorn-{name}-{os.getpid()}.ctl"
        self.bin_dir = bin_dir
        self.process: subprocess.Popen | None = None
        self._log = None

    def start(self, timeout: float = 60.0) -> Gunicorn:
        command = [str(self.bin_dir / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", str(WORKERS),
                   "--threads", str(THREADS), "--access-logfile", "-", "--forwarded-allow-ips", "",
                   "--control-socket", str(self.control_socket), self.app_spec]
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, cwd=self.cwd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn ({self.name}) exited with {self.process.returncode}; see {self.log_path}")
            if len(self.worker_pids()) >= WORKERS and self._answers():
                return self
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn ({self.name}) did not answer within {timeout:.0f} s; see {self.log_path}")

    def _answers(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
            return True
        except (OSError, http.client.HTTPException):
            return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        return children_of(self.process.pid) if self.process else []

    def worker_memory(self) -> dict[int, dict[str, int]]:
        return {pid: memory_kb(pid) for pid in self.worker_pids()}

    def reset_peaks(self) -> None:
        for pid in self.worker_pids():
            reset_peak(pid)

    def peak_worker_rss_mb(self) -> float:
        peaks = [m.get("VmHWM", 0) for m in self.worker_memory().values()]
        return max(peaks, default=0) / 1024

    def stop(self) -> None:
        if self.process is None:
            return
        workers = self.worker_pids()
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)  # its own group: master and its workers only
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=10)
        for pid in workers:  # a worker that outlived its master: ours only if still in our group
            try:
                if os.getpgid(pid) == self.process.pid:
                    os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.process = None
        self.control_socket.unlink(missing_ok=True)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
