"""The life cycle the stand-ins share: a WSGI app (the stand-in itself) served on 127.0.0.1 from a daemon
thread, stopped without hanging, usable as a context manager."""
from __future__ import annotations

import threading
from typing import Self

from werkzeug.serving import make_server


class LocalServer:
    """Subclasses set `_stopping` (a threading.Event, which wakes their sleeping requests on stop),
    `_server = None`, `_thread = None`, and start with `_serve(port, handler)`."""

    _thread_name = "standin"

    def _serve(self, port: int, handler, ssl_context=None) -> Self:
        """Bind 127.0.0.1 (port 0 = any free port) and serve from a daemon thread."""
        self._stopping.clear()
        self._server = make_server("127.0.0.1", port, self, threaded=True, request_handler=handler,
                                   ssl_context=ssl_context)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self._thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; wakes requests sleeping in a latency or a slow answer so this never hangs."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start() if self._server is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
