"""`linli serve` runs on uvicorn's standard extras, as the CRUD peer does under `make bench`
(both are served through api/serving.py): uvloop's event loop and httptools' HTTP parser."""
import time
from pathlib import Path

from bench import servers


def _loaded(pid: int) -> str:
    """The shared objects the process has mapped."""
    try:
        return Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ""


def test_every_server_process_runs_on_uvloop_and_httptools(tmp_path):
    env = {"LINLI_DATA_DIR": str(tmp_path), "LINLI_TIMER_INTERVAL_SECONDS": "0", "LINLI_DATABASE_URL": ""}
    server = servers.linli(env, servers.free_port(), workers=2)
    try:
        deadline, serving = time.monotonic() + 60, []
        while len(serving) < 2 and time.monotonic() < deadline:  # the second worker may still be starting
            time.sleep(0.2)
            serving = [pid for pid in servers.children(server.proc.pid) if "/httptools/" in _loaded(pid)]
        assert len(serving) == 2
        assert all("/uvloop/" in _loaded(pid) for pid in serving)
    finally:
        server.stop()
