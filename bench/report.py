"""The bench's answer: ratios to the baselines of the same run, the tables, and the JSON file."""
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import shapes

console = Console()


def ratios(r: dict) -> None:
    r["ratios"] = {
        **{f"claims_{shape}_vs_peer": round(r["d_linli"][shape]["ok_per_second"]
                                            / max(r["d_peer"][shape]["ok_per_second"], 1e-9), 2)
           for shape in shapes.SHAPES},
        "mix_vs_single_row_32": round(r["d_mix"]["ok_per_second"] / max(r["a_single_row_32"]["per_second"], 1e-9), 2),
        "seed_vs_batched_rows": round(r["b_seed"]["per_second"] / max(r["a_batched"]["per_second"], 1e-9), 2),
        "rebuild_vs_batched_rows": round(r["c_rebuild"]["per_second"] / max(r["a_batched"]["per_second"], 1e-9), 2),
    }


def errors(figures: dict) -> str:
    """0, or each kind of failure with its count: 409 (by problem type), 503, other 5xx, timeouts,
    other 4xx, socket errors."""
    names = {"409": "409", "503": "503", "5xx": "5xx", "timeouts": "timeouts", "other_4xx": "4xx",
             "socket_errors": "socket"}
    found = [f"{names[k]} ×{n:,}" for k, n in figures["error_split"].items() if n]
    if figures["error_split"]["409"]:
        kinds = ", ".join(f"{k.removeprefix('409 ') or 'untyped'} {n:,}" for k, n in figures["problems"].items()
                          if k.startswith("409 "))
        found[0] += f" ({kinds})"
    return ", ".join(found) or "0"


def tables(r: dict) -> None:
    claims = Table("shape", "peer 2xx/s", "p99 ms", "errors", "Linli 2xx/s", "p99 ms", "errors", "Linli / peer",
                   title=f"Claims, {r['connections']} connections, {r['seconds']:g} s each, client {r['client']}")
    for shape in shapes.SHAPES:
        p, li = r["d_peer"][shape], r["d_linli"][shape]
        claims.add_row(shape, f"{p['ok_per_second']:,}", f"{p['p99_ms']}", errors(p), f"{li['ok_per_second']:,}",
                       f"{li['p99_ms']}", errors(li), f"{r['ratios'][f'claims_{shape}_vs_peer']}×")
    console.print(claims)
    hot = r["d_hot_invariant"]
    console.print(f"hot demand after the run: needed {hot['needed']}, {hot['claims']:,} claims, {hot['confirmed']} "
                  f"confirmed, {hot['waitlisted']:,} waitlisted ({hot['answered_201']:,} answered 201)")
    for check, held in hot["checks"].items():
        console.print(f"  {'[green]✓[/green]' if held else '[red]✗[/red]'} {check}")
    table = Table("figure", "value", "ratio to baseline", title=f"Linli bench, scale {r['scale']}")
    table.add_row("a. insert+commit, 1 client", f"{r['a_single_row_1']['per_second']:,}/s", "")
    table.add_row("a. insert+commit, 32 clients", f"{r['a_single_row_32']['per_second']:,}/s", "")
    table.add_row("a. batched inserts", f"{r['a_batched']['per_second']:,} rows/s", "")
    b = r["b_seed"]
    table.add_row("b. seed", f"{b['per_second']:,} events/s ({b['events']:,} events, {b['months']} months): "
                  f"contexts {b['seconds']} s + read models and deadlines {b['projection_catch_up_seconds']} s "
                  f"= {b['total_seconds']} s", f"{r['ratios']['seed_vs_batched_rows']}× batched rows")
    table.add_row("c. projection rebuild", f"{r['c_rebuild']['per_second']:,} events/s",
                  f"{r['ratios']['rebuild_vs_batched_rows']}× batched rows")
    d = r["d_mix"]
    table.add_row(f"d. command mix, {r['connections']} connections",
                  f"{d['ok_per_second']:,} commands/s p50 {d['p50_ms']} p99 {d['p99_ms']} ms, errors {errors(d)}",
                  f"{r['ratios']['mix_vs_single_row_32']}× single-row commits (32)")
    behind = ", ".join(f"{s} {r['d_linli'][s]['worker_caught_up_seconds']} s" for s in shapes.SHAPES)
    table.add_row("d. projection worker caught up", f"after claims: {behind}; after the mix "
                  f"{r['d_worker_catch_up_seconds']} s", "")
    for name, q in r["e_queries"].items():
        table.add_row(f"e. {name}", f"p50 {q['p50_ms']} p99 {q['p99_ms']} ms", "")
    table.add_row("f. replay 1,000 events", f"head {r['f_replay']['head_ms']} ms, v500 {r['f_replay']['version_500_ms']} ms", "")
    table.add_row("g. peak RSS", f"server {r['g_server_peak_rss_mb']} MB, worker {r['g_worker_peak_rss_mb']} MB, "
                  f"peer {r['d_peer']['peak_rss_mb']} MB", "")
    console.print(table)


def write(r: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(r, ensure_ascii=False, indent=2, default=str)
    (out / "latest.json").write_text(text)
    console.print(f"written to {out / 'latest.json'}")
