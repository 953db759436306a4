"""Running the API under uvicorn, in one process or several."""
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

APP = "api.app:create_app"
# uvicorn's standard extras, named rather than left to "auto" so that a missing one fails at start
# instead of silently falling back to asyncio's loop and h11 (issue 10).
LOOP, HTTP = "uvloop", "httptools"


class TcpConfig(uvicorn.Config):
    """uvicorn makes the socket its workers share without naming IPPROTO_TCP, so asyncio never
    sets TCP_NODELAY on their connections and each response waits ~40 ms for a delayed ACK
    (measured: query p50 48 ms with 2 workers, 5 ms with 1). The same socket, protocol named."""

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        tcp.set_inheritable(True)
        return tcp


def serve(host: str, port: int, workers: int, app: str = APP, factory: bool = True) -> None:
    """`app` is an import string; the bench serves the CRUD peer through here too, so both sides
    run on the same sockets, event loop and HTTP parser."""
    if workers == 1:
        uvicorn.run(app, factory=factory, host=host, port=port, loop=LOOP, http=HTTP, log_level="warning")
        return
    config = TcpConfig(app, factory=factory, host=host, port=port, workers=workers, loop=LOOP, http=HTTP,
                       log_level="warning")
    Multiprocess(config, sockets=[config.bind_socket()]).run()
