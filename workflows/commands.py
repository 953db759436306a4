"""Shared by every context's application: dispatch a table trigger to an aggregate's command
method with just the fields that method takes."""
import inspect
from collections.abc import Callable

from domain.errors import NotFoundError
from domain.lifecycle import Lifecycle


def dispatch(method: Callable, fields: dict) -> None:
    """Call `method` with the fields it names (all of them if it takes **kwargs)."""
    params = inspect.signature(method).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return method(**fields)
    method(**{k: v for k, v in fields.items() if k in params})


def check_trigger(lifecycle: Lifecycle, trigger: str) -> None:
    if trigger not in lifecycle.roles:
        raise NotFoundError(f"{lifecycle.name} has no action {trigger!r}")
