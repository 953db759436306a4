"""On PostgreSQL, event tables are append-only: a trigger refuses UPDATE, DELETE and TRUNCATE.

Maintenance override (documented in docs/audit.md): in one session,
    SET linli.allow_history_rewrite = 'on';
before the statement. Anything done that way is exactly what `linli audit verify` detects.
"""
from psycopg import sql

FUNCTION = """
CREATE OR REPLACE FUNCTION {schema}.linli_refuse_history_rewrite() RETURNS trigger AS $$
BEGIN
    IF current_setting('linli.allow_history_rewrite', true) = 'on' THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'event history is append-only (% on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$ LANGUAGE plpgsql"""


def protect(conn, schema: str, tables: list[str]) -> None:
    """Install the refusing trigger on each events table (idempotent)."""
    conn.execute(sql.SQL(FUNCTION).format(schema=sql.Identifier(schema)))
    for table in tables:
        for name, when in (("linli_append_only", "BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW"),
                           ("linli_no_truncate", "BEFORE TRUNCATE ON {table} FOR EACH STATEMENT")):
            conn.execute(sql.SQL("DROP TRIGGER IF EXISTS {name} ON {table}").format(
                name=sql.Identifier(name), table=sql.Identifier(schema, table)))
            conn.execute(sql.SQL("CREATE TRIGGER {name} " + when + " EXECUTE FUNCTION {schema}.linli_refuse_history_rewrite()")
                         .format(name=sql.Identifier(name), table=sql.Identifier(schema, table),
                                 schema=sql.Identifier(schema)))
