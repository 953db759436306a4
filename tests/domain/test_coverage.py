"""Every row of every lifecycle table has its specs: each (state, role) the row allows, each
relation it refuses, each state it does not start from. A row added without them fails here."""
import pytest

from domain.errors import ForbiddenError, TransitionNotAllowedError
from domain.lifecycles import LIFECYCLES
from tests.domain.books import BOOKS
from tests.domain.spec import NOBODY

BY_NAME = {book.lifecycle.name: book for book in BOOKS}
ROWS = [(name, row) for name, lifecycle in LIFECYCLES.items() for row in lifecycle.rows]


def test_every_lifecycle_has_a_book_of_specs():
    assert sorted(BY_NAME) == sorted(LIFECYCLES)


def missing(name: str, row) -> list[str]:
    """What the book of this lifecycle lacks for this row."""
    book, lifecycle = BY_NAME[name], LIFECYCLES[name]
    specs = [s for s in book.specs if s.trigger == row.trigger]
    allowed = {(s.state, s.role) for s in specs if not s.refused}
    forbidden = {s.role for s in specs if s.outcome is ForbiddenError and s.state in row.sources}
    not_from = {s.state for s in specs if s.outcome is TransitionNotAllowedError and s.role in row.roles}
    relations = {r for each in lifecycle.rows for r in each.roles} | {"admin", "system", NOBODY}
    return ([f"allowed from {state} by {role}" for state in row.sources for role in sorted(row.roles)
             if (state, role) not in allowed]
            + [f"refused to {role}" for role in sorted(relations - row.roles - forbidden)]
            + [f"refused from {state}" for state in lifecycle.states
               if state not in row.sources and state not in not_from])


@pytest.mark.parametrize(("name", "row"), ROWS, ids=[f"{name}.{row.trigger}" for name, row in ROWS])
def test_every_row_has_its_specs(name, row):
    assert missing(name, row) == []


def test_a_row_without_specs_is_found():
    name, row = ROWS[0]
    BY_NAME[name].specs, kept = [], BY_NAME[name].specs
    try:
        assert missing(name, row)
    finally:
        BY_NAME[name].specs = kept
