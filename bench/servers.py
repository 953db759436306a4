"""Start and stop the servers under test as subprocesses, and read their peak memory."""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
PEER_DIR = REPO.parent / "shared" / "peers"


def free_port() -> int:
    """A port nobody listens on now: benches of several worktrees may run at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


class Process:
    def __init__(self, args: list[str], env: dict, ready_url: str | None = None):
        with tempfile.NamedTemporaryFile("w", prefix="linli-bench-", suffix=".log", delete=False) as log:
            self.log = Path(log.name)  # what it printed, named when it fails
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(args, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        if ready_url:
            _wait(ready_url)

    def check_running(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{' '.join(self.proc.args[1:4])} exited ({self.proc.returncode}); see {self.log}")

    def peak_rss_mb(self) -> float:
        """Peak resident memory (VmHWM) of the process and its children (uvicorn workers)."""
        total = 0
        for pid in [self.proc.pid, *children(self.proc.pid)]:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total = max(total, int(line.split()[1]))
            except OSError:
                continue
        return round(total / 1024, 1)

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.unlink(missing_ok=True)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().split(") ")[1].split()[1]) == pid:
                    found += [int(entry.name), *children(int(entry.name))]
            except (OSError, IndexError, ValueError):
                continue
    return found


def linli(env: dict, port: int, workers: int, projections: str = "inline") -> Process:
    args = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--projections", projections]
    return Process(args, env, f"http://127.0.0.1:{port}/health")


def projection_worker(env: dict) -> Process:
    return Process([sys.executable, "-m", "api.cli", "projections", "run", "--poll", "0.5"], env)


def peer(dsn: str, port: int, workers: int) -> Process:
    """The peer as its docstring says to run it, on the same uvicorn sockets as Linli (api.serving)."""
    code = (f"from api.serving import serve; serve('127.0.0.1', {port}, {workers}, 'crud_claims:app', False)")
    env = {"PEER_DATABASE_URL": dsn, "PYTHONPATH": os.pathsep.join([str(PEER_DIR), str(REPO)])}
    return Process([sys.executable, "-c", code], env, f"http://127.0.0.1:{port}/docs")
