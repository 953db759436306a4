"""Run a load with wrk (bench/wrk.lua): a C client that leaves the servers the CPU a Python client
would take (issue 10: the peer showed 645 claims/s under the Python client, 1,150–1,370/s under wrk).

The workload is data: one lane per wrk thread, written as Lua files into a temporary directory."""
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench import load

SCRIPT = Path(__file__).with_name("wrk.lua")
TIMEOUT_SECONDS = 2  # wrk's default: a claim unanswered after 2 s counts as a timeout


def available() -> bool:
    return shutil.which("wrk") is not None


def lua(value) -> str:
    """A Python value (str, int, float, bool, None, list, dict) as a Lua literal."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, list | tuple):
        return "{" + ",".join(lua(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(f"[{lua(k)}]={lua(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no Lua literal for {type(value).__name__}")


def run(base: str, workload: dict, lanes: list[dict], seconds: float, connections: int) -> dict:
    """wrk with one thread per lane and `connections` connections in all, for `seconds`.

    `workload` is what every lane shares (kind "claims" or "mix", and the mix's tokens and slots)."""
    with tempfile.TemporaryDirectory(prefix="linli-wrk-") as tmp:
        data = Path(tmp) / "data.lua"
        files = []
        for i, lane in enumerate(lanes, start=1):
            files.append(Path(tmp) / f"lane{i}.lua")
            files[-1].write_text(f"return {lua(lane)}\n")
        data.write_text(f"local data = {lua(workload)}\ndata.lanes = {{"
                        + ",".join(f"dofile({lua(str(f))})" for f in files) + "}\nreturn data\n")
        args = ["wrk", "-t", str(len(lanes)), "-c", str(max(connections, len(lanes))), "-d", f"{max(1, round(seconds))}s",
                "--timeout", f"{TIMEOUT_SECONDS}s", "-s", str(SCRIPT), base, "--", str(data)]
        done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 120)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK-JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return figures(json.loads(line.removeprefix("WRK-JSON ")))


def figures(raw: dict) -> dict:
    """wrk's answer in the bench's terms: throughput, latency, and every answer that was not 2xx."""
    seconds = raw["duration_us"] / 1e6
    statuses = {int(k): v for k, v in raw["statuses"].items()}
    socket_errors = raw["connect_errors"] + raw["read_errors"] + raw["write_errors"]
    return load.summarise(statuses, raw["problems"], raw["timeouts"], socket_errors, seconds,
                          p50_ms=round(raw["p50_us"] / 1000, 2), p99_ms=round(raw["p99_us"] / 1000, 2),
                          mean_ms=round(raw["mean_us"] / 1000, 2), client="wrk")
