"""Run every domain spec: given events, when a command, then events or an error (tests/domain/spec.py)."""
import pytest

from tests.domain.books import BOOKS

CASES = [(book, spec) for book in BOOKS for spec in book.specs]


@pytest.mark.parametrize(("book", "spec"), CASES, ids=[f"{b.lifecycle.name}:{s}" for b, s in CASES])
def test_spec(book, spec):
    book.run(spec)
