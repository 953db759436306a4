"""`make bench` is not a timed test; this runs its code once, quick, to prove it works (with wrk when
it is installed, as `make bench` installs it; with the Python client otherwise)."""
import shutil

import pytest

import bench.__main__ as bench
from bench import shapes


@pytest.fixture(scope="module")
def run(pg_url, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    return bench.main(["--quick", "--database-url", pg_url, "--out", str(out)]), out


@pytest.mark.postgres
def test_the_benchmark_runs_end_to_end_and_reports_every_figure(run):
    results, out = run

    assert results["client"] == ("wrk" if shutil.which("wrk") else "python")
    for figure in ("a_single_row_1", "a_single_row_32", "a_batched", "b_seed", "c_rebuild", "d_peer", "d_linli",
                   "d_hot_invariant", "d_mix", "e_queries", "f_replay", "g_server_peak_rss_mb", "g_worker_peak_rss_mb"):
        assert figure in results
    for side in ("d_peer", "d_linli"):
        for shape in shapes.SHAPES:
            assert results[side][shape]["ok"] > 0 and results[side][shape]["error_split"]["5xx"] == 0
    assert results["d_mix"]["errors"] == 0
    assert all(q["errors"] == 0 for q in results["e_queries"].values())
    assert (out / "latest.json").exists()


@pytest.mark.postgres
def test_the_hot_run_seats_needed_claimants_and_waitlists_the_rest_in_decision_order(run):
    hot = run[0]["d_hot_invariant"]
    assert hot["holds"], hot["checks"]
    assert hot["confirmed"] == hot["needed"] and hot["waitlisted"] == hot["claims"] - hot["needed"] > 0
