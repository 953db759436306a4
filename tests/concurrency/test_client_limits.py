"""Nothing a client sends can tie up the server: a real `linli serve` (two workers, SQLite) closes
connections that send no request headers in time, answers a stalled body with 408 and an
oversized one with 413 before reading it; read-your-writes waits hold no worker thread and are
bounded in time and in number."""
import os
import socket
import threading
import time

import pytest

from tests.concurrency.live import Server
from tests.support import ADMIN_TOKEN, Api, new_system


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("limits")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update(LINLI_DATA_DIR=str(logdir / "var"), LINLI_ADMIN_TOKEN=ADMIN_TOKEN, LINLI_TIMER_INTERVAL_SECONDS="0",
               LINLI_HEADER_TIMEOUT_SECONDS="1", LINLI_BODY_TIMEOUT_SECONDS="1", PYTHONUNBUFFERED="1")
    server = Server(env, logdir, workers=2).start()
    yield server
    server.stop()


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.settimeout(10)
    return sock


def closed_within(sock: socket.socket, seconds: float, drip: bytes = b"") -> float:
    """Seconds until the server closes the connection (dripping `drip` every 0.2 s meanwhile)."""
    started = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - started < seconds:
        try:
            if sock.recv(65536) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        try:
            if drip:
                sock.sendall(drip)
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - started
    raise AssertionError(f"the connection was still open after {seconds} s")


def answer(sock: socket.socket) -> str:
    """One whole response (head and Content-Length bytes of body)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            return received.decode("latin-1")
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += sock.recv(65536)
    return (head + b"\r\n\r\n" + body).decode("latin-1")


def test_a_connection_that_sends_no_request_is_closed_after_the_header_timeout(server):
    with connect(server) as sock:
        assert closed_within(sock, 5) < 3


def test_a_client_dripping_its_headers_is_cut_off_after_the_header_timeout(server):
    with connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: linli\r\n")
        assert closed_within(sock, 6, drip=b"X-Slow: 1\r\n") < 3


def test_a_body_that_stops_arriving_is_answered_408(server):
    with connect(server) as sock:
        sock.sendall(b"POST /demands HTTP/1.1\r\nHost: linli\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"title\":")
        started = time.monotonic()
        reply = answer(sock)
        assert reply.startswith("HTTP/1.1 408"), reply
        assert time.monotonic() - started < 3


def test_a_body_declared_larger_than_the_cap_is_refused_before_it_is_sent(server):
    with connect(server) as sock:
        sock.sendall(b"POST /demands HTTP/1.1\r\nHost: linli\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 104857600\r\n\r\n")
        reply = answer(sock)
        assert reply.startswith("HTTP/1.1 413"), reply
        assert "application/problem+json" in reply


def test_a_streamed_body_is_refused_as_soon_as_it_passes_the_cap(server):
    with connect(server) as sock:
        sock.sendall(b"POST /demands HTTP/1.1\r\nHost: linli\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65536
        sent = 0
        try:
            while sent < 8 * 1024 * 1024:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = answer(sock)
        assert reply.startswith("HTTP/1.1 413"), reply
        assert sent < 8 * 1024 * 1024 or reply  # refused, whether or not the rest was still accepted


def test_well_behaved_requests_are_served_meanwhile(server):
    with connect(server) as sock:
        for _ in range(3):  # on one connection, a second apart: its keep-alive outlives the header timeout
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: linli\r\n\r\n")
            assert answer(sock).startswith("HTTP/1.1 200")
            time.sleep(0.5)


@pytest.mark.postgres
def test_reads_waiting_for_read_models_hold_no_worker_thread_and_are_bounded(pg_url, pg_schema):
    """No projection worker runs, so the read models never reach the position: 45 reads wait (as in
    the probe that made /health take 4.6 s), at most 8 of them for 2 s, the rest refused at once."""
    system = new_system(database_url=pg_url, database_schema=pg_schema, pool_size=2, projections="worker",
                        max_position_waiters=8, position_wait_seconds=2)
    try:
        with Api.serving(system) as api:
            api.grid()
            head = system.projector.heads()["registry"]
            answers: list[tuple[int, float, str | None]] = []

            def wait_for_it() -> None:
                started = time.monotonic()
                response = api.client.get("/stats", params={"min_position": f"registry:{head}"})
                answers.append((response.status_code, time.monotonic() - started, response.headers.get("retry-after")))

            readers = [threading.Thread(target=wait_for_it) for _ in range(45)]
            for reader in readers:
                reader.start()
            time.sleep(0.5)
            started = time.monotonic()
            health = api.client.get("/health")
            health_seconds = time.monotonic() - started
            for reader in readers:
                reader.join(30)
    finally:
        system.shutdown()
    assert health.status_code == 200 and health_seconds < 1, health_seconds
    assert sorted(status for status, _, _ in answers) == [503] * 45
    assert all(retry == "1" for _, _, retry in answers)
    waited = [seconds for _, seconds, _ in answers if seconds >= 1.5]
    assert len(waited) == 8, sorted(seconds for _, seconds, _ in answers)
