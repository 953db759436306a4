"""The lifecycles as data: states, transitions with roles, and a mermaid drawing."""
from fastapi import APIRouter

from domain.errors import NotFoundError
from domain.lifecycles import LIFECYCLES

router = APIRouter(prefix="/workflows", tags=["workflows"])


@router.get("")
def list_workflows() -> dict:
    return {"items": [lc.describe() for lc in LIFECYCLES.values()]}


@router.get("/{name}")
def get_workflow(name: str) -> dict:
    if name not in LIFECYCLES:
        raise NotFoundError(f"no workflow {name}")
    return LIFECYCLES[name].describe()
