"""A demand whose lane is full or too slow in this process (workflows/lanes.py) refuses a command with
503 problem+json and Retry-After, and the refused command changes nothing."""
from domain.errors import OverloadedError


def test_a_busy_demand_answers_503_with_retry_after_and_changes_nothing(api, monkeypatch):
    owner, member = api.org(), api.member()
    demand = api.demand(owner, "open")
    version = api.ok(api.get(f"/demands/{demand['id']}"))["version"]

    def busy(key, run):
        raise OverloadedError("this record is busy; try again shortly")

    monkeypatch.setattr(api.system.demands.engine.lanes, "submit", busy)
    response = api.post(f"/demands/{demand['id']}/claims", {"headcount": 1}, member)

    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["type"] == "/problems/busy"
    assert api.ok(api.get(f"/demands/{demand['id']}"))["version"] == version
