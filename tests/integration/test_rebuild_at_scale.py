"""A rebuild from the event logs gives every read model exactly the rows it reached live, for a
seeded city with two years of history (scale 0.01), on both backends."""
from types import SimpleNamespace

from api.seed import seed_city
from tests.integration.test_read_models import snapshot
from tests.support import START


def test_rebuilding_every_view_of_a_seeded_city_gives_the_rows_it_had_live(system):
    seed_city(system, 0.01, 7, until=START, parallel=False)
    live = snapshot(SimpleNamespace(system=system))
    assert live["demand_board"] and live["claims"] and live["stats_entries"] and live["deadlines"]

    system.projector.rebuild(system.projector.views)  # every view, the audit chain too

    rebuilt = snapshot(SimpleNamespace(system=system))
    differing = sorted(table for table in live if live[table] != rebuilt[table])
    assert not differing, differing
