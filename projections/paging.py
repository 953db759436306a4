"""One way to page a read model: conditions with their parameters, a count, and one page in a
fixed order (an id breaks ties, so pages never overlap or skip)."""
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from projections.db import Database


@dataclass
class Found:
    items: list[dict]
    total: int
    page: int
    page_size: int

    def body(self, represent: Callable[[dict], Any] = lambda row: row) -> dict:
        return {"items": [represent(row) for row in self.items], "total": self.total, "page": self.page,
                "page_size": self.page_size}

    @staticmethod
    def of(rows: list[dict], page: int, page_size: int) -> "Found":
        """A page of rows already filtered in Python."""
        return Found(rows[(page - 1) * page_size: page * page_size], len(rows), page, page_size)


@dataclass
class Where:
    conditions: list[str] = field(default_factory=list)
    params: list = field(default_factory=list)

    def add(self, condition: str, *params) -> "Where":
        self.conditions.append(condition)
        self.params.extend(params)
        return self

    def equal(self, pairs: Iterable[tuple[str, Any]]) -> "Where":
        """column = value for each value given (None: no condition)."""
        for column, value in pairs:
            if value is not None:
                self.add(f"{column} = %s", value)
        return self

    @property
    def clause(self) -> str:
        return f"WHERE {' AND '.join(self.conditions)}" if self.conditions else ""


def page(db: Database, table: str, where: Where, order: str, number: int, size: int,
         total: int | None = None) -> Found:
    """`total`: the count when the read model keeps it (None: count the rows)."""
    if total is None:
        total = db.rows(f"SELECT COUNT(*) AS n FROM {table} {where.clause}", where.params)[0]["n"]
    rows = db.rows(f"SELECT * FROM {table} {where.clause} ORDER BY {order} LIMIT %s OFFSET %s",
                   (*where.params, size, (number - 1) * size))
    return Found(rows, total, number, size)
