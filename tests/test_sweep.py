import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

import landkit as lk
from landkit.sweep import run_name


def small_run(width, seed, run_dir, fail=False, sleep=0.0, log=None):
    """A sweep cell: a tiny digits MLP, recorded into run_dir."""
    import torch

    torch.set_num_threads(1)
    if fail:
        raise RuntimeError(f"cell width={width} seed={seed} was told to fail")
    task = lk.tasks.digits(seed=0, n_train=200)
    model = lk.models.mlp(task.in_features, [width], task.n_classes, seed=seed)
    rec = lk.Recorder(run_dir, schedule=lk.schedules.every(5))
    res = lk.train(
        model, task, steps=20, lr=0.1, batch_size=16, seed=seed, recorder=rec, progress=False
    )
    time.sleep(sleep)
    if log:
        with open(log, "a") as f:  # O_APPEND: one line per completed run
            f.write(json.dumps({"width": width, "seed": seed}) + "\n")
    return res


def test_grid():
    g = lk.grid(width=[4, 16, 64], batch_size=[16, 128], seed=range(3))
    assert len(g) == 18 and g[0] == {"width": 4, "batch_size": 16, "seed": 0}
    assert g[-1] == {"width": 64, "batch_size": 128, "seed": 2}
    with pytest.raises(ValueError, match="empty"):
        lk.grid(width=[])
    with pytest.raises(ValueError, match="at least one axis"):
        lk.grid()


def test_sweep_local_processes_resumes_and_records_failures(tmp_path):
    grid = [*lk.grid(width=[4, 8], seed=[0, 1]), {"width": 99, "seed": 0, "fail": True}]
    res = lk.sweep(small_run, grid, tmp_path / "sw", max_workers=2, progress=False)
    assert len(res.completed) == 4 and len(res.failed) == 1
    err = json.loads((tmp_path / "sw" / run_name(grid[-1]) / "landkit-error.json").read_text())
    assert "was told to fail" in err["error"] and "Traceback" in err["error"]
    runs = lk.load_runs(tmp_path / "sw")
    assert len(runs) == 4 and sorted({c["width"] for c in runs.configs}) == [4, 8]
    assert all(t.status == "finished" and t.steps.tolist() == [0, 5, 10, 15, 20] for t in runs)
    done = tmp_path / "sw" / run_name(grid[0]) / "landkit-done.json"
    stamp = done.stat().st_mtime_ns
    # re-run: finished cells are skipped, the failed one is tried again (and fails again)
    again = lk.sweep(small_run, grid, tmp_path / "sw", max_workers=2, progress=False)
    assert [r["status"] for r in again.runs] == ["skipped"] * 4 + ["failed"]
    assert done.stat().st_mtime_ns == stamp


def test_sweep_bad_input(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        lk.sweep(small_run, [], tmp_path)
    with pytest.raises(ValueError, match="repeated configs"):
        lk.sweep(small_run, [{"width": 4, "seed": 0}] * 2, tmp_path)


@pytest.mark.slow
def test_sweep_on_dask_with_a_killed_worker(tmp_path):
    from distributed import Client, LocalCluster

    log = tmp_path / "completions.log"
    grid = lk.grid(width=[4, 8, 16], seed=[0, 1, 2], sleep=1.0, log=str(log))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=40) as cluster, Client(cluster) as client:  # fmt: skip
        pids = client.run(os.getpid)
        victim = sorted(pids.values())[0]
        killed = threading.Event()

        def kill_when_running():
            # wait until some run has started on the cluster, then SIGKILL one worker process
            root = tmp_path / "sw"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if root.exists() and any((d / "landkit-run.json").exists() for d in root.iterdir()):
                    time.sleep(0.5)
                    os.kill(victim, signal.SIGKILL)
                    killed.set()
                    return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_when_running)
        killer.start()
        res = lk.sweep(
            small_run, grid, tmp_path / "sw", executor=client.get_executor(), progress=False
        )
        killer.join()
    assert killed.is_set()
    assert len(res.completed) == 9 and not res.failed
    lines = [json.loads(x) for x in Path(log).read_text().splitlines()]
    completed = sorted((d["width"], d["seed"]) for d in lines)
    assert completed == sorted(
        (c["width"], c["seed"]) for c in grid
    )  # each run completed exactly once
    runs = lk.load_runs(tmp_path / "sw")
    assert len(runs) == 9 and all(t.status == "finished" for t in runs)


def test_a_sweep_loads_only_its_own_runs(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as ex:
        a = lk.sweep(
            small_run, lk.grid(width=[2, 3], seed=0), tmp_path, executor=ex, progress=False
        )
        b = lk.sweep(small_run, lk.grid(width=[4], seed=0), tmp_path, executor=ex, progress=False)
    assert sorted(c["width"] for c in a.load().configs) == [2, 3]
    assert [c["width"] for c in b.load().configs] == [4]
    assert len(lk.load_runs(tmp_path)) == 3


def crash_or_run(width, seed, run_dir, crash=False, hang=0.0):
    """A cell that kills its own worker process (crash) or hangs, else a small recorded run."""
    if crash:
        os._exit(3)
    if hang:
        time.sleep(hang)
    return small_run(width, seed, run_dir)


def test_a_crashing_run_fails_alone_and_a_hanging_one_times_out(tmp_path):
    grid = [
        {"width": 4, "seed": s, "crash": s == 1, "hang": 30.0 if s == 2 else 0.0} for s in range(4)
    ]
    res = lk.sweep(crash_or_run, grid, tmp_path, max_workers=2, timeout=8, progress=False)
    status = {r["config"]["seed"]: r["status"] for r in res.runs}
    assert status == {0: "done", 1: "failed", 2: "failed", 3: "done"}
    errors = {r["config"]["seed"]: r.get("error", "") for r in res.runs}
    assert "timeout=8" in errors[2]
    assert "worker" in errors[1].lower() or "terminated" in errors[1].lower()
    assert len(lk.load_runs(tmp_path)) == 2


def test_sweep_refuses_reserved_keys_and_unstable_names(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        lk.sweep(small_run, [{"width": 4, "seed": 0, "run_dir": "x"}], tmp_path, progress=False)
    with pytest.raises(ValueError, match="memory address"):
        run_name({"act": object()})


def test_a_damaged_done_marker_is_redone_not_fatal(tmp_path):
    grid = lk.grid(width=[4], seed=[0, 1])
    lk.sweep(small_run, grid, tmp_path, max_workers=1, progress=False)
    victim = tmp_path / run_name(grid[0])
    (victim / lk.store.DONE_MARKER).write_text('{"config": {"wid')  # truncated
    (tmp_path / run_name(grid[1]) / "weights" / "zarr.json").unlink()  # a store that does not open
    with pytest.warns(UserWarning, match="could not be opened"):
        assert len(lk.load_runs(tmp_path)) == 1  # the damaged store is left out, the other opens
    res = lk.sweep(small_run, grid, tmp_path, max_workers=1, progress=False)
    assert [r["status"] for r in res.runs] == ["done", "done"]
    assert len(lk.load_runs(tmp_path)) == 2


DRIVER = """
import sys
sys.path.insert(0, {tests!r})
import landkit as lk
from test_sweep import small_run
lk.sweep(small_run, {grid!r}, {root!r}, max_workers=2, progress=False)
"""


def test_killing_the_sweep_driver_kills_its_workers_and_a_rerun_completes(tmp_path):
    """SIGKILL the driver mid-sweep: its workers die with it (no orphans writing on), and a rerun
    runs every run exactly once and load_runs opens them all."""
    import subprocess
    import sys

    root, log = tmp_path / "sweep", tmp_path / "log.jsonl"
    grid = lk.grid(width=[4], seed=range(4), sleep=[10.0], log=[str(log)])
    code = DRIVER.format(tests=str(Path(__file__).parent), grid=grid, root=str(root))
    driver = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 120
    while time.time() < deadline and len(list(root.glob("*/" + lk.store.RUN_RECORD))) < 2:
        time.sleep(0.1)
    records = list(root.glob("*/" + lk.store.RUN_RECORD))
    assert len(records) >= 2, "the workers never started"
    workers = sorted({json.loads(f.read_text())["pid"] for f in records})
    driver.kill()
    driver.wait()
    deadline = time.time() + 3  # well inside the runs' 10 s: they did not just finish on their own
    alive = workers
    while alive and time.time() < deadline:
        alive = [p for p in workers if _alive(p)]
        time.sleep(0.2)
    assert not alive, f"orphan workers {alive} outlived the driver"
    res = lk.sweep(small_run, grid, root, max_workers=2, progress=False)
    assert [r["status"] for r in res.runs] == ["done"] * 4
    assert sorted(json.loads(x)["seed"] for x in log.read_text().splitlines()) == [0, 1, 2, 3]
    assert len(lk.load_runs(root)) == 4


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (dead, not yet reaped) counts as gone
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def test_costly_runs_start_first_and_results_keep_the_grid_order(tmp_path):
    import concurrent.futures as cf

    log = tmp_path / "order.log"
    grid = lk.grid(width=[4, 16, 8], seed=[0, 1], log=str(log))
    with cf.ThreadPoolExecutor(1) as pool:  # one worker: runs execute in submission order
        res = lk.sweep(small_run, grid, tmp_path / "sw", executor=pool, progress=False,
                       cost=lambda c: c["width"])  # fmt: skip
    done = [json.loads(x) for x in log.read_text().splitlines()]
    assert [d["width"] for d in done] == [16, 16, 8, 8, 4, 4]  # longest first, ties in grid order
    assert [d["seed"] for d in done] == [0, 1, 0, 1, 0, 1]
    assert [r["config"]["width"] for r in res.completed] == [c["width"] for c in grid]
    with pytest.raises(lk.InvalidType, match="cost must be a function"):
        lk.sweep(small_run, grid, tmp_path / "sw2", cost=3, progress=False)
