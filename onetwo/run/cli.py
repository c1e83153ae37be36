"""The command: flags in, results, summary and report out, an exit status for CI.

``run()`` is the entry point of ``python -m onetwo.run`` and of the ``onetwo-run``
script. It parses the flags with absl (``--flagfile``, ``--helpfull``), checks every input
before any model is called, runs the work (:mod:`onetwo.run.runner`) with a progress bar
on stderr, and prints a one-screen summary on stdout.

Exit status: 0 when the errors are at most ``--max_errors``; 1 when there are more; 2 for
bad flags or inputs (with a message naming the flag, the value and the fix, and nothing
run); 130 after Ctrl-C (finished examples are kept: rerun with ``--resume``).

Example::

    python -m onetwo.run --strategy=solve.py:solve --dataset=qa.jsonl \\
        --backend=fake --backend_args=default_reply=4 --metric=solve.py:exact
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from absl import app, flags, logging

from onetwo import ot
from onetwo.core.caching import CallCache
from onetwo.run import backend_specs, datasets, fingerprint, on_ray, report, results, runner
from onetwo.run.errors import InputError
from onetwo.run.flags import FLAGS, RunConfig, config_from_flags
from onetwo.run.strategies import load_function

__all__ = ["main", "run"]

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_HELP_FLAGS = frozenset({"-?", "-h", "--help", "--helpfull", "--helpshort", "--helpxml"})


def _extractors(config: RunConfig) -> tuple[Callable[[Any], Any], Callable[[Any], Any] | None]:
    field, target = config.inputs_field, config.target_field

    def inputs(example: dict[str, Any]) -> Any:
        return example[field] if field else example

    return inputs, (lambda example: example.get(target)) if target else None


def _check_inputs(config: RunConfig, entries: Sequence[datasets.Entry]) -> None:
    field = config.inputs_field
    for entry in entries:
        if field and field not in entry.example:
            raise InputError(
                f"--dataset={config.dataset}: example {entry.id!r} has no field {field!r} "
                f"(its fields: {sorted(entry.example)}). Name the strategy's input with "
                "--inputs_field=..., or --inputs_field= to pass the whole example as keywords."
            )


def _output_folder(config: RunConfig) -> str:
    folder = config.output_dir
    try:
        os.makedirs(folder, exist_ok=True)
        probe = os.path.join(folder, ".onetwo_write_check")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise InputError(
            f"--output_dir={folder}: cannot write there ({e.strerror or e}). Choose a folder "
            "you can write to."
        ) from None
    existing = os.path.join(folder, results.RESULTS)
    if not config.resume and os.path.exists(existing) and os.path.getsize(existing):
        raise InputError(
            f"--output_dir={folder} already holds results ({existing}). Continue that run with "
            "--resume, or choose another --output_dir (or remove the folder)."
        )
    return folder


def _cache(config: RunConfig) -> CallCache | None:
    if config.cache_mode == "off":
        return None
    try:
        return CallCache(config.cache_dir, mode=config.cache_mode)  # type: ignore[arg-type]
    except OSError as e:
        raise InputError(
            f"--cache_dir={config.cache_dir}: cannot open the cache there ({e}). Choose "
            "another folder, or --cache_mode=off."
        ) from None


def _backends(config: RunConfig) -> list[backend_specs.BackendSpec]:
    texts = config.backend_args or ("",)
    if len(texts) == 1:
        texts = texts * len(config.backends)
    specs = [backend_specs.parse_spec(b, a) for b, a in zip(config.backends, texts)]
    labels = [s.label for s in specs]
    for label in labels:
        if labels.count(label) > 1:
            raise InputError(
                f"--backend={label} is given {labels.count(label)} times. Give each backend "
                "once; to compare two set-ups of one model, name them apart (fake:a, fake:b)."
            )
    return specs


class _Progress:
    """The tqdm bar on stderr, and the error count, updated as each unit finishes."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar: Any = None
        if enabled:  # --noprogress: not even tqdm's import
            from tqdm import tqdm

            self.bar = tqdm(total=total, file=sys.stderr, unit="ex")
        self.errors = 0
        self.rows: list[dict[str, Any]] = []  # this session's, as written

    def __call__(self, rows: list[dict[str, Any]]) -> None:
        self.rows += rows
        for row in rows:
            if row["error"] is not None:
                self.errors += 1
        if self.bar is not None:
            self.bar.update()
            if self.errors:
                self.bar.set_postfix(errors=self.errors, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _run_interruptibly(work_runner: runner.Runner) -> bool:
    """Run; on SIGINT stop cleanly. Returns whether the run was interrupted."""

    def on_sigint(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C: hard
        work_runner.stop()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        ot.run(work_runner.executable())
    except (asyncio.CancelledError, concurrent.futures.CancelledError, KeyboardInterrupt):
        if not work_runner.stopped.is_set():
            raise
    finally:
        signal.signal(signal.SIGINT, previous)
    return work_runner.stopped.is_set()


def _run_on_ray(
    work: runner.Work,
    writer: results.ResultsWriter,
    cluster: Any,
    cache: CallCache | None,
    descriptions: dict[str, Any],
    progress: _Progress,
    show_progress: bool,
) -> bool:
    """Run on the cluster; on Ctrl-C stop (finished backends are written). Interrupted?"""
    try:
        on_ray.run_on_ray(
            work, writer, cluster, cache, descriptions, show_progress, on_unit=progress
        )
    except KeyboardInterrupt:
        return True
    return False


def execute(config: RunConfig) -> int:
    """Run the experiment ``config`` describes; returns the exit status.

    Raises:
        InputError: a flag or an input is wrong (nothing has run).
    """
    started = time.time()
    strategy = load_function(config.strategy, "--strategy")
    metrics = [load_function(m, "--metric") for m in config.metrics]
    dataset = datasets.load_dataset(config.dataset)
    entries = datasets.select(dataset.entries, config.ids, config.limit)
    _check_inputs(config, entries)
    specs = _backends(config)
    folder = _output_folder(config)
    current = fingerprint.fingerprint_of(config, strategy, metrics, dataset, specs)
    saved = fingerprint.read_fingerprint(folder)
    earlier = results.read_rows(os.path.join(folder, results.RESULTS)) if config.resume else []
    if config.resume and (earlier or saved is not None):
        fingerprint.check_resume(folder, saved, current)
    cache = _cache(config)
    cluster, descriptions, registries = None, {}, {}
    if config.ray_address:  # the workers build the backends
        descriptions = on_ray.describe(specs)
        cluster = on_ray.connect(config, [strategy, *metrics])
    else:
        registries = {s.label: backend_specs.build_registry(s, cache) for s in specs}
    # Every input is good: from here on, the folder belongs to this run.
    fingerprint.save_fingerprint(folder, current)

    labels = [s.label for s in specs]
    units = [runner.Unit(entry, label) for entry in entries for label in labels]
    if earlier:
        samples_done: dict[tuple[str, str], set[int]] = {}
        for row in earlier:
            samples_done.setdefault(results.unit_key(row["id"], row["backend"]), set()).add(
                row["sample"]
            )
        units = [
            unit
            for unit in units
            if len(samples_done.get(results.unit_key(unit.entry.id, unit.backend), ()))
            < config.num_samples
        ]
    inputs_extractor, target_extractor = _extractors(config)
    work = runner.Work(
        strategy=strategy.function,
        metrics={m.name: m.function for m in metrics},
        inputs_extractor=inputs_extractor,
        target_extractor=target_extractor,
        units=units,
        registries=registries,
        num_samples=config.num_samples,
        parallelism=config.parallelism,
        traced={e.index for e in entries[: report.SHOWN]},  # the report shows those
    )
    # On Ray, distributed.evaluate shows a bar over the cluster.
    progress = _Progress(len(units), config.progress and cluster is None)
    with results.ResultsWriter(folder, append=config.resume) as writer:
        try:
            if cluster is not None:
                interrupted = _run_on_ray(
                    work, writer, cluster, cache, descriptions, progress, config.progress
                )
            else:
                interrupted = _run_interruptibly(runner.Runner(work, writer, on_unit=progress))
        finally:
            progress.close()
    if earlier:  # --limit or --ids may leave some out
        wanted = {e.key for e in entries}
        earlier = [r for r in earlier if str(r["id"]) in wanted]
    rows = report.latest_rows(earlier, progress.rows)
    return _finish(config, folder, current, entries, specs, units, rows, interrupted, started)


def _finish(
    config: RunConfig,
    folder: str,
    current: dict[str, Any],
    entries: list[datasets.Entry],
    specs: list[backend_specs.BackendSpec],
    units: list[runner.Unit],
    rows: list[dict[str, Any]],
    interrupted: bool,
    started: float,
) -> int:
    stats = report.backend_stats(rows, [s.label for s in specs])
    errors = sum(s["errors"] for s in stats.values())
    summary = {
        "status": "interrupted" if interrupted else "complete",
        "fingerprint": current,
        "counts": {
            "examples": len(entries),
            "backends": len(specs),
            "samples": config.num_samples,
            "rows": len(rows),
            "errors": errors,
            "run_now": "interrupted" if interrupted else len(units),
            "resumed": len(entries) * len(specs) - len(units),
        },
        "backends": stats,
        "wall_time_s": time.time() - started,
    }
    report.write_summary(folder, summary)
    traces = os.path.join(folder, results.TRACES)
    with open(os.path.join(folder, report.REPORT), "w", encoding="utf-8") as f:
        f.write(report.render_report(summary, rows, traces))
    print(report.screen(summary, folder), flush=True)
    if interrupted:
        print("Interrupted: finished examples are saved; rerun with --resume.", file=sys.stderr)
        return EXIT_INTERRUPTED
    if config.max_errors >= 0 and errors > config.max_errors:
        print(
            f"{errors} errors, more than --max_errors={config.max_errors}: exit status 1. "
            f"See the error column of {os.path.join(folder, results.RESULTS)}.",
            file=sys.stderr,
        )
        return EXIT_ERRORS
    return EXIT_OK


def main(argv: Sequence[str]) -> int:
    """absl's main: runs the flags' configuration; exit 2 with a message on bad input."""
    if len(argv) > 1:
        return _usage_error(
            f"unexpected arguments {list(argv[1:])}: every setting is a flag, e.g. "
            "--strategy=solve.py:solve. See --helpfull."
        )
    if not FLAGS["verbosity"].present:  # absl logs INFO by default: HTTP clients too chatty
        logging.set_verbosity(logging.WARNING)
    try:
        return execute(config_from_flags())
    except InputError as e:
        return _usage_error(str(e))


def _usage_error(message: str) -> int:
    print(f"onetwo-run: error: {message}", file=sys.stderr, flush=True)
    return EXIT_USAGE


def _parse_flags(argv: list[str]) -> list[str]:
    # absl exits with 1 on a bad flag; CI tells bad flags from failed examples by status 2.
    try:
        return list(FLAGS(argv))
    except flags.Error as e:
        _usage_error(f"{e}. See --helpfull for every flag.")
        sys.exit(EXIT_USAGE)
    except SystemExit as e:  # absl's --help flags exit with 1 after printing the help
        if e.code == 1 and _HELP_FLAGS.intersection(a.split("=")[0] for a in argv[1:]):
            sys.exit(EXIT_OK)
        raise


def run() -> None:
    """The console entry point (``onetwo-run``, ``python -m onetwo.run``)."""
    # --help lists the key flags of the program's main module (absl names it by argv[0]).
    for flag in FLAGS.get_flags_for_module("onetwo.run.flags"):
        FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    app.run(main, flags_parser=_parse_flags)
