"""Events are dated by the injected clock, not the wall clock: a seeded history and a test's
fake time both show in the audit trail and in the read models."""
from datetime import datetime, timedelta


def test_an_event_carries_the_time_of_the_clock_that_decided_it(api):
    owner = api.org()
    api.clock.advance(days=3)
    demand = api.demand(owner, "draft")
    api.clock.advance(hours=2)
    api.act("demands", demand["id"], "submit", owner)

    history = api.ok(api.get(f"/audit/aggregates/{demand['id']}/history", api.admin))["events"]
    posted, submitted = (datetime.fromisoformat(e["at"]) for e in history)
    assert submitted - posted == timedelta(hours=2)
    assert submitted == api.clock.now()
    shown = api.ok(api.get(f"/demands/{demand['id']}", owner))
    assert datetime.fromisoformat(shown["created_at"]) == posted
    assert datetime.fromisoformat(shown["updated_at"]) == submitted
