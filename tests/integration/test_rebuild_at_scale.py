"""A rebuild from the event logs gives every read model exactly the rows it reached live, for a
seeded city with two years of history (scale 0.01), on both backends."""
from types import SimpleNamespace

from api.seed import seed_city
from tests.integration.test_read_models import snapshot, varied_history
from tests.support import START


def test_rebuilding_every_view_of_a_seeded_city_gives_the_rows_it_had_live(system):
    seed_city(system, 0.01, 7, until=START, parallel=False)
    live = snapshot(SimpleNamespace(system=system))
    assert live["demand_board"] and live["claims"] and live["stats_entries"] and live["deadlines"]

    system.projector.rebuild(system.projector.views)  # every view, the audit chain too

    rebuilt = snapshot(SimpleNamespace(system=system))
    differing = sorted(table for table in live if live[table] != rebuilt[table])
    assert not differing, differing


def test_a_rebuild_of_every_view_reads_each_event_of_the_logs_once(api, monkeypatch):
    varied_history(api)
    read: dict[str, int] = {}
    for name, app in api.system.contexts.items():
        select = app.recorder.select_notifications

        def counted(start, limit, *args, _select=select, _name=name, **kwargs):
            found = _select(start, limit, *args, **kwargs)
            read[_name] = read.get(_name, 0) + len(found)
            return found
        monkeypatch.setattr(app.recorder, "select_notifications", counted)

    api.system.projector.rebuild(api.system.projector.views)

    assert read == {name: app.recorder.max_notification_id() or 0 for name, app in api.system.contexts.items()}
