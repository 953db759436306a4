"""The command mix: claim and confirm, check in, complete and verify a prepared claim, book two
venues (one approved by its owner), file a service request and accept, start and resolve it.

Under wrk each thread runs the episodes of its share of the worlds (bench/wrk.lua queues each
command once the answer it depends on has come); without wrk the Python client runs them one
command after another per connection."""
from datetime import UTC, datetime

from bench import load, wrk
from bench.world import World, slots

SLOTS = 13 * 360  # a year of one-hour slots: more episodes per world than any run makes


def run(base: str, world: World, connections: int, threads: int, seconds: float) -> dict:
    times = slots(datetime.now(UTC), SLOTS)
    if wrk.available():
        count = min(threads, connections)
        worlds = [{"members": w.member_tokens, "demands": w.manual_demands, "prepared": w.prepared_claims,
                   "free_venue": w.free_venue, "approval_venue": w.approval_venue, "applicant": w.applicant_token}
                  for w in world.clients]
        workload = {"kind": "mix", "owner": world.owner_token, "dept": world.dept_token, "item": world.item_id,
                    "slots": [list(s) for s in times]}
        return wrk.run(base, workload, [{"worlds": worlds[i::count]} for i in range(count)], seconds, connections)
    return load.run(base, _episode(world, times), connections, seconds)


def _episode(world: World, times: list[tuple[str, str]]):
    owner = {"Authorization": f"Bearer {world.owner_token}"}
    dept = {"Authorization": f"Bearer {world.dept_token}"}

    async def episode(client, tally, i, n):
        w = world.clients[i % len(world.clients)]
        member = {"Authorization": f"Bearer {w.member_tokens[n % len(w.member_tokens)]}"}
        demand = w.manual_demands[(n // len(w.member_tokens)) % len(w.manual_demands)]
        claim = await tally.call(client, "POST", f"/demands/{demand}/claims", json={}, headers=member)
        if claim.status_code == 201:
            await tally.call(client, "POST", f"/claims/{claim.json()['id']}/actions/confirm", headers=owner)
        if n < len(w.prepared_claims):
            prepared = w.prepared_claims[n]
            await tally.call(client, "POST", f"/claims/{prepared}/actions/check_in", headers=owner)
            await tally.call(client, "POST", f"/claims/{prepared}/actions/complete", json={"hours": 2}, headers=owner)
            await tally.call(client, "POST", f"/claims/{prepared}/actions/verify", json={"rating": 5}, headers=owner)
        starts, ends = times[n % len(times)]
        await tally.call(client, "POST", f"/venues/{w.free_venue}/bookings", headers=member,
                         json={"starts_at": starts, "ends_at": ends, "attendees": 10})
        booking = await tally.call(client, "POST", f"/venues/{w.approval_venue}/bookings", headers=member,
                                   json={"starts_at": starts, "ends_at": ends, "attendees": 10})
        if booking.status_code == 201:
            await tally.call(client, "POST", f"/bookings/{booking.json()['id']}/actions/approve", headers=owner)
        applicant = {"Authorization": f"Bearer {w.applicant_token}"}
        filed = await tally.call(client, "POST", f"/service-items/{world.item_id}/requests", headers=applicant,
                                 json={"subject": "申请稳岗返还"})
        if filed.status_code == 201:
            request_id = filed.json()["id"]
            for step, body in (("accept", {}), ("start", {}), ("resolve", {"outcome": "approved"})):
                await tally.call(client, "POST", f"/service-requests/{request_id}/actions/{step}", json=body,
                                 headers=dept)

    return episode
