"""Running the API under uvicorn, in one process or several."""
import socket

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

APP = "api.app:create_app"
# uvicorn's standard extras (uvloop here, httptools below), named rather than left to "auto" so that a
# missing one fails at start instead of silently falling back to asyncio's loop and h11 (issue 10).
LOOP = "uvloop"


class TcpConfig(uvicorn.Config):
    """uvicorn makes the socket its workers share without naming IPPROTO_TCP, so asyncio never
    sets TCP_NODELAY on their connections and each response waits ~40 ms for a delayed ACK
    (measured: query p50 48 ms with 2 workers, 5 ms with 1). The same socket, protocol named."""

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        tcp.set_inheritable(True)
        return tcp


class HeaderDeadline(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing a connection that has
    not sent a whole request's headers within `config.header_timeout` seconds of connecting or of
    its last response: uvicorn itself waits for headers as long as a client takes, so idle or
    dripping connections (slowloris) would be held for ever. Bodies have their own limit
    (api/gate.py)."""

    deadline = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.arm()

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before:  # a request's headers are complete
            self.disarm()
        elif self.deadline is None and (self.cycle is None or self.cycle.response_complete):
            self.arm()

    def connection_lost(self, exc) -> None:
        self.disarm()
        super().connection_lost(exc)

    def arm(self) -> None:
        self.deadline = self.loop.call_later(getattr(self.config, "header_timeout", 10.0), self.too_slow)

    def disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def too_slow(self) -> None:
        self.deadline = None
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()


def serve(host: str, port: int, workers: int, app: str = APP, factory: bool = True,
          header_timeout: float = 10.0) -> None:
    """`app` is an import string; the bench serves the CRUD peer through here too, so both sides
    run on the same sockets, event loop and HTTP parser."""
    config = TcpConfig(app, factory=factory, host=host, port=port, workers=workers, loop=LOOP, http=HeaderDeadline,
                       log_level="warning")
    config.header_timeout = header_timeout
    if workers == 1:
        uvicorn.Server(config).run()
        return
    Multiprocess(config, sockets=[config.bind_socket()]).run()
