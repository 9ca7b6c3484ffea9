"""Dask engine: a real LocalCluster with 2 worker processes gives the single-process output row for row."""
from __future__ import annotations

import pandas as pd
import pytest

from medviz.bundle import load_bundle
from medviz.errors import InputError
from medviz.scoring import score_csv

pytest.importorskip("dask.distributed")


def _input(tmp_path, n=300):
    lines = ["id,glu,bmi,age,note"]
    for i in range(n):
        glu = "high" if i % 37 == 5 else str(80 + i % 90)
        lines.append(f"P{i},{glu},{20 + i % 25}.5,{25 + i % 50},\"=cmd|' /C calc'!A0\"" if i % 50 == 7 else f"P{i},{glu},{20 + i % 25}.5,{25 + i % 50},ok")
    lines.insert(40, "P-bad,1,2,3,4,5")  # a malformed line keeps its place
    path = tmp_path / "in.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import Client

    from medviz.distributed import local_cluster

    with local_cluster(2) as c, Client(c) as client:
        yield client


def test_local_cluster_matches_single_process_row_for_row(tiny_tabular_bundle, tmp_path, cluster):
    from medviz.distributed import ROW_KEY, bundle_loads, parts_scored, score_distributed

    src = _input(tmp_path)
    single = tmp_path / "single.csv"
    s1 = score_csv(load_bundle(tiny_tabular_bundle), src, single, chunksize=64)
    before = sum(cluster.run(parts_scored).values())
    s2 = score_distributed(tiny_tabular_bundle, str(src), tmp_path / "parts", chunksize=64, fmt="csv", client=cluster)
    scored = sum(cluster.run(parts_scored).values()) - before
    s3 = score_distributed(tiny_tabular_bundle, str(src), tmp_path / "one.csv", chunksize=50, single_csv=True, client=cluster)
    s4 = score_distributed(tiny_tabular_bundle, str(src), tmp_path / "pq", chunksize=64, client=cluster)
    assert s1 == s2 == s3 == s4 and s1.rows == 301 and s1.errors > 0
    want = pd.read_csv(single, dtype=str, keep_default_na=False)
    parts = sorted((tmp_path / "parts").glob("part-*.csv"))
    assert len(parts) >= 2
    assert scored == len(parts)  # each part scored once: every write ran where its part was held
    got = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in parts], ignore_index=True)
    assert list(got[ROW_KEY]) == [str(i) for i in range(301)]
    pd.testing.assert_frame_equal(got.drop(columns=ROW_KEY), want)
    one = pd.read_csv(tmp_path / "one.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(one.drop(columns=ROW_KEY), want)
    pq = pd.read_parquet(tmp_path / "pq")
    assert list(pq[ROW_KEY]) == list(range(301))
    assert list(pq["id"]) == list(want["id"]) and list(pq["error"]) == list(want["error"])
    assert pq["risk"].round(6).equals(pd.to_numeric(want["risk"]).round(6))
    # each worker process loaded the bundle once for all those parts
    assert set(cluster.run(bundle_loads).values()) == {1}


def test_unreachable_scheduler_is_one_clear_error_and_writes_nothing(tiny_tabular_bundle, tmp_path):
    from medviz.distributed import score_distributed

    src = _input(tmp_path, 5)
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        score_distributed(tiny_tabular_bundle, str(src), tmp_path / "out", scheduler="tcp://127.0.0.1:9", fmt="csv")
    assert not list(tmp_path.glob("*out*"))


def test_cli_on_an_existing_cluster_with_a_glob(tiny_tabular_bundle, tmp_path, cluster, capsys):
    from medviz.cli import main

    (tmp_path / "in").mkdir()
    for i in range(2):
        (tmp_path / "in" / f"part{i}.csv").write_text("glu;bmi;age\n" + f"12{i};30,5;40\n" * 3)
    out = tmp_path / "scored"
    code = main(["score", str(tiny_tabular_bundle), str(tmp_path / "in" / "*.csv"), "-o", str(out), "--engine", "dask",
                 "--scheduler", cluster.scheduler.address, "--format", "csv", "--chunksize", "2", "--progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "scored 6 row(s)" in captured.out and "decimal commas read as numbers: 3 cell(s) in column(s) 2" in captured.out
    assert "scored 6 rows" in captured.err  # progress on the terminal
    df = pd.concat(pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(out.glob("part-*.csv")))
    assert df["row_id"].tolist() == [str(i) for i in range(6)] and df["glu"].tolist() == ["120"] * 3 + ["121"] * 3
    assert (df["error"] == "").all() and df["bmi"].tolist() == ["30.5"] * 6


def test_a_worker_killed_mid_run_recovers_or_fails_cleanly(tiny_tabular_bundle, tmp_path):
    """kill -9 one of the 2 worker processes while parts are being scored: the run either finishes with
    the single-process result row for row (Dask reruns the lost parts; the worker that scored a part
    may be gone, and the write then scores it again), or fails with one InputError; never a partial
    output at the target path, and no temporary left behind."""
    import os
    import signal
    import threading
    import time

    from dask.distributed import Client, LocalCluster

    from medviz.distributed import ROW_KEY, score_distributed

    src = _input(tmp_path, 1000)
    single = tmp_path / "single.csv"
    score_csv(load_bundle(tiny_tabular_bundle), src, single, chunksize=64)
    want = pd.read_csv(single, dtype=str, keep_default_na=False)
    out = tmp_path / "scored"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c, Client(c) as client:
        client.run(os.getpid)  # both workers up
        pids = list(client.run(os.getpid).values())
        progress_seen = threading.Event()
        killed = []

        def kill_when_started():
            progress_seen.wait(120)
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

        threading.Thread(target=kill_when_started, daemon=True).start()
        result = error = None
        try:  # small parts so that many are in flight when the worker dies
            result = score_distributed(tiny_tabular_bundle, str(src), out, chunksize=20, fmt="csv", client=client,
                                       progress=lambda n: progress_seen.set())
        except InputError as exc:
            error = exc
        deadline = time.time() + 30
        while not killed and time.time() < deadline:
            time.sleep(0.1)
    assert killed, "the worker was never killed"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # no temporary output (.scored.part-PID) left
    if error is not None:
        assert "worker" in str(error) and not out.exists()
        return
    assert result.rows == 1001
    parts = sorted(out.glob("part-*.csv"))
    assert not list(out.glob("*.tmp-*"))
    got = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in parts], ignore_index=True)
    assert list(got[ROW_KEY]) == [str(i) for i in range(1001)]
    # float32 sums differ in the last digit with the batch size: risk within 1e-5, everything else equal
    got_risk, want_risk = pd.to_numeric(got.pop("risk")), pd.to_numeric(want.pop("risk"))
    assert ((got_risk - want_risk).abs().fillna(0) <= 1e-5).all() and got_risk.isna().equals(want_risk.isna())
    pd.testing.assert_frame_equal(got.drop(columns=ROW_KEY), want)
