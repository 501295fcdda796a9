"""Run any ASGI app under a real uvicorn server in a background thread, for tests.

    with LiveServer(app) as server:
        httpx.get(server.url + "/")

The socket is bound before the thread starts (port 0 = a free one chosen by the OS), so there is
no window in which another process could take the port; ``__enter__`` returns once the server
accepts connections, and ``__exit__`` stops it and joins the thread.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any, Literal, Self

import uvicorn


class LiveServer:
    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 10.0,
                 shutdown_timeout: float = 5.0, log_level: str = "warning",
                 lifespan: Literal["on", "off", "auto"] = "on") -> None:
        self.app = app
        self.host = host
        self._requested_port = port
        self._startup_timeout = startup_timeout
        self._shutdown_timeout = shutdown_timeout
        # lifespan "on", not "auto": "auto" logs a failing startup and serves anyway, hiding the cause.
        # A short graceful timeout: open long polls or keep-alive clients must not stall a teardown.
        # Keep-alive longer than any pause in a test: with uvicorn's 5 s, a client that waited about 5 s
        # (a delivery retried after 5 s) sent its next request on the connection the server was closing,
        # and got "connection reset by peer".
        self._config = uvicorn.Config(app, log_level=log_level, lifespan=lifespan, timeout_keep_alive=120,
                                      timeout_graceful_shutdown=max(1, int(shutdown_timeout) - 1))
        self._server = uvicorn.Server(self._config)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.port = 0

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("the server is not running")
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("a LiveServer can be started once")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._run, args=(sock,), name=f"LiveServer:{self.port}",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not self._server.started:
            if not self._thread.is_alive():
                self.port = 0
                raise RuntimeError("the server failed to start") from self._error
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the server did not start within {self._startup_timeout} s")
            time.sleep(0.01)

    def _run(self, sock: socket.socket) -> None:
        try:
            self._server.run(sockets=[sock])
        except BaseException as exc:  # surfaced by start(); a thread has no one else to tell
            self._error = exc
        finally:
            sock.close()

    def stop(self) -> None:
        thread = self._thread
        if thread is None:
            return
        self._server.should_exit = True
        thread.join(self._shutdown_timeout)
        if thread.is_alive():
            self._server.force_exit = True
            thread.join(self._shutdown_timeout)
        if thread.is_alive():
            raise RuntimeError(f"the server on port {self.port} did not stop")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
