"""`make screenshots`: the README's screenshots of the Shop list, taken from the demo in Chromium.

Starts `python -m devtools.demo` (stand-in Amazon, demo shops in every state) on a free port with a
throw-away instance folder, signs in as the demo admin in Chinese and saves

- docs/screenshot-shops.png        desktop, 1440x900
- docs/screenshot-shops-phone.png  phone, 390x844 (2x pixels)

Needs Playwright (requirements-dev.txt), Debian's chromium (/usr/bin/chromium, or $CHROMIUM) and a CJK
font (fonts-wqy-microhei or fonts-noto-cjk), without which Chinese renders as boxes.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = (
    # file, viewport, device scale factor
    ("screenshot-shops.png", {"width": 1440, "height": 900}, 1),
    ("screenshot-shops-phone.png", {"width": 390, "height": 844}, 2),
)
READY = re.compile(r"Shop Portal demo on (http://\S+?)/? ")
ADMIN = re.compile(r"admin:\s+(\S+)\s+password:\s+(\S+)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DOCS, help="folder for the PNG files (default: docs/)")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for the demo to start")
    args = parser.parse_args(argv)
    if not Path(args.chromium).exists():
        sys.exit(f"Chromium not found at {args.chromium} (apt-get install chromium, or set CHROMIUM)")
    if not _has_cjk_font():
        print("warning: no CJK font found (apt-get install fonts-wqy-microhei): Chinese will show as boxes",
              file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="portal-screenshots-") as instance, _demo(instance, args.timeout) as demo:
        url, email, password = demo
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            try:
                for name, viewport, scale in SHOTS:
                    _shoot(browser, url, email, password, viewport, scale, args.out / name)
            finally:
                browser.close()
    return 0


def _shoot(browser, url: str, email: str, password: str, viewport: dict, scale: int, path: Path) -> None:
    context = browser.new_context(locale="zh-CN", viewport=viewport, device_scale_factor=scale)
    context.set_default_timeout(30_000)
    try:
        page = context.new_page()
        page.goto(url + "/login")
        page.locator("input[name=email]").fill(email)
        page.locator("input[name=password]").fill(password)
        page.locator("form button[type=submit]").click()
        page.wait_for_url(re.compile(r".*/shops(\?.*)?$"))
        page.goto(url + "/shops")  # again, without the sign-in message
        expect(page.locator("#results tbody tr").first).to_be_visible()
        page.evaluate("document.fonts.ready.then(() => true)")
        page.screenshot(path=str(path))
        print(f"saved {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    finally:
        context.close()


class _demo:
    """The demo server as a child process: yields (url, admin email, admin password), stops it after."""

    def __init__(self, instance: str, timeout: float):
        self.instance, self.timeout = instance, timeout
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> tuple[str, str, str]:
        env = {**os.environ, "INSTANCE_PATH": self.instance, "PYTHONUNBUFFERED": "1"}
        env.pop("DATABASE_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devtools.demo", "--host", "127.0.0.1", "--port", str(_free_port())],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines: list[str] = []
        reader = threading.Thread(target=self._read, args=(lines,), daemon=True)
        reader.start()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            text = "".join(lines)
            ready, admin = READY.search(text), ADMIN.search(text)
            if ready and admin:
                return ready.group(1), admin.group(1), admin.group(2)
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        self.__exit__()
        sys.exit("the demo did not start:\n" + "".join(lines)[-3000:])

    def _read(self, lines: list[str]) -> None:
        for line in self.process.stdout:
            lines.append(line)

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _has_cjk_font() -> bool:
    if not shutil.which("fc-list"):
        return True  # cannot tell
    found = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True)
    return bool(found.stdout.strip())


if __name__ == "__main__":
    sys.exit(main())
