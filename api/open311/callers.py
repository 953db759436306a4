"""Who an Open311 call comes from (its `api_key`), and which requests that caller may see."""
from fastapi import Request

from api.auth import caller, holder_for
from api.open311.render import Open311Error
from api.wiring import Linli
from domain.actors import Actor, Role
from projections.open311 import Viewer


def actor(system: Linli, request: Request, fields: dict[str, str]) -> Actor | None:
    """The caller named by `api_key` (or an Authorization header), None for anonymous readers."""
    key = fields.get("api_key")
    if key is not None:
        if not key.strip():
            raise Open311Error(403, "api_key is empty")
        return holder_for(system, key.strip()).actor
    holder = caller(request)
    return holder.actor if holder else None


def viewer(who: Actor | None) -> Viewer:
    """Anyone: the public board. Staff: everything. An organisation or department: also its own."""
    if who is None:
        return Viewer()
    if who.role in (Role.ADMIN, Role.AUDITOR):
        return Viewer(sees_all=True)
    return Viewer(owner_id=who.id if who.role is Role.ORG else "",
                  agency=(who.role.value, who.id) if who.role in (Role.ORG, Role.DEPT) else ("", ""))
