"""`make bench` is not a timed test; this runs its code once at a tiny scale to prove it works."""
import pytest

import bench.__main__ as bench


@pytest.mark.postgres
def test_the_benchmark_runs_end_to_end_and_reports_every_figure(pg_url, tmp_path):
    results = bench.main(["--scale", "0.0002", "--seconds", "1", "--clients", "2", "--workers", "1",
                          "--database-url", pg_url, "--out", str(tmp_path)])

    for figure in ("a_single_row_1", "a_single_row_32", "a_batched", "a_peer_claims", "b_seed", "c_rebuild",
                   "d_claims", "d_mix", "e_queries", "f_replay", "g_server_peak_rss_mb", "g_worker_peak_rss_mb"):
        assert figure in results
    assert results["d_mix"]["errors"] == 0 and results["d_claims"]["errors"] == 0
    assert all(q["errors"] == 0 for q in results["e_queries"].values())
    assert (tmp_path / "latest.json").exists()
