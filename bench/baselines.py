"""What PostgreSQL itself does on this machine, measured in the same run: single-row
insert + commit (one client, 32 clients) and batched inserts."""
import threading
import time

import psycopg

DDL = "CREATE TABLE IF NOT EXISTS bench_rows (id bigserial PRIMARY KEY, payload text NOT NULL)"
PAYLOAD = "x" * 200


def single_row_commits(dsn: str, clients: int, seconds: float) -> dict:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(DDL)
    counts = [0] * clients
    deadline = time.perf_counter() + seconds

    def work(i: int) -> None:
        with psycopg.connect(dsn) as conn:
            while time.perf_counter() < deadline:
                conn.execute("INSERT INTO bench_rows (payload) VALUES (%s)", (PAYLOAD,))
                conn.commit()
                counts[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"clients": clients, "per_second": round(sum(counts) / (time.perf_counter() - started), 1)}


def batched_inserts(dsn: str, rows: int = 50_000, batch: int = 1_000) -> dict:
    with psycopg.connect(dsn) as conn:
        conn.execute(DDL)
        started = time.perf_counter()
        with conn.cursor() as cursor:
            for _ in range(rows // batch):
                cursor.executemany("INSERT INTO bench_rows (payload) VALUES (%s)", [(PAYLOAD,)] * batch)
                conn.commit()
        elapsed = time.perf_counter() - started
    return {"rows": rows, "batch": batch, "per_second": round(rows / elapsed, 1)}
