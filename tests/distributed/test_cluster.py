"""distributed.evaluate on a real local Ray cluster: the same results and cache as one
process, an offline replay of the folder, a SIGKILLed worker, conflicting workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from onetwo import distributed, ot
from onetwo.core.caching import CallCache
from tests.distributed import helpers
from tests.distributed.conftest import ROOT
from tests.distributed.gates import Gate

pytestmark = pytest.mark.slow


def _records(folder: Path) -> list[dict[str, Any]]:
    with CallCache(folder) as cache:
        return sorted(cache.records(), key=lambda r: r["key"])


def _run(folder: Path, setup: helpers.Scripted, **kwargs: Any) -> distributed.ClusterSummary:
    return distributed.evaluate(
        helpers.solve,
        kwargs.pop("examples", helpers.examples(24, 7)),
        backend=setup,
        cache=kwargs.pop("cache", folder),
        cluster=kwargs.pop("cluster", distributed.RayCluster(num_workers=2)),
        metric_functions={"first": helpers.first_matches},
        progress=False,
        **kwargs,
    )


def test_results_and_cache_equal_one_process_and_replay_offline(
    cluster: Any, tmp_path: Path
) -> None:
    data = helpers.examples(24, 7)
    with ot.RegistryContext():
        helpers.Scripted()(CallCache(tmp_path / "local")).register()
        local = ot.evaluate(
            helpers.solve, data, metric_functions={"first": helpers.first_matches}, progress=False
        )
    summary = _run(tmp_path / "ray", helpers.Scripted(), examples=data, task_size=3)

    assert summary.predictions == local.predictions  # sample for sample
    assert summary.metrics == local.metrics == {"first": 1.0}
    assert [r.index for r in summary.results.values()] == list(range(24))
    assert _records(tmp_path / "ray") == _records(tmp_path / "local")
    assert summary.conflicts == []
    assert len(summary.workers) == 2, summary.workers  # both workers took tasks
    assert sum(w["examples"] for w in summary.workers.values()) == 24
    assert sum(w["model_calls"] for w in summary.workers.values()) == 7 * 3  # each call once

    # A fresh process with no Ray replays the folder: no call reaches the model.
    script = (
        "import json, sys\n"
        "from onetwo import ot\n"
        "from onetwo.backends.fake import FakeBackend\n"
        "from onetwo.core.caching import CallCache\n"
        "from tests.distributed import helpers\n"
        f"cache = CallCache({str(tmp_path / 'ray')!r}, mode='replay')\n"
        "FakeBackend(default_reply=RuntimeError('no model'), model='seeded', cache=cache)"
        ".register()\n"
        f"s = ot.evaluate(helpers.solve, helpers.examples(24, 7), progress=False)\n"
        "assert not s.errors, s.errors\n"
        "print(json.dumps({'predictions': s.predictions, 'ray': 'ray' in sys.modules}))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    replayed = json.loads(out.stdout.strip().splitlines()[-1])
    assert replayed == {"predictions": local.predictions, "ray": False}

    # The cluster replays it too: in replay mode a miss would fail its example.
    again = _run(
        tmp_path / "ray",
        helpers.Scripted(log=str(tmp_path / "none.log")),
        examples=data,
        cache=CallCache(tmp_path / "ray", mode="replay"),
    )
    assert again.predictions == local.predictions and not again.errors
    assert not (tmp_path / "none.log").exists()  # no call reached the model
    assert sum(w["cache_hits"] for w in again.workers.values()) >= 7 * 3


def test_a_worker_killed_mid_run_loses_nothing_finished(cluster: Any, tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    gate = Gate.options(name="onetwo-test-kill").remote(1)  # type: ignore[attr-defined]
    data = helpers.examples(16, 16)  # every call distinct: one model call each
    victim = data[5]["question"]
    setup = helpers.Scripted(log=str(log), gate="onetwo-test-kill", hold=victim)
    killed: list[int] = []

    def kill() -> None:
        (pid,) = cluster.get(gate.victims.remote())
        killed.append(pid)
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill)
    killer.start()
    try:
        summary = _run(tmp_path / "ray", setup, examples=data, task_size=8, concurrency=1)
    finally:
        killer.join(timeout=60)
        cluster.kill(gate)

    assert killed and killed[0] != os.getpid()
    assert not summary.errors and summary.metrics == {"first": 1.0}
    calls = Counter(line.split(" ", 1)[1] for line in log.read_text().splitlines())
    # The victim's call was in flight when its worker died: made again by the retry. Every
    # other call, those its worker finished before dying included, was made once (the two
    # samples of "... again" are two calls).
    made_once = {e["question"]: 1 for e in data} | {f"{e['question']} again": 2 for e in data}
    assert calls == made_once | {victim: 2}
    # Examples run: the other worker's 8, and the retry's 3 (the victim and the two after
    # it); the 5 the killed worker finished were in the ledger (its own counters died).
    assert sum(w["examples_run"] for w in summary.workers.values()) == 8 + 3
    pids = {int(line.split(" ", 1)[0]) for line in log.read_text().splitlines()}
    assert killed[0] in pids and len(pids) >= 2  # the retry ran in another process
    assert summary.server["leases_broken"] == 1  # the dead worker's lease, at once
    assert len(_records(tmp_path / "ray")) == 16 * 2


def test_two_workers_with_different_values_for_one_call_are_reported(
    cluster: Any, tmp_path: Path
) -> None:
    gate = Gate.options(name="onetwo-test-barrier").remote(2)  # type: ignore[attr-defined]
    data = [{"question": "same", "answer": "same"}] * 2
    setup = helpers.Scripted(gate="onetwo-test-barrier", hold="same", per_worker=True)
    try:
        summary = _run(
            tmp_path / "ray",
            setup,
            examples=data,
            task_size=1,
            cluster=distributed.RayCluster(num_workers=2, lease_timeout=0.5),
        )
    finally:
        cluster.kill(gate)

    (conflict,) = summary.conflicts
    assert conflict.kept != conflict.other
    assert {conflict.kept, conflict.other} <= {f"pid {pid}" for pid in _pids(summary)}
    assert conflict.kept_by != conflict.other_by
    assert '"same"' in conflict.call and "generate_text" in conflict.describe()
    # Every example got the value the cache keeps (and replays), not its own worker's.
    firsts = [prediction[0] for prediction in summary.predictions]
    assert firsts == [conflict.kept, conflict.kept]
    assert sum(w["conflicts"] for w in summary.workers.values()) == 1
    # The second worker waited for the first one's lease, then (0.5 s later) broke it.
    assert summary.server["lease_waits"] >= 1 and summary.server["leases_broken"] == 1


def _pids(summary: distributed.ClusterSummary) -> list[int]:
    return [int(name.rsplit(":", 1)[1]) for name in summary.workers]


def test_a_driver_killed_mid_run_loses_only_calls_in_flight(cluster: Any, tmp_path: Path) -> None:
    folder, first, second = tmp_path / "ray", tmp_path / "first.log", tmp_path / "second.log"
    gate = Gate.options(name="onetwo-test-driver").remote(1)  # type: ignore[attr-defined]
    data = helpers.examples(16, 16)
    held = data[8]["question"]
    driver = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("driver.py")),
            cluster.get_runtime_context().gcs_address,
            str(folder),
            str(first),
            "onetwo-test-driver",
            held,
        ],
        cwd=ROOT,
        env=_env(),
    )
    try:
        cluster.get(gate.victims.remote(), timeout=60)  # example 8's call is in flight
        driver.kill()
        driver.wait(timeout=30)
        before = {json.dumps(r["call"]) for r in _records(folder)}
        summary = _run(folder, helpers.Scripted(log=str(second)), examples=data, concurrency=1)
    finally:
        driver.kill()
        cluster.kill(gate)

    assert not summary.errors and summary.metrics == {"first": 1.0}
    assert len(before) == 8 * 2  # examples 0-7: their two calls each, committed
    made_first = {line.split(" ", 1)[1] for line in first.read_text().splitlines()}
    made_again = Counter(line.split(" ", 1)[1] for line in second.read_text().splitlines())
    assert held in made_first and held in made_again  # in flight at the kill: made again
    assert made_again == {e["question"]: 1 for e in data[8:]} | {
        f"{e['question']} again": 2 for e in data[8:]
    }  # nothing the killed run finished was made again
    assert len(_records(folder)) == 16 * 2


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def test_a_task_carries_at_least_its_workers_concurrency(cluster: Any, tmp_path: Path) -> None:
    # 280 examples on one worker: four tasks of 70, so that 70 examples can be in flight
    # at once (a task smaller than the worker's window would leave it part idle).
    summary = _run(
        tmp_path / "ray",
        helpers.Scripted(),
        examples=helpers.examples(280, 280),
        cluster=distributed.RayCluster(num_workers=1),
        concurrency=70,
    )
    assert not summary.errors and summary.metrics == {"first": 1.0}
    ((worker, counts),) = summary.workers.items()
    assert counts["tasks"] == 4 and counts["examples_run"] == 280, (worker, counts)
    assert counts["model_calls"] == 280 * 3


def test_par_map_runs_a_function_per_input_in_order(cluster: Any, tmp_path: Path) -> None:
    inputs: list[Any] = [f"p{i}" for i in range(8)]
    outputs = distributed.par_map(
        helpers.solve,
        [*inputs, {"nope": 1}],  # a dict is keyword arguments: solve has no `nope`
        backend=helpers.Scripted(),
        cache=tmp_path / "c",
        progress=False,
        return_exceptions=True,
    )
    with ot.RegistryContext():
        helpers.Scripted()(None).register()
        assert outputs[:-1] == ot.run(ot.par_iter([helpers.solve(q) for q in inputs]))
    assert isinstance(outputs[-1], TypeError)
    with pytest.raises(TypeError):
        distributed.par_map(
            helpers.solve, [{"nope": 1}], backend=helpers.Scripted(), progress=False
        )


def test_compare_runs_each_backend_on_the_cluster(cluster: Any, tmp_path: Path) -> None:
    data = helpers.examples(6, 3)
    table = distributed.compare(
        helpers.solve,
        data,
        {"seeded": helpers.Scripted(), "fake": "fake:x"},
        cache=tmp_path / "c",
        metric_functions={"first": helpers.first_matches},
        progress=False,
    )
    assert table.names == ["seeded", "fake"]
    assert table.metrics["seeded"] == {"first": 1.0}
    assert len(table.summaries["fake"].errors) == 6  # no reply scripted: each example fails
    assert isinstance(table.summaries["seeded"], distributed.ClusterSummary)
