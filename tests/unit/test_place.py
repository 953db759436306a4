"""Where a demand or a service request is (domain/place.py), and events stored before it existed."""
import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from domain.actors import Actor, Role
from domain.demand import Demand
from domain.errors import ValidationError
from domain.place import check_location

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def a_demand(location=None) -> Demand:
    return Demand.post(uuid4(), Actor("org-1", Role.ORG), "org-1", "社区助老", "", "助老服务", "grid-1", 2, NOW,
                       NOW + timedelta(days=1), NOW + timedelta(days=1, hours=3), False, location)


def test_a_demand_keeps_the_location_it_was_posted_with():
    demand = a_demand({"lat": 26.07, "long": 119.29, "address_string": " 鼓楼区东街1号 "})

    assert demand.location == {"lat": 26.07, "long": 119.29, "address_string": "鼓楼区东街1号"}


@pytest.mark.parametrize("location", [{"lat": 26.07}, {"lat": 91, "long": 0}, {"lat": 0, "long": float("nan")},
                                      {"address_string": " "}, {"address_id": "x" * 65}, {"zipcode": "350001"},
                                      {"lat": True, "long": 0}])
def test_a_bad_location_is_refused(location):
    with pytest.raises(ValidationError):
        check_location(location)


def test_a_demand_stored_before_locations_existed_still_reads():
    app = Application()
    demand = a_demand()
    app.save(demand)
    stored = app.recorder.select_events(demand.id)[0]
    state = json.loads(stored.state)
    del state["location"]  # as events were written before this field
    old = StoredEvent(stored.originator_id, stored.originator_version, stored.topic, json.dumps(state).encode())

    replayed = app.mapper.to_domain_event(old).mutate(None)

    assert replayed.location is None and replayed.title == "社区助老"
