"""Every caller meets the same rules: the applications check references and visibility, so a
command or a read through the CLI, the seed or a script is refused as the API would refuse it."""
import uuid
from datetime import timedelta

import pytest

from domain.actors import Actor, Role
from domain.errors import ForbiddenError, NotFoundError, ValidationError
from tests.support import registered_org
from workflows.engine import Meta

ADMIN = Actor("admin", Role.ADMIN)


def _details(system, grid: str) -> dict:
    now = system.clock.now()
    return {"title": "修剪绿化", "description": "", "category": "环境", "grid_id": grid, "needed": 1,
            "claim_deadline": now + timedelta(days=1), "starts_at": now + timedelta(days=2),
            "ends_at": now + timedelta(days=2, hours=1), "auto_confirm": False}


def test_a_demand_naming_an_unregistered_grid_is_refused_whoever_posts_it(system):
    owner, _ = registered_org(system)
    events = system.demands.recorder.max_notification_id() or 0
    with pytest.raises(ValidationError, match="grid_id names no registered grid"):
        system.demands.post_demand(Meta(owner), uuid.uuid4(), owner.id, **_details(system, "no-such-grid"))
    assert (system.demands.recorder.max_notification_id() or 0) == events


def test_an_organisation_posts_for_itself_only(system):
    owner, grid = registered_org(system)
    other, _ = registered_org(system)
    demand = system.demands.post_demand(Meta(owner), uuid.uuid4(), other.id, **_details(system, grid)).value
    assert demand.organisation_id == owner.id


def test_a_draft_is_not_there_for_a_stranger_in_a_read_or_a_list(system):
    owner, grid = registered_org(system)
    demand = system.demands.post_demand(Meta(owner), uuid.uuid4(), owner.id, **_details(system, grid)).value
    stranger = Actor("member-x", Role.MEMBER)
    with pytest.raises(NotFoundError):
        system.demands.demand(demand.id, stranger)
    assert system.demands.board(stranger).total == 0
    assert [row["id"] for row in system.demands.board(owner).items] == [str(demand.id)]


def test_a_departments_queue_is_for_its_officers(system):
    dept = str(system.registry.register(Meta(ADMIN), "department", uuid.uuid4(), code="D1", name="市人社局").value.id)
    with pytest.raises(ForbiddenError):
        system.services.queue(dept, Actor("another-dept", Role.DEPT))
    assert system.services.queue(dept, Actor(dept, Role.DEPT)).total == 0
