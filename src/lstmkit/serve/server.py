"""Running the app with uvicorn: on a socket bound first (so ``--port 0`` can say which port it
got), in the foreground (``lstmkit serve``) or in a background thread (tests, docs, benchmarks).
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from lstmkit.errors import LstmkitError


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port=0``: a free port the system picks)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as error:
        raise LstmkitError(f"--host {host}: cannot resolve it ({error.strerror})") from None
    # proto=IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets whose proto says
    # TCP, and without it Nagle's algorithm and delayed ACKs add ~40 ms to every response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise LstmkitError(f"cannot listen on {host}:{port}: {error.strerror}"
                           + ("; is another server using that port? try --port 0 for a free one"
                              if error.errno == 98 else "")) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket (IPv6 hosts in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def make_server(app, log_level: str = "info", access_log: bool = False) -> uvicorn.Server:
    """A uvicorn server for ``app``: HTTP/1.1 on httptools (C parser) and the uvloop event loop
    (libuv), which uvicorn picks when they are installed (they are dependencies of lstmkit)."""
    return uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=access_log,
                                         timeout_graceful_shutdown=5))


class ServerThread:
    """``app`` served on ``host`` and a free port in a daemon thread, as a context manager.

    >>> with ServerThread(create_app(model)) as server:     # doctest: +SKIP
    ...     httpx.get(server.url + "/health")
    """

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning") -> None:
        self.sock = bind(host, port)
        self.url = url_of(self.sock)
        self.server = make_server(app, log_level=log_level)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       name="lstmkit-serve", daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
