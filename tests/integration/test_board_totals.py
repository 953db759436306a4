"""The board's `total` comes from counts the read model keeps as demands move; it must say what
the pages list, for every filter and every caller (who sees which demands differs)."""
import itertools

from tests.integration.test_read_models import varied_history


def listed(api, by, **filters) -> tuple[int, int]:
    page = api.ok(api.get("/demands", by, page_size=100, **filters))
    return page["total"], len(page["items"])


def test_the_board_total_is_the_number_of_demands_it_lists_for_every_filter_and_caller(api):
    varied_history(api)
    rows = api.ok(api.get("/demands", api.admin, page_size=100))["items"]
    owners = {r["organisation_id"] for r in rows}
    callers = [None, api.admin, api.org(), *(api.token("org", o) for o in sorted(owners))]
    statuses = [None, "open", "draft", "filled", "expired", "rejected"]
    grids = [None, *sorted({r["grid_id"] for r in rows})]
    categories = [None, *sorted({r["category"] for r in rows})]
    for by, status, grid, category in itertools.product(callers, statuses, grids, categories):
        filters = {k: v for k, v in (("status", status), ("grid", grid), ("category", category)) if v}
        total, items = listed(api, by, **filters)
        assert total == items, (by, filters)
    assert listed(api, None)[0] < listed(api, api.admin)[0]  # drafts and reviews are not public
