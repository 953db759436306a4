"""Shared by every context's application: a trigger the table does not know is a 404."""
from domain.errors import NotFoundError
from domain.lifecycle import Lifecycle


def check_trigger(lifecycle: Lifecycle, trigger: str) -> None:
    if trigger not in lifecycle.roles:
        raise NotFoundError(f"{lifecycle.name} has no action {trigger!r}")
