"""The whole slice once, on each backend: a demand is posted, published, claimed and served."""


def test_a_demand_goes_from_draft_to_verified_hours(api):
    owner, member = api.org(), api.member()
    demand = api.demand(owner, "open", needed=1)
    claim = api.claim(demand, member)
    api.act("claims", claim["id"], "confirm", owner)
    assert api.ok(api.get(f"/demands/{demand['id']}"))["status"] == "filled"
    api.act("demands", demand["id"], "start", owner)
    api.act("claims", claim["id"], "check_in", member)
    api.act("claims", claim["id"], "complete", member, {"hours": 3})
    api.act("claims", claim["id"], "verify", owner, {"rating": 5})

    record = api.ok(api.get(f"/members/{member.id}/service-record", member))
    assert record["total_hours"] == 3
    stats = api.ok(api.get("/stats"))
    assert (stats["demands_published"], stats["claims"], stats["service_hours"]) == (1, 1, 3)
