"""A venue shared, booked, used; and a second booking of the same slot refused."""


def test_a_booking_without_approval_holds_its_slot_until_cancelled(api):
    owner, member, other = api.org(), api.member(), api.member()
    venue = api.venue(owner)
    slot = api.slot(days=3, hour=10)
    booking = api.book(venue, member, **slot)
    assert booking["status"] == "confirmed"

    refused = api.post(f"/venues/{venue['id']}/bookings", {**slot, "attendees": 5}, other)
    assert refused.status_code == 409 and refused.json()["type"] == "/problems/slot-taken"
    day = slot["starts_at"][:10]
    free = api.ok(api.get(f"/venues/{venue['id']}/availability", date=day))["free"]
    assert [(f["starts_at"][11:16], f["ends_at"][11:16]) for f in free] == [("08:00", "10:00"), ("12:00", "21:00")]

    api.act("bookings", booking["id"], "cancel", owner, {"reason": "场地维修"})
    assert api.book(venue, other, **slot)["status"] == "confirmed"
    stats = api.ok(api.get("/stats"))
    assert (stats["venues_shared"], stats["bookings"]) == (1, 2)


def test_a_confirmed_booking_nobody_checks_into_becomes_no_show(api):
    venue, booking = api.booking_in("no_show")
    assert api.ok(api.get(f"/venues/{venue['id']}/bookings", api.admin))["items"][0]["status"] == "no_show"
