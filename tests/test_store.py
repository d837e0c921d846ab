import glob
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import hypothesis
import hypothesis.strategies as st
import numpy as np
import pytest
import torch

import landkit as lk
from landkit.errors import RunExistsError, StoreError


def flat(model, names=None):
    return torch.cat(
        [p.detach().reshape(-1) for n, p in model.named_parameters() if names is None or n in names]
    ).numpy()


def test_api_as_written_in_the_issue(tmp_path):
    """The calls of the foundation issue, as a user types them."""
    task = lk.tasks.digits(seed=0)
    model = lk.models.mlp(task.in_features, [64], task.n_classes, seed=0)
    rec = lk.Recorder(tmp_path / "runs/demo", schedule=lk.schedules.geometric(1, 2000, 60))
    result = lk.train(
        model, task, steps=2000, lr=0.1, batch_size=32, seed=0, recorder=rec, progress=False
    )
    traj = lk.load(tmp_path / "runs/demo")
    expected = sorted({0} | set(lk.schedules.geometric(1, 2000, 60).steps().tolist()))
    assert traj.steps.dtype == np.int64 and traj.steps.tolist() == expected
    assert traj.weights.shape == (len(expected), sum(p.numel() for p in model.parameters()))
    assert np.array_equal(np.asarray(traj.weights[-1]), flat(model))
    for key in ("loss", "test_loss", "test_acc", "lr", "grad_norm"):
        assert traj.scalars[key].shape == (len(expected),)
    assert traj.scalars["loss"][-1] == pytest.approx(result.final["train_loss"])
    assert traj.scalars["test_acc"][-1] == pytest.approx(result.final["test_acc"])
    fresh = lk.models.mlp(task.in_features, [64], task.n_classes, seed=123)
    fresh.load_state_dict(traj.state_dict(-1))
    assert task.evaluate(fresh)["test_acc"] == pytest.approx(result.final["test_acc"])
    assert traj.status == "finished" and traj.seed == 0 and traj.config["lr"] == 0.1
    assert traj.meta["versions"]["torch"] == torch.__version__


def test_weights_are_lazy_and_indexable(tmp_path, digits):
    model = lk.models.mlp(64, [16], 10, seed=0)
    rec = lk.Recorder(tmp_path / "r", evaluate=False, chunk_mb=0.01)  # tiny chunks: many files
    lk.train(model, digits, steps=40, lr=0.1, batch_size=8, recorder=rec, progress=False)
    t = lk.load(tmp_path / "r")
    full = np.asarray(t.weights)
    assert full.shape == (41, 1210) and t.weights.chunk_rows < 41
    np.testing.assert_array_equal(t.weights[3], full[3])
    np.testing.assert_array_equal(t.weights[-2], full[-2])
    np.testing.assert_array_equal(t.weights[5:17:3], full[5:17:3])
    np.testing.assert_array_equal(t.weights[[0, 40, 7]], full[[0, 40, 7]])
    np.testing.assert_array_equal(t.weights[2, 10:20], full[2, 10:20])
    blocks = list(t.weights.iter_chunks())
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), full)
    with pytest.raises(IndexError, match="41 snapshots"):
        t.weights[41]


def test_params_glob_selects_layers(tmp_path, digits):
    model = lk.models.mlp(64, [16], 10, seed=0)
    rec = lk.Recorder(tmp_path / "r", params="fc2.*", schedule=lk.schedules.every(5))
    lk.train(model, digits, steps=10, lr=0.1, recorder=rec, progress=False)
    t = lk.load(tmp_path / "r")
    assert [p.name for p in t.params] == ["fc2.weight", "fc2.bias"]
    assert np.array_equal(np.asarray(t.weights[-1]), flat(model, {"fc2.weight", "fc2.bias"}))
    sd = t.state_dict(-1)
    assert set(sd) == {"fc2.weight", "fc2.bias"} and sd["fc2.weight"].shape == (10, 16)
    with pytest.raises(ValueError, match="match no parameter"):
        lk.Recorder(tmp_path / "bad", params="conv*").start(model)


def test_sketch_is_seeded_and_preserves_distances(tmp_path, digits):
    def run(name, model_seed):
        model = lk.models.mlp(64, [64], 10, seed=model_seed)
        rec = lk.Recorder(
            tmp_path / name, sketch=256, sketch_seed=7, schedule=lk.schedules.at([0, 50])
        )
        lk.train(model, digits, steps=50, lr=0.1, recorder=rec, progress=False)
        return lk.load(tmp_path / name), model

    a, ma = run("a", 0)
    b, mb = run("b", 1)
    assert a.weights.shape == (2, 256) and a.is_sketch
    # the same projection for both runs: sketches are linear, so sketch(a) - sketch(b) = sketch(a - b)
    from landkit.capture import CountSketch

    s = CountSketch(flat(ma).size, 256, seed=7)
    np.testing.assert_allclose(
        a.weights[-1], s(torch.from_numpy(flat(ma))).numpy(), rtol=1e-5, atol=1e-5
    )
    true = np.linalg.norm(flat(ma) - flat(mb))
    est = np.linalg.norm(np.asarray(a.weights[-1]) - np.asarray(b.weights[-1]))
    assert abs(est / true - 1) < 0.3  # relative error ~ sqrt(2/k) ≈ 0.09
    with pytest.raises(ValueError, match="sketch"):
        a.state_dict(-1)


def test_user_loop_capture(tmp_path, digits):
    model = lk.models.mlp(64, [8], 10, seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = lk.Recorder(tmp_path / "mine", schedule=lk.schedules.every(10))
    taken = []
    for step in range(35):
        loss = digits.loss(model, digits.x_train, digits.y_train)
        taken.append(rec.capture(step, model, loss=loss, note=step * 2))
        opt.zero_grad()
        loss.backward()
        opt.step()
    rec.close()
    t = lk.load(tmp_path / "mine")
    assert t.steps.tolist() == [0, 10, 20, 30] and sum(taken) == 4
    np.testing.assert_array_equal(t.scalars["note"], [0, 20, 40, 60])
    assert t.status == "finished"


def test_captures_follow_parameters_whose_storage_is_replaced(tmp_path):
    """The recorder keeps flat views of the parameters between captures; every way a user can swap
    what a parameter holds (a new tensor, a transposed one in the same memory, a non-contiguous one,
    an in-place update) must show up in the next snapshot, never the old memory."""
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 2))
    rec = lk.Recorder(tmp_path / "swap", schedule=lk.schedules.every(1))
    w = model[0].weight
    expected = []

    def take(step):
        rec.capture(step, model)
        expected.append(flat(model).copy())

    take(0)
    with torch.no_grad():
        w.add_(1.0)  # in place: same memory
    take(1)
    w.data = torch.randn(3, 3)  # a new tensor
    take(2)
    w.data = w.data.t()  # the same memory, transposed: same data_ptr, other strides
    assert not w.is_contiguous()
    take(3)
    w.data = torch.randn(3, 3).t()  # non-contiguous, in new memory
    take(4)
    w.data = torch.arange(9.0).reshape(3, 3)
    take(5)
    rec.close()
    t = lk.load(tmp_path / "swap")
    np.testing.assert_array_equal(np.asarray(t.weights[:]), np.stack(expected))
    assert len({row.tobytes() for row in expected}) == 6  # every snapshot differs


def test_recorded_gradient_norm_is_the_norm_of_the_whole_gradient(tmp_path, digits):
    model = lk.models.mlp(64, [16, 16], 10, seed=0)
    reference = lk.models.mlp(64, [16, 16], 10, seed=0)
    loss = digits.loss(reference, digits.x_train, digits.y_train)
    grads = torch.autograd.grad(loss, list(reference.parameters()))
    expected = float(torch.cat([g.reshape(-1) for g in grads]).double().norm())
    rec = lk.Recorder(tmp_path / "g", schedule=lk.schedules.every(1), evaluate=False)
    lk.train(model, digits, steps=1, lr=0.1, batch_size=None, seed=0, recorder=rec, progress=False)
    t = lk.load(tmp_path / "g")
    assert t.scalars["grad_norm"][0] == pytest.approx(expected, rel=1e-5)
    assert t.scalars["grad_norm"][1] != pytest.approx(expected, rel=1e-3)  # the next step's own


def test_existing_run_refused_unless_overwrite_or_resume(tmp_path, digits):
    path = tmp_path / "r"

    def record(steps, **kw):
        model = lk.models.mlp(64, [8], 10, seed=0)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        rec = lk.Recorder(path, **kw)
        for step in range(steps):
            rec.capture(step, model, loss=digits.loss(model, digits.x_train, digits.y_train))
            opt.step()
        rec.close()

    record(5)
    with pytest.raises(RunExistsError, match="overwrite=True"):
        record(3)
    record(3, overwrite=True)
    assert lk.load(path).steps.tolist() == [0, 1, 2]
    record(6, resume=True)  # steps 0..2 are skipped, 3..5 appended
    assert lk.load(path).steps.tolist() == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="contradict"):
        lk.Recorder(path, overwrite=True, resume=True)


def test_many_flushes_and_growth_without_max_step(tmp_path):
    """A user loop with no known length: the store grows, partial chunks are merged on disk."""
    model = torch.nn.Linear(3, 2)
    rec = lk.Recorder(tmp_path / "g", flush_every=1e-9, chunk_mb=0.0002)  # flush at every capture
    expected = []
    for step in range(1500):
        with torch.no_grad():
            model.weight.fill_(step)
        rec.capture(step, model, loss=float(step))
        expected.append(step)
    rec.close()
    t = lk.load(tmp_path / "g")
    assert t.steps.tolist() == expected
    np.testing.assert_array_equal(np.asarray(t.weights)[:, 0], np.arange(1500))
    np.testing.assert_array_equal(t.scalars["loss"], np.arange(1500))


def _make_run(tmp_path, digits):
    path = tmp_path / "run"
    rec = lk.Recorder(path, evaluate=False, chunk_mb=0.05)
    lk.train(
        lk.models.mlp(64, [16], 10, seed=0), digits, steps=30, lr=0.1, recorder=rec, progress=False
    )
    return path


def test_corrupted_store_errors_name_the_file(tmp_path, digits):
    path = _make_run(tmp_path, digits)
    assert len(lk.load(path)) == 31

    # missing chunk
    chunk = sorted(glob.glob(str(path / "weights/c/*/0")))[1]
    os.rename(chunk, chunk + ".bak")
    with pytest.raises(StoreError, match=r"missing chunk file .*weights/c/1/0"):
        lk.load(path)
    os.rename(chunk + ".bak", chunk)

    # truncated chunk: found when the run opens (a stat, nothing read), naming the file
    data = open(chunk, "rb").read()
    open(chunk, "wb").write(data[:100])
    with pytest.raises(
        StoreError, match=r"weights/c/1/0: a chunk file of \d+ bytes expected, found 100"
    ):
        lk.load(path)
    # ... and one truncated after opening, when it is read
    open(chunk, "wb").write(data)
    t = lk.load(path)
    open(chunk, "wb").write(data[:100])
    with pytest.raises(StoreError, match=r"weights/c/1/0: 100 bytes where a chunk has"):
        t.weights[t.weights.chunk_rows]
    open(chunk, "wb").write(data)

    # wrong schema version
    meta = json.loads((path / "zarr.json").read_text())
    meta["attributes"]["landkit"]["schema_version"] = 999
    (path / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="schema version 999"):
        lk.load(path)

    # truncated metadata
    (path / "zarr.json").write_text('{"attributes": {"landk')
    with pytest.raises(StoreError, match=r"zarr.json is not readable JSON"):
        lk.load(path)

    # missing metadata
    (path / "zarr.json").unlink()
    with pytest.raises(StoreError, match=r"metadata file is missing: .*zarr.json"):
        lk.load(path)
    with pytest.raises(StoreError, match="not a directory"):
        lk.load(tmp_path / "nowhere")


def test_missing_array_metadata(tmp_path, digits):
    path = _make_run(tmp_path, digits)
    (path / "steps" / "zarr.json").unlink()
    with pytest.raises(StoreError, match=r"metadata of array 'steps' is missing"):
        lk.load(path)


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, torch
    torch.set_num_threads(1)
    import landkit as lk
    task = lk.tasks.digits(seed=0)
    model = lk.models.mlp(64, [32], 10, seed=0)
    rec = lk.Recorder(sys.argv[1], evaluate=False, flush_every=0.05)
    lk.train(model, task, steps=10_000_000, lr=0.05, batch_size=8, recorder=rec, progress=False, eval_every=0)
    """
)


def test_sigkill_mid_training_leaves_a_readable_store(tmp_path):
    path = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(path)])
    seen = 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and seen < 300:
            time.sleep(0.1)
            try:
                seen = len(lk.load(path))  # reading while the run writes is safe too
            except lk.StoreError:
                pass
        assert seen >= 300, "the child did not record in time"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    traj = lk.load(path)
    assert len(traj) >= seen  # every snapshot flushed before the kill is there
    assert traj.status == "running"
    assert traj.steps.tolist() == list(range(len(traj)))
    w = np.asarray(traj.weights)
    assert np.isfinite(w).all() and np.isfinite(traj.scalars["loss"]).all()
    assert not np.array_equal(w[0], w[-1])


def test_from_checkpoints(tmp_path, digits):
    model = lk.models.mlp(64, [8], 10, seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    (tmp_path / "ckpt").mkdir()
    states = {}
    for step in range(0, 50, 10):
        torch.save(model.state_dict(), tmp_path / "ckpt" / f"epoch_{step:04d}.pt")
        states[step] = flat(model)
        for _ in range(10):
            loss = digits.loss(model, digits.x_train, digits.y_train)
            opt.zero_grad()
            loss.backward()
            opt.step()
    files = sorted(glob.glob(str(tmp_path / "ckpt" / "*.pt")))
    traj = lk.from_checkpoints(files)
    assert traj.steps.tolist() == [0, 10, 20, 30, 40]
    for i, s in enumerate(traj.steps):
        np.testing.assert_array_equal(traj.weights[i], states[s])
    on_disk = lk.from_checkpoints(files, steps=[5, 4, 3, 2, 1], path=tmp_path / "ck")
    assert on_disk.steps.tolist() == [1, 2, 3, 4, 5]
    np.testing.assert_array_equal(on_disk.weights[0], states[40])
    fresh = lk.models.mlp(64, [8], 10, seed=9)
    fresh.load_state_dict(traj.state_dict(-1))
    np.testing.assert_array_equal(flat(fresh), states[40])
    # a checkpoint wrapped in {"model": state_dict, "epoch": ...}
    torch.save({"model": model.state_dict(), "epoch": 3}, tmp_path / "wrapped.pt")
    assert lk.from_checkpoints([tmp_path / "wrapped.pt"]).weights.shape == (1, 610)
    with pytest.raises(ValueError, match="steps has 1 entries"):
        lk.from_checkpoints(files, steps=[1])
    with pytest.raises(ValueError, match="empty"):
        lk.from_checkpoints([])


def test_from_checkpoints_never_unpickles(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    torch.save({"w": torch.zeros(2), "evil": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(Exception):  # noqa: B017 - torch's own UnpicklingError
        lk.from_checkpoints([tmp_path / "evil.pt"])
    assert not (tmp_path / "pwned").exists()


def test_load_runs_and_runset(tmp_path, digits):
    for width in (4, 8):
        for seed in (0, 1):
            rec = lk.Recorder(tmp_path / "sw" / f"w{width}s{seed}", config={"width": width})
            lk.train(lk.models.mlp(64, [width], 10, seed=seed), digits, steps=5, lr=0.1, seed=seed,
                     recorder=rec, progress=False)  # fmt: skip
    runs = lk.load_runs(tmp_path / "sw")
    assert len(runs) == 4
    assert len(runs.where(width=8)) == 2
    groups = runs.groupby("width")
    assert sorted(groups) == [4, 8] and all(len(g) == 2 for g in groups.values())
    assert {r["seed"] for r in runs.table()} == {0, 1}
    with pytest.raises(StoreError, match="no recorded runs"):
        lk.load_runs(tmp_path / "sw" / "w4s0" / "weights")


def test_runs_rebuild_their_model_and_task(tmp_path):
    task = lk.tasks.subset(lk.tasks.digits(seed=2, flatten=False), 120, seed=1)
    model = lk.models.cnn(10, channels=(4, 8), seed=3)
    rec = lk.Recorder(tmp_path / "r", schedule=lk.schedules.every(5), evaluate=False)
    lk.train(model, task, steps=10, lr=0.1, recorder=rec, progress=False)
    traj = lk.load(tmp_path / "r")
    again = traj.model()
    for (n, a), (_, b) in zip(model.named_parameters(), again.named_parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=n)
    rebuilt = traj.task()
    assert torch.equal(rebuilt.x_train, task.x_train) and torch.equal(rebuilt.y_test, task.y_test)
    first = traj.model(0)
    assert not torch.equal(first.conv1.weight, model.conv1.weight)
    plain = torch.nn.Linear(64, 10)
    rec2 = lk.Recorder(tmp_path / "p", evaluate=False)
    lk.train(plain, lk.tasks.digits(seed=0), steps=2, lr=0.1, recorder=rec2, progress=False)
    with pytest.raises(ValueError, match="does not say how to build"):
        lk.load(tmp_path / "p").model()


def test_run_metadata_as_objects():
    runs = lk.examples.example_runs("digits-widths")
    assert runs.varying_keys() == ["width"]
    assert runs.where(width=8).varying_keys() == []
    steps = runs.common_steps()
    assert steps == sorted(
        set(runs[0].steps.tolist()).intersection(*[t.steps.tolist() for t in runs])
    )
    k = runs[0].schedule_period
    assert k is not None and all(s % k == 0 for s in runs[0].steps if s % k == 0)
    assert lk.store.schedule_period({"union": [{"geometric": [1, 10, 5]}, {"every": 7}]}) == 7
    assert lk.store.schedule_period({"at": [1, 2]}) is None


@pytest.fixture(scope="module")
def chunked_run(tmp_path_factory):
    """A 31-snapshot run stored in chunks of a few rows, and its weights as a numpy array."""
    path = tmp_path_factory.mktemp("chunked") / "r"
    model = torch.nn.Linear(6, 3)
    rec = lk.Recorder(
        path, schedule=lk.schedules.every(1), evaluate=False, chunk_mb=4 * 21 * 4 / 2**20
    )
    with torch.no_grad():
        for step in range(31):
            model.weight.add_(0.1)
            rec.capture(step, model)
    rec.close()
    traj = lk.load(path)
    assert 1 < traj.weights.chunk_rows < 31
    return traj, np.asarray(traj.weights)


_bound = st.one_of(st.none(), st.integers(-40, 40))


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(
    start=_bound, stop=_bound, step=st.one_of(st.none(), st.integers(-7, 7).filter(bool))
)
def test_weights_slices_match_numpy_for_every_slice(chunked_run, start, stop, step):
    traj, W = chunked_run
    key = slice(start, stop, step)
    np.testing.assert_array_equal(traj.weights[key], W[key])
    np.testing.assert_array_equal(traj.weights[key, 2:5], W[key, 2:5])
    # a lazy selection (every other snapshot) indexes like the numpy array of its rows
    sel = traj.select(slice(1, None, 2))
    np.testing.assert_array_equal(sel.weights[key], W[1::2][key])


@hypothesis.settings(max_examples=100, deadline=None)
@hypothesis.given(idx=st.lists(st.integers(-31, 30), max_size=12))
def test_weights_index_arrays_match_numpy(chunked_run, idx):
    traj, W = chunked_run
    np.testing.assert_array_equal(
        traj.weights[np.array(idx, dtype=int)], W[np.array(idx, dtype=int)]
    )


def _record(path, n, *, fail_at=None, **kw):
    """Record n snapshots of a small model; the fail_at-th chunk write raises ENOSPC once."""
    import errno

    import landkit.store as store

    real, calls = store._write_rows, {"n": 0}

    def flaky(arr, start, values, **kw):
        if arr.path.name == "weights" and arr.path.parent.name != "crc32":
            calls["n"] += 1
            if calls["n"] == fail_at:
                raise OSError(errno.ENOSPC, "No space left on device (injected)")
        return real(arr, start, values, **kw)

    model = torch.nn.Linear(6, 3)
    rec = lk.Recorder(path, schedule=lk.schedules.every(1), evaluate=False,
                      chunk_mb=4 * 21 * 4 / 2**20, **kw)  # fmt: skip
    raised = []
    store._write_rows = flaky
    try:
        with torch.no_grad():
            for step in range(n):
                model.weight.add_(0.1)
                try:
                    rec.capture(step, model)
                except StoreError as e:
                    raised.append(e)
                    break
        try:
            rec.close()
        except StoreError as e:
            raised.append(e)
    finally:
        store._write_rows = real
    return raised


@pytest.mark.parametrize("fail_at", [1, 3])
def test_a_failed_write_stops_the_run_and_is_never_called_finished(tmp_path, fail_at):
    """A transient ENOSPC on one chunk: recording stops, the error is a landkit error wrapping the
    OS error, the run is 'truncated' (or 'failed' with nothing written) at its last contiguous
    snapshot — every stored row readable, no step -1, no NaN — and no temporary file is left."""
    raised = _record(tmp_path / "r", 40, fail_at=fail_at)
    assert raised and isinstance(raised[0].__cause__, OSError)
    assert "No space left" in str(raised[0])
    traj = lk.load(tmp_path / "r")
    assert traj.status == ("failed" if fail_at == 1 else "truncated")
    assert "ENOSPC" in traj.meta["summary"]["error"] or "No space" in traj.meta["summary"]["error"]
    W = np.asarray(traj.weights)
    assert np.isfinite(W).all() and (traj.steps >= 0).all()
    np.testing.assert_array_equal(traj.steps, np.arange(len(traj)))
    chunk = traj.weights.chunk_rows
    assert len(traj) == (fail_at - 1) * chunk  # the rows before the failed chunk, nothing after
    assert not glob.glob(str(tmp_path / "r" / "**" / "*.tmp"), recursive=True)


def test_a_second_writer_is_refused_while_the_first_records(tmp_path):
    path = tmp_path / "r"
    model = torch.nn.Linear(4, 2)
    a = lk.Recorder(path, schedule=lk.schedules.every(1), evaluate=False)
    a.capture(0, model)
    # another process (the owner check is per process): a writer with overwrite=True is refused
    code = textwrap.dedent(f"""
        import torch, landkit as lk
        from landkit.errors import RunExistsError
        rec = lk.Recorder({str(path)!r}, evaluate=False, overwrite=True)
        try:
            rec.capture(0, torch.nn.Linear(4, 2))
        except RunExistsError as e:
            print("REFUSED", e)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "REFUSED" in out.stdout and f"process {os.getpid()}" in out.stdout
    a.capture(1, model)
    a.close()
    assert not (path / lk.store.LOCK_FILE).exists()  # released at close
    assert len(lk.load(path)) == 2 and lk.load(path).status == "finished"
    # a lock left by a process that died is taken over
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    import socket

    (path / lk.store.LOCK_FILE).write_text(
        json.dumps({"pid": int(dead), "host": socket.gethostname()})
    )
    b = lk.Recorder(path, evaluate=False, overwrite=True)
    b.capture(0, model)
    b.close()
    assert len(lk.load(path)) == 1


def test_json_records_hold_no_nan_tokens(tmp_path):
    lk.store.write_json_atomic(
        tmp_path / "x.json", {"loss": float("nan"), "v": [1.0, float("inf")]}
    )
    text = (tmp_path / "x.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"loss": None, "v": [1.0, None]}


def test_resume_checks_it_continues_the_same_run(tmp_path, digits):
    path = tmp_path / "r"

    def run(steps=40, resume=True, **kw):
        model = lk.models.mlp(64, [8], 10, seed=0)
        rec = lk.Recorder(path, schedule=lk.schedules.every(10), evaluate=False, resume=resume,
                          overwrite=not resume)  # fmt: skip
        return lk.train(model, digits, steps=steps, recorder=rec, progress=False,
                        **{"lr": 0.1, "batch_size": 32, "seed": 0, **kw})  # fmt: skip

    run(resume=False)
    for change in ({"lr": 0.5}, {"batch_size": 64}, {"seed": 3}, {"steps": 80}):
        with pytest.raises(StoreError, match=f"other settings.*{next(iter(change))}"):
            run(**change)
    assert len(lk.load(path)) == 5 and lk.load(path).meta["config"]["lr"] == 0.1
    run(resume="force", steps=80)  # on request
    assert lk.load(path).steps.tolist() == [0, 10, 20, 30, 40, 50, 60, 70, 80]
    # an attempt that died before its first snapshot: resuming starts it fresh
    empty = tmp_path / "empty"
    rec = lk.Recorder(empty, evaluate=False)
    rec.start(torch.nn.Linear(3, 2))
    rec.close()
    assert lk.load(empty).meta["n_snapshots"] == 0
    rec = lk.Recorder(empty, evaluate=False, resume=True)
    rec.capture(0, torch.nn.Linear(5, 2))  # another model: fine, nothing was recorded before
    rec.close()
    assert len(lk.load(empty)) == 1


# -- damaged and hostile files (issue 17: every fault a StoreError naming the file, none silent) ---


def _bn_run(tmp_path):
    """A small BatchNorm run over several chunks: weights, steps, scalars, checksums, buffers."""
    task = lk.tasks.digits(n_train=64, flatten=False, seed=0)
    model = lk.models.resnet(10, width=4, depth=2, batchnorm=True, seed=0)
    path = tmp_path / "bn"
    rec = lk.Recorder(path, schedule=lk.schedules.every(1), evaluate=False, chunk_mb=0.01)
    lk.train(model, task, steps=12, lr=0.05, batch_size=16, recorder=rec, progress=False)
    return path


def _read_everything(path):
    t = lk.load(path)
    out = {"steps": t.steps.copy(), "w": np.asarray(t.weights).copy()}
    out.update({f"s/{k}": v.copy() for k, v in t.scalars.items()})
    out.update({f"sd/{k}": v.numpy().copy() for k, v in t.state_dict(-1).items()})
    t.model()
    return out


def _same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)


DAMAGES = ["delete", "empty", "half", "garbage", "directory", "json []", "json null"]


def _damage(f, how, rng):
    data = f.read_bytes()
    f.unlink()
    if how == "empty":
        f.write_bytes(b"")
    elif how == "half":
        f.write_bytes(data[: len(data) // 2])
    elif how == "garbage":  # same size, other bytes: only a checksum can tell
        f.write_bytes(
            bytes(x ^ 0xFF for x in data[:64]) + data[64:]
            if len(data) > 64
            else rng.bytes(len(data))
        )
    elif how == "directory":
        f.mkdir()
    elif how.startswith("json"):
        f.write_text(how.split()[1])
    return data


def test_every_damaged_file_is_found_and_named(tmp_path):
    """Each file of a run damaged each way: reading everything either gives back exactly the
    original data (the damage touched nothing the run uses) or raises a StoreError that names the
    damaged file. Never another exception, never different numbers."""
    import shutil

    path = _bn_run(tmp_path)
    good = _read_everything(path)
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name != "landkit.lock")
    assert any("crc32" in str(p) for p in files) and (path / "buffers.npz") in files
    rng = np.random.default_rng(0)
    counts = {"named": 0, "harmless": 0}
    for f in files:
        for how in DAMAGES:
            data = _damage(f, how, rng)
            try:
                got = _read_everything(path)
            except StoreError as e:
                rel = str(f.relative_to(path))
                array = rel.split("/c/")[0]  # a chunk's array folder (a checksum names it)
                assert rel in str(e) or f"{array}:" in str(e) or f"{array} " in str(e), (
                    rel,
                    how,
                    e,
                )
                counts["named"] += 1
            else:
                assert _same(got, good), (f, how)
                counts["harmless"] += 1
            finally:
                shutil.rmtree(f) if f.is_dir() else f.unlink(missing_ok=True)
                f.write_bytes(data)
    assert _same(_read_everything(path), good)
    print(f"damaged-file campaign: {len(files)} files x {len(DAMAGES)} damages: {counts}")
    assert counts["named"] >= 0.8 * len(files) * len(DAMAGES), counts


def test_checksums_catch_a_flipped_bit_in_any_row(tmp_path):
    path = _bn_run(tmp_path)
    t = lk.load(path)
    cr = t.weights.chunk_rows
    row = len(t) - 2
    chunk = path / "weights" / "c" / str(row // cr) / "0"
    data = bytearray(chunk.read_bytes())
    data[(row % cr) * t.weights.shape[1] * 4 + 5] ^= 0x01  # one bit of one value of that row
    chunk.write_bytes(bytes(data))
    t = lk.load(path)
    t.weights[0], t.weights[-1]  # the other rows still read
    with pytest.raises(StoreError, match=rf"weights/c/{row // cr}/0: row {row} does not match its"):
        t.weights[row]
    with pytest.raises(StoreError, match="does not match its checksum"):
        np.asarray(t.weights)


def test_runs_without_checksums_still_open(tmp_path):
    import shutil

    path = _bn_run(tmp_path)
    good = _read_everything(path)
    shutil.rmtree(path / "crc32")  # a run recorded before checksums
    assert _same(_read_everything(path), good)


def test_the_store_stays_a_zarr_store(tmp_path):
    zarr = pytest.importorskip("zarr")
    path = _bn_run(tmp_path)
    t = lk.load(path)
    g = zarr.open_group(str(path), mode="r")
    n = len(t)
    np.testing.assert_array_equal(np.asarray(g["weights"][:n]), np.asarray(t.weights))
    np.testing.assert_array_equal(np.asarray(g["steps"][:n]), t.steps)
    crc = np.asarray(g["crc32/weights"][:n])
    import zlib

    assert [zlib.crc32(r) for r in np.asarray(t.weights)] == crc.tolist()


def _edit_meta(path, **changes):
    f = path / "zarr.json"
    m = json.loads(f.read_text())
    meta = m["attributes"]["landkit"]
    for k, v in changes.items():
        if callable(v):
            v(meta)
        else:
            meta[k] = v
    f.write_text(json.dumps(m))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"n_snapshots": -3}, "n_snapshots is -3"),
        ({"n_snapshots": 2.5}, "n_snapshots is 2.5"),
        ({"n_snapshots": True}, "n_snapshots is True"),
        ({"n_snapshots": 10**9}, "holds \\d+ rows but the run says 1000000000"),
        ({"scalar_names": ["../../etc"]}, "scalar_names .* not a list of plain names"),
        ({"params": lambda m: m["params"][0].update(shape=[-4, 3])}, "shape entry .* is -4"),
        ({"params": lambda m: m["params"][1].update(offset=0)}, "is not where the layout puts it"),
        ({"params": lambda m: m["params"].pop()}, "parameters hold \\d+ values but the weights"),
        ({"tied": ["a"]}, "tied is not a mapping"),
        ({"params": "x"}, "params is str"),
    ],
)
def test_hostile_metadata_is_refused_naming_the_file(tmp_path, change, message):
    path = _bn_run(tmp_path)
    _edit_meta(path, **change)
    with pytest.raises(StoreError, match=message) as e:
        lk.load(path)
    assert "zarr.json" in str(e.value)


@pytest.mark.parametrize(
    "array_meta, message",
    [
        ({"shape": [-1, 5]}, "shape entry is -1"),
        (
            {"chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [0, 5]}}},
            "chunk size is 0",
        ),
        ({"data_type": "object"}, "data type 'object'"),
        ({"codecs": [{"name": "gzip"}]}, "not raw little-endian chunks nor landkit"),
        ({"shape": None}, "malformed array metadata"),
    ],
)
def test_hostile_array_metadata_is_refused(tmp_path, array_meta, message):
    path = _bn_run(tmp_path)
    f = path / "weights" / "zarr.json"
    m = json.loads(f.read_text())
    m.update(array_meta)
    f.write_text(json.dumps(m))
    with pytest.raises(StoreError, match=message) as e:
        lk.load(path)
    assert "weights/zarr.json" in str(e.value)


def test_a_recorded_model_spec_is_checked_before_it_is_built(tmp_path):
    """A hostile spec asking for a 160 GB model is refused from meta tensors (no memory taken)."""
    path = _bn_run(tmp_path)
    _edit_meta(path, config=lambda m: m["config"]["model_spec"].update(
        factory="mlp", kwargs={"in_features": 200_000, "hidden": [200_000], "out_features": 10}))  # fmt: skip
    t = lk.load(path)
    with pytest.raises(lk.LandkitError, match=r"did not record every parameter|model spec"):
        t.model()
    _edit_meta(path, config=lambda m: m["config"]["model_spec"].update(kwargs={"nonsense": 1}))
    with pytest.raises(StoreError, match=r"zarr.json: the recorded model spec does not build"):
        lk.load(path).model()


def test_steps_that_do_not_increase_are_refused(tmp_path):
    import shutil

    path = _bn_run(tmp_path)
    shutil.rmtree(path / "crc32")  # without checksums, the order of the steps still tells
    f = path / "steps" / "c" / "0"
    a = np.fromfile(f, dtype="<i8")
    a[[1, 2]] = a[[2, 1]]
    a.tofile(f)
    with pytest.raises(StoreError, match=r"steps: the recorded steps do not increase"):
        lk.load(path)


DISK_FULL = textwrap.dedent(
    """
    import json, os, sys, torch
    import landkit as lk
    path = sys.argv[1] + "/run"
    task = lk.tasks.digits(n_train=64, seed=0)
    model = lk.models.mlp(64, [64], 10, seed=0)          # 4.8k parameters: 19 kB a snapshot
    rec = lk.Recorder(path, schedule=lk.schedules.every(1), evaluate=False, chunk_mb=0.04,
                      flush_every=0.01)
    try:
        lk.train(model, task, steps=400, lr=0.05, batch_size=16, recorder=rec, progress=False)
        print(json.dumps({"raised": None}))
    except Exception as e:
        print(json.dumps({"raised": type(e).__name__, "text": str(e),
                          "cause": type(e.__cause__).__name__ if e.__cause__ else None}))
    t = lk.load(path)
    w = t.weights[:]
    tmp = [f for _, _, fs in os.walk(path) for f in fs if f.endswith(".tmp")]
    print(json.dumps({"status": t.status, "n": len(t), "finite": bool(torch.isfinite(torch.as_tensor(w)).all()),
                      "steps_ok": t.steps.tolist() == list(range(len(t))), "tmp": tmp}))
    """
)


def test_a_real_full_disk_ends_the_run_truncated_with_a_landkit_error(tmp_path):
    """A 384 kB tmpfs (a private mount namespace; skipped where the kernel refuses one) fills up
    during lk.train: the run ends 'truncated' at its last good snapshot, every stored row readable,
    the error a StoreError wrapping ENOSPC, no temporary file left behind."""
    import shutil

    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1) here")
    mnt = tmp_path / "small"
    mnt.mkdir()
    cmd = f'mount -t tmpfs -o size=384k none {mnt} && exec {sys.executable} -c "$0" {mnt}'
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", cmd, DISK_FULL], capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    if "mount" in proc.stderr and proc.returncode and not proc.stdout:
        pytest.skip(f"cannot mount a private tmpfs here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    raised, state = (json.loads(line) for line in proc.stdout.strip().splitlines()[-2:])
    assert raised["raised"] == "StoreError" and raised["cause"] == "OSError", raised
    assert "No space left" in raised["text"]
    assert state["status"] == "truncated" and state["n"] > 0, state
    assert state["finite"] and state["steps_ok"] and state["tmp"] == [], state


def test_fsync_pushes_every_file_to_disk(tmp_path, monkeypatch, digits):
    synced = []
    real = os.fsync
    monkeypatch.setattr(
        os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd))
    )
    rec = lk.Recorder(tmp_path / "r", evaluate=False, fsync=True)
    lk.train(
        lk.models.mlp(64, [8], 10, seed=0), digits, steps=5, lr=0.1, recorder=rec, progress=False
    )
    files = {
        str(p) for p in (tmp_path / "r").rglob("*") if p.is_file() and p.name != "landkit.lock"
    }
    assert files <= set(synced), files - set(synced)
    assert str(tmp_path / "r") in synced  # the folder naming them too


# -- compression, evaluation schedule, backpressure (issue 16) -------------------------------------


def _dense_run(path, *, steps=60, **kw):
    task = lk.tasks.digits(n_train=200, seed=0)
    model = lk.models.mlp(task.in_features, [16], task.n_classes, seed=0)
    kw = {"chunk_mb": 0.01, **kw}
    rec = lk.Recorder(path, schedule=lk.schedules.every(1), evaluate=False, **kw)
    lk.train(model, task, steps=steps, lr=0.05, batch_size=16, seed=0, recorder=rec, progress=False)
    return model


@pytest.mark.parametrize("compress", ["lz4", "zstd"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_compressed_runs_read_back_bit_for_bit(tmp_path, compress, dtype):
    _dense_run(tmp_path / "raw", dtype=dtype)
    # partial flushes at every capture: chunks are decoded, merged and re-encoded many times
    model = _dense_run(tmp_path / "z", dtype=dtype, compress=compress, flush_every=1e-6)
    raw, z = lk.load(tmp_path / "raw"), lk.load(tmp_path / "z")
    assert z.weights.shape == raw.weights.shape and z.weights.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(np.asarray(z.weights), np.asarray(raw.weights))
    np.testing.assert_array_equal(z.weights[-1], flat(model).astype(dtype))
    for i in (0, 7, 31, len(z) - 1):  # row by row, across chunk boundaries
        np.testing.assert_array_equal(z.weights[i], raw.weights[i])
    np.testing.assert_array_equal(z.weights[[3, 40, 2]], raw.weights[[3, 40, 2]])


def test_compression_saves_bytes_on_a_dense_run(tmp_path):
    def size(p):
        return sum(f.stat().st_size for f in (p / "weights" / "c").rglob("*") if f.is_file())

    sizes = {}
    for compress in (None, "lz4", "zstd"):  # all 61 snapshots in one 4 MB chunk
        path = tmp_path / str(compress)
        _dense_run(path, compress=compress, chunk_mb=4.0)
        sizes[compress] = size(path)
    # consecutive SGD steps share their sign, exponent and leading mantissa bits
    assert sizes["zstd"] < sizes["lz4"] < 0.75 * sizes[None], sizes


def test_a_compressed_run_resumes_and_catches_damage(tmp_path):
    task = lk.tasks.digits(n_train=200, seed=0)
    model = lk.models.mlp(task.in_features, [16], task.n_classes, seed=0)
    path = tmp_path / "z"
    for resume, steps in ((False, 25), ("force", 50)):  # the second call appends 26..50
        rec = lk.Recorder(path, schedule=lk.schedules.every(1), evaluate=False, chunk_mb=0.01,
                          compress="lz4", resume=resume)  # fmt: skip
        kw = dict(lr=0.05, batch_size=16, seed=0, recorder=rec, progress=False)
        lk.train(model, task, steps=steps, **kw)
        if not resume:
            before = np.asarray(lk.load(path).weights)
    t = lk.load(path)
    assert len(t) == 26 + 25 and np.array_equal(np.asarray(t.weights)[:26], before)
    np.testing.assert_array_equal(t.weights[-1], flat(model))
    chunk = path / "weights" / "c" / "1" / "0"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x10  # one bit inside the compressed stream
    chunk.write_bytes(bytes(data))
    t = lk.load(path)
    with pytest.raises(StoreError, match=r"weights/c/1/0: (row \d+ does not match|a compressed)"):
        np.asarray(t.weights)
    chunk.write_bytes(bytes(data[:10]))  # truncated
    with pytest.raises(StoreError, match=r"weights/c/1/0: a compressed chunk that does not decode"):
        np.asarray(lk.load(path).weights)


def test_an_unknown_compressor_is_refused():
    with pytest.raises(lk.InvalidArgument, match="compress"):
        lk.Recorder("x", compress="gzip")
    with pytest.raises(lk.InvalidArgument, match="evaluate must be"):
        lk.Recorder("x", evaluate="sometimes")


def test_default_evaluation_is_geometric_on_dense_runs(tmp_path):
    task = lk.tasks.digits(n_train=200, seed=0)
    model = lk.models.mlp(task.in_features, [16], task.n_classes, seed=0)
    rec = lk.Recorder(tmp_path / "d", schedule=lk.schedules.every(1))  # evaluate="auto"
    lk.train(model, task, steps=1000, lr=0.05, batch_size=16, seed=0, recorder=rec, progress=False)
    t = lk.load(tmp_path / "d")
    ev = np.isfinite(t.scalars["loss"])
    assert len(t) == 1001 and 60 <= ev.sum() <= 102 and ev[0] and ev[-1]
    evaluated = t.steps[ev]
    assert (evaluated[:10] == np.arange(10)).all()  # geometric: dense early, sparse late
    assert np.diff(evaluated)[-1] >= 40
    assert np.isfinite(t.scalars["batch_loss"]).all()
    assert (np.isfinite(t.scalars["test_acc"]) == ev).all()
    assert t.meta["evaluated"] == "some snapshots" and t.meta["loss_source"] == "train_set"
    i = int(np.flatnonzero(ev)[len(evaluated) // 2])  # an evaluated snapshot is the real full loss
    net = t.model(i)
    assert t.scalars["loss"][i] == pytest.approx(task.evaluate(net)["train_loss"], rel=1e-5)
    # the lenses say what to do instead of computing on NaN
    with pytest.raises(lk.InvalidArgument, match=r"lens='loss': \d+ of \d+ snapshots have no full"):
        lk.mapper.graph([t], lens="loss", n_cubes=5)
    assert lk.mapper.graph([t], lens="step", n_cubes=5).nodes
    fig = lk.plots.plot_curves(t)
    assert len(fig.axes[0].lines[0].get_xdata()) == ev.sum()


@pytest.mark.parametrize("evaluate, expected", [
    ("auto", 51), (True, 51), (False, 0), (lk.schedules.every(10), 6),
])  # fmt: skip
def test_evaluate_choices_on_a_sparse_run(tmp_path, evaluate, expected):
    task = lk.tasks.digits(n_train=200, seed=0)
    model = lk.models.mlp(task.in_features, [16], task.n_classes, seed=0)
    rec = lk.Recorder(tmp_path / "d", schedule=lk.schedules.every(1), evaluate=evaluate)
    # eval_every=0: the history's evaluations would also fill the columns
    kw = dict(lr=0.05, batch_size=16, seed=0, recorder=rec, progress=False, eval_every=0)
    lk.train(model, task, steps=50, **kw)
    t = lk.load(tmp_path / "d")
    if evaluate is False:
        assert "test_acc" not in t.scalars
        np.testing.assert_array_equal(t.scalars["loss"], t.scalars["batch_loss"])
    else:
        assert np.isfinite(t.scalars["test_acc"]).sum() == expected


def test_a_slow_disk_is_buffered_then_waited_for_with_a_warning(tmp_path, monkeypatch):
    from landkit import store

    write = store.StoreWriter.write

    def slow(self, *a, **kw):
        time.sleep(0.05)
        return write(self, *a, **kw)

    monkeypatch.setattr(store.StoreWriter, "write", slow)
    task = lk.tasks.digits(n_train=200, seed=0)
    row_mb = 1306 * 4 / 2**20  # the MLP's parameters in float32
    for buffer_mb, warns in ((3 * 4 * row_mb, True), (1000 * row_mb, False)):
        model = lk.models.mlp(task.in_features, [16], task.n_classes, seed=0)
        # one snapshot per chunk: every snapshot is a write of its own
        rec = lk.Recorder(tmp_path / str(warns), schedule=lk.schedules.every(1), evaluate=False,
                          chunk_mb=row_mb, buffer_mb=buffer_mb)  # fmt: skip
        with __import__("warnings").catch_warnings(record=True) as got:
            __import__("warnings").simplefilter("always")
            r = lk.train(model, task, steps=40, lr=0.05, seed=0, recorder=rec, progress=False)
        slow_warnings = [w for w in got if issubclass(w.category, lk.RecordingSlowWarning)]
        t = lk.load(tmp_path / str(warns))
        assert len(t) == 41 and np.array_equal(t.weights[-1], flat(model))  # nothing dropped
        if warns:
            assert len(slow_warnings) == 1 and "buffer_mb" in str(slow_warnings[0].message)
            assert t.meta["summary"]["writer_wait_s"] > 0.5
        else:  # 41 snapshots fit in memory: training never waited (the close does)
            assert not slow_warnings and "writer_wait_s" not in t.meta["summary"]
            assert r.seconds < 1.0  # the loop ended long before the 2 s of writes


# -- deferred commits (issue 16: the small files once a second, not once a block) -----------------


def _writer(path, dim=5):
    from landkit.store import StoreWriter

    params = [{"name": "w", "shape": [dim], "offset": 0}]
    return StoreWriter(path, dim=dim, meta={"params": params}, capacity=8, chunk_bytes=2 * dim * 4)


def test_uncommitted_blocks_are_invisible_until_the_commit(tmp_path):
    """Blocks written with commit=False put their weights on disk, but a reader sees only the
    committed rows (n_snapshots), with their steps and scalars; the commit makes all of them visible,
    the scalars NaN where a block did not record them."""
    w = _writer(tmp_path / "r")
    rows = np.arange(30, dtype=np.float32).reshape(6, 5)
    w.write(0, rows[:2], np.array([0, 1]), {"loss": np.array([1.0, 2.0])})
    w.write(2, rows[2:4], np.array([2, 3]), {"loss": np.array([3.0, 4.0])}, commit=False)
    w.write(4, rows[4:], np.array([4, 5]), {"acc": np.array([0.5, 0.6])}, commit=False)
    t = lk.load(tmp_path / "r")
    assert len(t) == 2 and t.steps.tolist() == [0, 1]
    np.testing.assert_array_equal(np.asarray(t.weights), rows[:2])
    w.commit()
    t = lk.load(tmp_path / "r")  # every row's checksum is verified on open
    assert t.steps.tolist() == [0, 1, 2, 3, 4, 5]
    np.testing.assert_array_equal(np.asarray(t.weights), rows)
    np.testing.assert_array_equal(t.scalars["loss"], [1, 2, 3, 4, np.nan, np.nan])
    np.testing.assert_array_equal(t.scalars["acc"], [np.nan] * 4 + [0.5, 0.6])
    w.release()


def test_a_failed_commit_keeps_the_longest_prefix_it_can(tmp_path, monkeypatch):
    """A full disk at the commit: the newest uncommitted blocks' chunk files are deleted to make
    room and the blocks before them are committed — no hole, no orphaned chunk file."""
    import errno

    from landkit import store

    w = _writer(tmp_path / "r")
    rows = np.arange(40, dtype=np.float32).reshape(8, 5)
    for i in range(0, 8, 2):
        w.write(i, rows[i : i + 2], np.array([i, i + 1]), {}, commit=False)
    chunks = sorted(
        (tmp_path / "r" / "weights" / "c").glob("*/0"), key=lambda p: int(p.parent.name)
    )
    assert len(chunks) == 4  # two rows per chunk
    real, freed = store._write_rows, []

    def full_until_two_chunks_freed(arr, start, values, **kw):  # room only once 2 chunks are gone
        gone = sum(not c.exists() for c in chunks)
        if arr.path.name == "steps" and gone < 2:
            freed.append(gone)
            raise OSError(errno.ENOSPC, "No space left on device (injected)")
        return real(arr, start, values, **kw)

    monkeypatch.setattr(store, "_write_rows", full_until_two_chunks_freed)
    with pytest.raises(OSError):
        w.commit()
    assert freed == [0, 1]  # the first try, then one block dropped
    t = lk.load(tmp_path / "r")
    assert t.steps.tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(np.asarray(t.weights), rows[:4])
    assert [c.exists() for c in chunks] == [True, True, False, False]
    w.release()


def test_full_blocks_are_committed_within_a_second_when_capturing_stops(tmp_path, monkeypatch):
    """Full blocks are committed about once a second, on the next block or, when training stops
    capturing (a long validation in the user's loop), once the second is up: a reader polling the
    store sees them without a flush."""
    import time

    from landkit.capture import recorder as recmod

    monkeypatch.setattr(recmod, "_COMMIT_EVERY", 0.3)
    model = torch.nn.Linear(64, 10)
    # 650 float32 values a snapshot (2.6 kB); chunk_mb=0.01 holds 4 rows a block
    rec = lk.Recorder(tmp_path / "r", evaluate=False, chunk_mb=0.01, flush_every=1e6)
    rec.start(model)
    rows = len(rec._buf)  # rows a block holds
    assert rows >= 2
    for step in range(3 * rows + 1):  # three full blocks, one row left in the buffer
        with torch.no_grad():
            model.bias.fill_(step)
        rec.capture(step, model, loss=float(step))
    committed = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        n = len(lk.load(tmp_path / "r"))
        committed.append(n)
        if n == 3 * rows:
            break
        time.sleep(0.05)
    assert committed[-1] == 3 * rows, committed  # every full block, the partial one not yet
    t = lk.load(tmp_path / "r")
    np.testing.assert_array_equal(np.asarray(t.weights)[:, -1], np.arange(3 * rows))
    rec.close()
    assert len(lk.load(tmp_path / "r")) == 3 * rows + 1
