"""Running the API under uvicorn, in one process or several."""
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

APP = "api.app:create_app"


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
    run on the same sockets."""
    if workers == 1:
        uvicorn.run(app, factory=factory, host=host, port=port, log_level="warning")
        return
    config = TcpConfig(app, factory=factory, host=host, port=port, workers=workers, log_level="warning")
    Multiprocess(config, sockets=[config.bind_socket()]).run()
