"""On PostgreSQL, history is append-only twice over.

First by privilege: the API runs as a role that may INSERT and SELECT event tables and the audit
chain, and nothing more (`roles`, run by the owner as `linli db roles`); the owner role migrates.
Second, for whoever holds more: a trigger refuses UPDATE, DELETE and TRUNCATE on them. Its
maintenance override (docs/audit.md), in one transaction,
    SET LOCAL linli.allow_history_rewrite = 'on';
counts only for the tables' owner (or a superuser): any other session that sets it is refused
all the same. Anything done that way is exactly what `linli audit verify` detects.
"""
from psycopg import sql
from psycopg.rows import tuple_row

AUDIT_TABLES = ("audit_chain", "audit_checkpoints")  # evidence: never rebuilt unless named

FUNCTION = """
CREATE OR REPLACE FUNCTION {schema}.linli_refuse_history_rewrite() RETURNS trigger AS $$
BEGIN
    IF current_setting('linli.allow_history_rewrite', true) = 'on'
       AND pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'event history is append-only (% on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$ LANGUAGE plpgsql"""


def _owns(conn, schema: str, tables: list[str]) -> bool:
    row = conn.cursor(row_factory=tuple_row).execute(
        "SELECT bool_and(pg_has_role(current_user, tableowner, 'MEMBER')) FROM pg_tables "
        "WHERE schemaname = %s AND tablename = ANY(%s)", (schema, tables)).fetchone()
    return row[0] is not False


def may_migrate(conn, schema: str) -> bool:
    """Whether this session's role may create and change the schema's tables: it owns the schema (or
    is a superuser), or the schema does not exist yet. The API role does not: it starts without DDL."""
    row = conn.cursor(row_factory=tuple_row).execute(
        "SELECT pg_has_role(current_user, nspowner, 'MEMBER') FROM pg_namespace WHERE nspname = %s",
        (schema,)).fetchone()
    return row is None or row[0]


def protect(conn, schema: str, tables: list[str]) -> None:
    """Install the refusing trigger on each events table and the audit chain (idempotent). A process
    running as a role that does not own them leaves that to the owner."""
    tables = [*tables, *(t for t in AUDIT_TABLES if t not in tables)]
    if not _owns(conn, schema, tables):
        return
    conn.execute(sql.SQL(FUNCTION).format(schema=sql.Identifier(schema)))
    for table in tables:
        for name, when in (("linli_append_only", "BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW"),
                           ("linli_no_truncate", "BEFORE TRUNCATE ON {table} FOR EACH STATEMENT")):
            conn.execute(sql.SQL("DROP TRIGGER IF EXISTS {name} ON {table}").format(
                name=sql.Identifier(name), table=sql.Identifier(schema, table)))
            conn.execute(sql.SQL("CREATE TRIGGER {name} " + when + " EXECUTE FUNCTION {schema}.linli_refuse_history_rewrite()")
                         .format(name=sql.Identifier(name), table=sql.Identifier(schema, table),
                                 schema=sql.Identifier(schema)))


def roles(conn, schema: str, contexts: list[str], api: str, auditor: str) -> list[str]:
    """Statements giving `api` what serving needs and no more, and `auditor` reading only: event tables,
    their snapshots, the audit chain and index take INSERT and SELECT; read models and API state also UPDATE
    and DELETE. The event store keeps notification order with LOCK TABLE … IN EXCLUSIVE MODE, which
    PostgreSQL grants only with UPDATE, DELETE or TRUNCATE: event tables get UPDATE for that lock alone,
    and the trigger refuses every UPDATE by a role that does not own them. Run by the owner after
    migrating (again after an upgrade adds tables)."""
    tables = [r[0] for r in conn.cursor(row_factory=tuple_row).execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", (schema,))]
    events = [t for t in tables if t in {f"{c}_events" for c in contexts}]
    append_only = [t for t in tables if t in events or t in {f"{c}_snapshots" for c in contexts}
                   or t in (*AUDIT_TABLES, "audit_events") or t in {f"{a}_v1" for a in AUDIT_TABLES}]
    read_models = [t for t in tables if t not in append_only]
    s, a, r = sql.Identifier(schema), sql.Identifier(api), sql.Identifier(auditor)

    def listed(names):
        return sql.SQL(", ").join(sql.Identifier(schema, n) for n in names)

    statements = []
    for role in (a, r):
        statements += [
            sql.SQL("DO $$ BEGIN CREATE ROLE {} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
            .format(role),
            sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(s, role),
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, role),
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(s, role)]
    if append_only:
        statements.append(sql.SQL("GRANT INSERT ON {} TO {}").format(listed(append_only), a))
    if events:
        statements.append(sql.SQL("GRANT UPDATE ON {} TO {}").format(listed(events), a))  # for LOCK TABLE
    if read_models:
        statements.append(sql.SQL("GRANT INSERT, UPDATE, DELETE ON {} TO {}").format(listed(read_models), a))
    statements.append(sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA {} TO {}").format(s, a))
    return [statement.as_string(conn) for statement in statements]
