"""One event a read model cannot apply stops that read model alone, on both backends: commands in
every context and every other read model carry on, `/ready`, `/metrics` and
`linli projections status` name the view, the event and the error, and `linli projections retry`
resumes it once the cause is fixed."""
import pytest
from typer.testing import CliRunner

from api import cli
from domain.demand import Demand
from projections.projector import View, ViewStoppedError
from tests.support import Api, Unclosed, new_system

POISON = "一个读模型处理不了的标题"


class Fragile(View):
    """A read model with a bug: it cannot apply a demand with one particular title (until fixed)."""

    name = "fragile"
    tables = ("fragile",)
    ddl = ("CREATE TABLE IF NOT EXISTS fragile (id TEXT PRIMARY KEY, title TEXT NOT NULL)",)
    broken = True

    def apply(self, event, tx, context: str) -> None:
        if isinstance(event, Demand.Posted):
            if self.broken and event.title == POISON:
                raise ValueError("this title breaks the fragile view")
            tx.execute("INSERT INTO fragile (id, title) VALUES (%s, %s)", (str(event.originator_id), event.title))


@pytest.fixture
def fragile_api(backend):
    system = new_system(**backend)
    fragile = Fragile()
    system.projector.views.append(fragile)
    with system.db.transaction() as tx:
        fragile.create(tx)
    try:
        with Api.serving(system) as api:
            yield api, fragile
    finally:
        system.shutdown()


def fragile_titles(api: Api) -> list[str]:
    return [r["title"] for r in api.system.db.rows("SELECT title FROM fragile ORDER BY title")]


def test_an_event_one_read_model_cannot_apply_stops_that_read_model_alone(fragile_api):
    api, fragile = fragile_api
    org = api.org()
    before = api.demand(org, "draft", title="之前的需求")

    poisoned = api.ok(api.post("/demands", api.demand_body(title=POISON), org), 201)

    after = api.demand(org, "open", title="之后的需求")
    api.claim(after, api.member())
    assert {before["id"], poisoned["id"], after["id"]} <= {d["id"] for d in api.ok(api.get("/demands", org))["items"]}
    position = int(poisoned["position"].split(":")[1])
    waited = api.get("/demands", org, min_position=f"demands:{position + 5}")
    assert waited.status_code == 200, waited.text
    assert fragile_titles(api) == ["之前的需求"]
    stop = {"view": "fragile", "context": "demands", "position": position, "aggregate_id": poisoned["id"],
            "version": 1}
    ready = api.ok(api.get("/ready"))
    assert ready["status"] == "degraded"
    assert [{k: s[k] for k in stop} for s in ready["stopped"]] == [stop]
    assert ready["stopped"][0]["event_type"].endswith("Demand.Posted")
    assert ready["stopped"][0]["error"] == "ValueError: this title breaks the fragile view"
    assert ready["projections"]["demand_board"]["demands"]["lag"] == 0
    metrics = api.client.get("/metrics").text
    assert (f'linli_projection_stopped{{view="fragile",context="demands",position="{position}",'
            f'event="{ready["stopped"][0]["event_type"]}",error="ValueError"}} 1') in metrics


def test_a_stopped_read_model_is_named_by_the_cli_and_resumes_with_retry_after_the_fix(fragile_api, monkeypatch):
    api, fragile = fragile_api
    org = api.org()
    api.ok(api.post("/demands", api.demand_body(title=POISON), org), 201)
    api.demand(org, "draft", title="之后的需求")
    monkeypatch.setattr(cli, "_system", lambda: Unclosed(api.system))
    runner = CliRunner()

    status = runner.invoke(cli.app, ["projections", "status"])
    still_broken = runner.invoke(cli.app, ["projections", "retry", "--name", "fragile"])
    fragile.broken = False
    fixed = runner.invoke(cli.app, ["projections", "retry", "--name", "fragile"])

    assert status.exit_code == 0, status.output
    assert "fragile stopped at demands position" in " ".join(status.output.split())
    assert "ValueError: this title breaks the fragile view" in " ".join(status.output.split())
    assert still_broken.exit_code == 1 and "fragile stopped at demands" in still_broken.output
    assert fixed.exit_code == 0, fixed.output
    assert sorted(fragile_titles(api)) == sorted([POISON, "之后的需求"])
    assert api.ok(api.get("/ready")) | {"projections": None} == {"status": "ready", "stopped": [], "projections": None}


def test_a_rebuild_that_meets_such_an_event_leaves_the_live_read_models_as_they_were(fragile_api):
    api, fragile = fragile_api
    org = api.org()
    api.demand(org, "draft", title="之前的需求")
    api.ok(api.post("/demands", api.demand_body(title=POISON), org), 201)

    with pytest.raises(ViewStoppedError, match="fragile cannot apply demands position"):
        api.system.projector.rebuild([fragile])

    assert fragile_titles(api) == ["之前的需求"]
    assert [s.view for s in api.system.projector.stops()] == ["fragile"]
    api.system.projector.rebuild([api.system.projector.view("demand_board")])
    assert [s.view for s in api.system.projector.stops()] == ["fragile"]
