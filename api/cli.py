"""The `linli` command: serve, seed, tokens, workflows, projections, timers."""
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from api.settings import Settings
from domain.actors import Role

app = typer.Typer(help="Linli 邻里: event-sourced neighbourhood service marketplace.", no_args_is_help=True)
tokens_app = typer.Typer(help="Bearer tokens.", no_args_is_help=True)
workflows_app = typer.Typer(help="Lifecycles as tables and diagrams.", no_args_is_help=True)
projections_app = typer.Typer(help="Read models: status and rebuild.", no_args_is_help=True)
timers_app = typer.Typer(help="Deadlines: expiry and no-show.", no_args_is_help=True)
for sub, name in ((tokens_app, "tokens"), (workflows_app, "workflows"), (projections_app, "projections"),
                  (timers_app, "timers")):
    app.add_typer(sub, name=name)
console = Console()


def _system():
    from api.wiring import Linli

    return Linli(Settings())


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers)


@app.command()
def seed(scale: Annotated[str, typer.Option(help="a fraction of Fuzhou, or 'fuzhou'")] = "0.01",
         seed: Annotated[int, typer.Option(help="random seed: the same seed gives the same city")] = 7,
         if_empty: Annotated[bool, typer.Option(help="do nothing when the store already holds events")] = False) -> None:
    """Generate a city through the applications, with progress bars."""
    from api.seed import Seeder

    fraction = 1.0 if scale == "fuzhou" else float(scale)
    system = _system()
    try:
        if if_empty and not system.is_empty():
            console.print("store already holds a city; not seeding")
            return
        seeder, started = Seeder(system, fraction, seed), time.perf_counter()
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn())
        with Progress(*columns, console=console) as progress:
            for label, total, make in seeder.stages():
                task = progress.add_task(label, total=total)
                for n in range(total):
                    make(n)
                    progress.advance(task)
            task = progress.add_task("读模型 read models", total=None)
            system.projector.catch_up()
            progress.update(task, total=1, completed=1)
        events = sum(a.recorder.max_notification_id() or 0 for a in system.contexts.values())
        elapsed = time.perf_counter() - started
        console.print(f"seeded {events:,} events in {elapsed:.1f}s ({events / elapsed:,.0f} events/s)")
    finally:
        system.shutdown()


@tokens_app.command("create")
def create_token(role: Role, subject: Annotated[str, typer.Option(help="the organisation/member/department id")] = "admin",
                 name: str = "cli") -> None:
    """Issue a bearer token and print it (it is stored hashed and cannot be shown again)."""
    from api.routes.tokens import issue

    system = _system()
    try:
        console.print(issue(system, role, subject, name))
    finally:
        system.shutdown()


@workflows_app.command("show")
def show_workflow(name: str) -> None:
    """Print a lifecycle as a mermaid state diagram."""
    from domain.lifecycles import LIFECYCLES

    if name not in LIFECYCLES:
        raise typer.BadParameter(f"one of {', '.join(LIFECYCLES)}")
    print(LIFECYCLES[name].mermaid())


@projections_app.command("status")
def projections_status() -> None:
    """Each read model's position in each context log, and its lag."""
    system = _system()
    try:
        heads, table = system.projector.heads(), Table("view", "context", "position", "head", "lag")
        for view, positions in system.projector.positions().items():
            for context, position in positions.items():
                table.add_row(view, context, str(position), str(heads[context]), str(heads[context] - position))
        console.print(table)
    finally:
        system.shutdown()


@projections_app.command("rebuild")
def projections_rebuild() -> None:
    """Drop the read models and apply every event again."""
    system = _system()
    try:
        started = time.perf_counter()
        applied = system.projector.rebuild()
        console.print(f"rebuilt from {applied:,} events in {time.perf_counter() - started:.1f}s")
    finally:
        system.shutdown()


@timers_app.command("run")
def run_timers(interval: float = 30.0, once: bool = False) -> None:
    """Fire due deadlines (expiry, no-show) every interval."""
    system = _system()
    try:
        while True:
            fired = system.timers.tick()
            console.print(f"fired {fired} deadline(s)")
            if once:
                return
            time.sleep(interval)
    finally:
        system.shutdown()
