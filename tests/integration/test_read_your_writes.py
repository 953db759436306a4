"""Read-your-writes holds for every writer, not just the HTTP replies: the engine runs the
after-commit hooks the wiring installs, so a command issued straight through an application (the
seed, the CLI, a timer) is in the read models when it returns."""
import uuid
from datetime import timedelta

from domain.actors import Actor
from tests.support import registered_org
from workflows.engine import Meta


def _board(system, demand_id) -> list[dict]:
    return system.db.rows("SELECT status FROM demand_board WHERE id = %s", (str(demand_id),))


def _post(system, owner: Actor, grid: str):
    now = system.clock.now()
    return system.demands.post_demand(
        Meta(owner), uuid.uuid4(), owner.id, title="修剪绿化", description="", category="环境", grid_id=grid, needed=1,
        claim_deadline=now + timedelta(days=1), starts_at=now + timedelta(days=2),
        ends_at=now + timedelta(days=2, hours=1), auto_confirm=False).value


def test_a_command_through_the_application_is_read_back_at_once(system):
    owner, grid = registered_org(system)
    demand = _post(system, owner, grid)
    assert _board(system, demand.id) == [{"status": "draft"}]
    system.demands.act_on_demand(Meta(owner), demand.id, "submit")
    assert _board(system, demand.id) == [{"status": "pending_review"}]


def test_a_bulk_batch_is_read_back_when_it_ends(system):
    owner, grid = registered_org(system)
    with system.demands.engine.batch():
        demand = _post(system, owner, grid)
        assert _board(system, demand.id) == []  # not committed yet
    assert _board(system, demand.id) == [{"status": "draft"}]


def test_commands_held_together_project_once_at_the_end(system):
    owner, grid = registered_org(system)
    calls = []
    system.after_commit.hooks.append(lambda: calls.append(1))
    try:
        with system.after_commit.held():
            demand = _post(system, owner, grid)
            system.demands.act_on_demand(Meta(owner), demand.id, "submit")
            assert calls == []
        assert calls == [1]
    finally:
        system.after_commit.hooks.pop()
