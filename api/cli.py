"""The `linli` command: serve, seed, tokens, workflows, projections, timers."""
import time
from pathlib import Path
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
projections_app = typer.Typer(help="Read models: status, run, retry and rebuild.", no_args_is_help=True)
timers_app = typer.Typer(help="Deadlines: expiry and no-show.", no_args_is_help=True)
db_app = typer.Typer(help="Database: migrate as the owner, roles (PostgreSQL).", no_args_is_help=True)
audit_app = typer.Typer(help="Audit: verify, anchor, keygen, history, state, export.", no_args_is_help=True)
people_app = typer.Typer(help="Personal data: erase a member (PIPL).", no_args_is_help=True)
for sub, name in ((tokens_app, "tokens"), (workflows_app, "workflows"), (projections_app, "projections"),
                  (timers_app, "timers"), (audit_app, "audit"), (db_app, "db"), (people_app, "people")):
    app.add_typer(sub, name=name)
console = Console()


def _system():
    from api.wiring import Linli

    return Linli(Settings())


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          projections: Annotated[str, typer.Option(help="inline, or worker (PostgreSQL: run `linli projections run`)")]
          = "inline") -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    import os

    from api import serving

    if projections not in ("inline", "worker"):
        raise typer.BadParameter("inline or worker")
    os.environ["LINLI_PROJECTIONS"] = projections  # read by each worker process's Settings
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    typer.echo(f"邻里 serving at http://{shown}:{port}/ (console) and the JSON API (docs at /docs)\n"
               f"sign in at http://{shown}:{port}/console/signin with a token: `linli tokens demo` (demo store), "
               "`linli tokens create <role> --subject <id>`, or LINLI_ADMIN_TOKEN")
    serving.serve(host, port, workers, header_timeout=Settings().header_timeout_seconds)


@app.command()
def seed(scale: Annotated[str, typer.Option(help="a fraction of Fuzhou, or 'fuzhou'")] = "0.01",
         seed: Annotated[int, typer.Option(help="random seed: the same seed gives the same city")] = 7,
         until: Annotated[str | None, typer.Option(help="the history's end (ISO date or time); default today's "
                                                        "midnight, city time")] = None,
         serial: Annotated[bool, typer.Option(help="seed the contexts one after another in this process")] = False,
         if_empty: Annotated[bool, typer.Option(help="do nothing when the store already holds events")] = False) -> None:
    """Generate a city with 24 months of history through the applications, with progress bars."""
    from datetime import datetime

    from api.seed import seed_city
    from api.wiring import Linli
    from domain.city import CITY_TZ
    from workflows.clock import FakeClock

    fraction = 1.0 if scale == "fuzhou" else float(scale)
    end = None
    if until is not None:
        end = datetime.fromisoformat(until)
        end = end if end.tzinfo else end.replace(tzinfo=CITY_TZ)
    system = Linli(Settings(), FakeClock(end))
    try:
        if not system.is_empty():
            console.print("store already holds a city; not seeding (seed into an empty store)")
            if if_empty:
                return
            raise typer.Exit(1)
        started = time.perf_counter()
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn())
        with Progress(*columns, console=console) as progress:
            tasks: dict[str, int] = {}

            def report(label: str, total: int, done: int) -> None:
                if label not in tasks:
                    tasks[label] = progress.add_task(label, total=total)
                progress.update(tasks[label], completed=done)

            timings = seed_city(system, fraction, seed, end, parallel=not serial, progress=report)
        events = sum(a.recorder.max_notification_id() or 0 for a in system.contexts.values())
        elapsed = time.perf_counter() - started
        console.print(f"seeded {events:,} events in {elapsed:.1f}s ({events / elapsed:,.0f} events/s): "
                      f"contexts {timings['seed_seconds']}s, read models and deadlines "
                      f"{timings['read_models_seconds']}s ({timings['deadlines_fired']:,} deadlines fired)")
    finally:
        system.shutdown()


@tokens_app.command("create")
def create_token(role: Role, subject: Annotated[str, typer.Option(help="the organisation/member/department id")] = "admin",
                 name: str = "cli", expires_in_days: int = 90) -> None:
    """Issue a bearer token and print it (it is stored hashed and cannot be shown again)."""
    from api.routes.tokens import issue

    system = _system()
    try:
        minted = issue(system, role, subject, name, expires_in_days)
        console.print(f"{minted['token']}\n[dim]id {minted['id']}, expires {minted['expires_at']}[/dim]")
    finally:
        system.shutdown()


@tokens_app.command("demo")
def demo_tokens(seed: Annotated[int, typer.Option(help="the seed the demo city was made with")] = 7) -> None:
    """Print a one-day sign-in token for one demo account of each role (embedded demo store only)."""
    from api.console.demo import demo_accounts

    system = _system()
    try:
        if system.settings.postgres:
            console.print("demo tokens are for the embedded demo store only; use `linli tokens create`")
            raise typer.Exit(1)
        console.print("demo accounts (tokens valid for one day; paste one at /console/signin):")
        for minted in demo_accounts(system, seed):
            typer.echo(f"  {minted['role']:8} {minted['subject_id']:36}  {minted['token']}")
    finally:
        system.shutdown()


@tokens_app.command("list")
def list_tokens() -> None:
    """Every token's id, role, subject, name and life (never the secret)."""
    system = _system()
    try:
        _, rows = system.tokens.listing(1_000_000, 0)
    finally:
        system.shutdown()
    table = Table("id", "role", "subject", "name", "created", "expires", "revoked")
    for r in rows:
        table.add_row(r["id"], r["role"], r["subject_id"], r["name"], r["created_at"], r["expires_at"] or "",
                      f"{r['revoked_at']} ({r['revoke_reason']})" if r["revoked_at"] else "")
    console.print(table)


@tokens_app.command("revoke")
def revoke_token(token_id: str, reason: Annotated[str, typer.Option(help="why (kept with the token)")]) -> None:
    """Revoke a token: every process refuses it within a second."""
    from datetime import UTC, datetime

    from domain.errors import NotFoundError

    system = _system()
    try:
        revoked = system.tokens.revoke(token_id, reason, datetime.now(UTC))
    except NotFoundError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    finally:
        system.shutdown()
    console.print(f"revoked {revoked['id']} at {revoked['revoked_at']}")


@people_app.command("erase")
def erase_person(member_id: str, reason: Annotated[str, typer.Option(help="why (recorded with the erasure)")],
                 by: Annotated[str, typer.Option(help="the operator's id, recorded as who erased")] = "admin") -> None:
    """Forget a member: destroy the key of their personal data, which then reads 已删除 everywhere,
    while every hash and signed checkpoint still verifies. Running it again changes nothing."""
    from api.erasure import erase_member
    from domain.actors import Actor
    from domain.errors import DomainError
    from workflows.engine import Meta

    system = _system()
    try:
        outcome = erase_member(system, Meta(Actor(by, Role.ADMIN), reason=reason), member_id)
    except DomainError as error:
        console.print(f"[red]{error}[/red]", highlight=False)
        raise typer.Exit(1) from None
    finally:
        system.shutdown()
    console.print(f"member {outcome.value.id} erased (version {outcome.value.version})")


@workflows_app.command("show")
def show_workflow(name: str) -> None:
    """Print a lifecycle as a mermaid state diagram."""
    from domain.lifecycles import LIFECYCLES

    if name not in LIFECYCLES:
        raise typer.BadParameter(f"one of {', '.join(LIFECYCLES)}")
    print(LIFECYCLES[name].mermaid())


@projections_app.command("status")
def projections_status() -> None:
    """Each read model's position in each context log, its lag, and where any read model stopped."""
    system = _system()
    try:
        heads, table = system.projector.heads(), Table("view", "context", "position", "head", "lag", "state")
        stopped = {(s.view, s.context): s for s in system.projector.stops()}
        for view, positions in system.projector.positions().items():
            for context, position in positions.items():
                state = "[red]stopped[/red]" if (view, context) in stopped else "running"
                table.add_row(view, context, str(position), str(heads[context]), str(heads[context] - position), state)
        console.print(table)
        _print_stops(list(stopped.values()))
    finally:
        system.shutdown()


def _views(system, names: list[str] | None):
    known = {v.name: v for v in system.projector.views}
    unknown = sorted(set(names or ()) - set(known))
    if unknown:
        raise typer.BadParameter(f"no read model {', '.join(unknown)} (known: {', '.join(known)})")
    return [known[n] for n in names] if names else None


def _print_stops(stops) -> None:
    for s in stops:
        console.print(f"[red]{s.view}[/red] stopped at {s.context} position {s.position} ({s.event_type}, "
                      f"aggregate {s.aggregate_id} version {s.version}) since {s.stopped_at}: {s.error}")
    if stops:
        console.print("after fixing the cause: linli projections retry [--name VIEW]")


@projections_app.command("retry")
def projections_retry(name: Annotated[list[str] | None, typer.Option(help="only these read models")] = None) -> None:
    """Resume read models stopped at an event they could not apply (after the fix); exit 1 if one stops again."""
    system = _system()
    try:
        remaining = system.projector.retry(_views(system, name))
    finally:
        system.shutdown()
    _print_stops(remaining)
    if remaining:
        raise typer.Exit(1)
    console.print("every read model is running")


@projections_app.command("rebuild")
def projections_rebuild(name: Annotated[list[str] | None, typer.Option(help="only these read models")] = None) -> None:
    """Build read models again from every event beside the live ones, then switch atomically."""
    from projections.projector import ViewStoppedError

    system = _system()
    try:
        views = _views(system, name)
        started = time.perf_counter()
        try:
            applied = system.projector.rebuild(views)
        except ViewStoppedError as error:
            console.print(f"[red]not rebuilt[/red] (the live read models are unchanged): {error}")
            raise typer.Exit(1) from None
        elapsed = time.perf_counter() - started
        console.print(f"rebuilt from {applied:,} events in {elapsed:.1f}s ({applied / max(elapsed, 1e-9):,.0f} events/s)")
    finally:
        system.shutdown()


@projections_app.command("run")
def projections_run(name: Annotated[list[str] | None, typer.Option(help="only these read models")] = None,
                    poll: float = 1.0) -> None:
    """Follow the event logs and keep read models current (PostgreSQL); several may run at once."""
    import logging
    import signal
    import threading

    from projections.worker import ProjectionWorker

    settings = Settings()
    if not settings.postgres:
        raise typer.BadParameter("projection workers need PostgreSQL; SQLite projects inline")
    if settings.pool_size < 2:
        raise typer.BadParameter("a projection worker needs LINLI_POOL_SIZE of at least 2 (one listens)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    system, stop = _system(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        ProjectionWorker(system.projector, name, poll).run(stop)
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


def _read_only(public_key: Path | None = None):
    """The stores opened for reading only (api.audit_store), with the public key to check against."""
    from dataclasses import replace

    from api.audit_store import ReadOnlyStore
    from projections.signing import load_public

    store = ReadOnlyStore(Settings())
    if public_key is not None:
        store.audit_key = replace(store.audit_key, public=load_public(public_key.read_bytes()))
    return store


@audit_app.command("verify")
def audit_verify(public_key: Annotated[Path | None, typer.Option(help="the Ed25519 public key (PEM) to check "
                                                                       "checkpoints with")] = None,
                 anchor: Annotated[Path | None, typer.Option(help="a published anchor the store must still "
                                                                   "hold and extend")] = None) -> None:
    """Recompute every context's chain, checkpoints and audit index from the events, reading only;
    exit 1 naming each problem."""
    import json

    from projections.chain import hold_anchor, verify

    store = _read_only(public_key)
    try:
        findings = verify(store.db, store.contexts, store.audit_key)
        if anchor is not None:
            findings += hold_anchor(store.db, json.loads(anchor.read_text(encoding="utf-8")), store.audit_key)
    finally:
        store.shutdown()
    for f in findings:
        console.print(f"[red]{f.context}[/red] position {f.position}: {f.problem}", highlight=False)
    if findings:
        raise typer.Exit(1)
    signed = store.audit_key.public is not None
    console.print("history verifies" + ("" if signed else " (unsigned: no public key; pass --public-key)"))


@audit_app.command("keygen")
def audit_keygen(private: Annotated[Path, typer.Option(help="where the signing key goes (mode 600)")]
                 = Path("audit-key.pem"),
                 public: Annotated[Path, typer.Option(help="where the public key goes")]
                 = Path("audit-key.pub.pem")) -> None:
    """Make an Ed25519 key pair: the private key for LINLI_AUDIT_KEY_FILE, the public one for auditors."""
    import os

    from projections.signing import generate

    for path in (private, public):
        if path.exists():
            raise typer.BadParameter(f"{path} exists; not overwriting a key")
    private_pem, public_pem = generate()
    descriptor = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(private_pem)
    public.write_bytes(public_pem)
    console.print(f"signing key: {private} (set LINLI_AUDIT_KEY_FILE; keep it out of the database)\n"
                  f"public key: {public} (give it to auditors: linli audit verify --public-key {public})")


@audit_app.command("anchor")
def audit_anchor() -> None:
    """Print the newest signed checkpoint of each context as JSON, to publish outside the database."""
    import json

    from projections.chain import anchor

    store = _read_only()
    try:
        print(json.dumps(anchor(store.db, store.contexts), sort_keys=True))
    finally:
        store.shutdown()


@db_app.command("migrate")
def db_migrate() -> None:
    """As the owner: create every missing table and bring old ones up to date, then exit. Processes
    started as the API role (`linli db roles`) run no DDL and need this done first."""
    from api.wiring import Linli

    system = Linli(Settings(migrate="auto"))
    try:
        if not system.migrating:
            console.print("[red]this role does not own the schema: run `linli db migrate` as the owner[/red]")
            raise typer.Exit(1)
    finally:
        system.shutdown()
    console.print("tables created and up to date")


@db_app.command("roles")
def db_roles(api: Annotated[str, typer.Option(help="the role the API and workers log in as")] = "linli_api",
             auditor: Annotated[str, typer.Option(help="a role that may only read")] = "linli_auditor",
             dry_run: Annotated[bool, typer.Option(help="print the SQL instead of running it")] = False) -> None:
    """As the owner, after migrating: the API role may INSERT and SELECT history but never UPDATE,
    DELETE or TRUNCATE it; the auditor role may only read. Set their passwords with ALTER ROLE."""
    import psycopg

    from api.append_only import roles
    from api.audit_store import APPLICATIONS

    settings = Settings()
    if not settings.postgres:
        raise typer.BadParameter("roles are for PostgreSQL (LINLI_DATABASE_URL)")
    with psycopg.connect(settings.database_url) as conn, conn.transaction():
        statements = roles(conn, settings.database_schema, list(APPLICATIONS), api, auditor)
        for statement in statements:
            if dry_run:
                print(statement + ";")
            else:
                conn.execute(statement)
    if not dry_run:
        console.print(f"{api}: INSERT and SELECT on history; {auditor}: SELECT only "
                      f"({len(statements)} statements)")


@audit_app.command("history")
def audit_history(aggregate_id: str) -> None:
    """An aggregate's events with who, when, why and what changed (JSON)."""
    import json
    from uuid import UUID

    from api.history import history, locate

    system = _system()
    try:
        _, app = locate(system.contexts, UUID(aggregate_id))
        print(json.dumps(history(app, UUID(aggregate_id)), ensure_ascii=False, default=str, indent=2))
    finally:
        system.shutdown()


@audit_app.command("state")
def audit_state(aggregate_id: str, version: int | None = None, at: str | None = None) -> None:
    """An aggregate as it stood at a version or an instant (JSON)."""
    import json
    from datetime import datetime
    from uuid import UUID

    from api.history import locate, state_at

    system = _system()
    try:
        _, app = locate(system.contexts, UUID(aggregate_id))
        when = datetime.fromisoformat(at) if at else None
        print(json.dumps(state_at(app, UUID(aggregate_id), version, when), ensure_ascii=False, default=str, indent=2))
    finally:
        system.shutdown()


@audit_app.command("export")
def audit_export(since: str | None = None, until: str | None = None,
                 output: Annotated[str, typer.Option("--output", "-o")] = "-") -> None:
    """Write chain entries as JSON Lines; recheck with `python -m projections.verify_export FILE`."""
    import json
    import sys

    from projections.chain import export
    from projections.projector import iso

    def bound(value):
        from datetime import datetime

        return iso(datetime.fromisoformat(value)) if value else None

    store = _read_only()
    try:
        stream = sys.stdout if output == "-" else open(output, "w", encoding="utf-8")  # noqa: SIM115
        try:
            for entry in export(store.db, store.contexts, bound(since), bound(until)):
                stream.write(json.dumps(entry, ensure_ascii=False) + "\n")
        finally:
            if stream is not sys.stdout:
                stream.close()
    finally:
        store.shutdown()


if __name__ == "__main__":
    app()
