"""The command line's flags (absl), and the :class:`RunConfig` they make.

The flags are defined when this module is imported, so ``--flagfile=exp.flags`` and
``--helpfull`` work as in any absl program. :func:`config_from_flags` checks them and
returns a plain, frozen :class:`RunConfig`, which the rest of ``onetwo.run`` uses.

Example::

    python -m onetwo.run --strategy=solve.py:solve --dataset=qa.jsonl \\
        --backend=fake:four --backend_args=default_reply=4 --num_samples=3
"""

from __future__ import annotations

import dataclasses
from typing import Any

from absl import flags

from onetwo.run.errors import InputError

__all__ = ["FLAGS", "RunConfig", "config_from_flags"]

FLAGS = flags.FLAGS

flags.DEFINE_string(
    "strategy",
    None,
    "The strategy: path/to/file.py:function or package.module:function. The function takes "
    "an example's inputs as ot.evaluate gives them and returns an executable (or is async).",
)
flags.DEFINE_string(
    "dataset",
    None,
    "Examples: a .jsonl file (one JSON object a line), .json "
    "(a list of objects) or .csv. An `id` field names an example.",
)
flags.DEFINE_multi_string(
    "backend",
    ["local:smollm2"],
    "provider:model, repeatable (several run side by side): local:smollm2, "
    "openai:gpt-4o-mini, gemini:gemini-2.5-flash, fake (scripted, no model).",
)
flags.DEFINE_multi_string(
    "backend_args",
    [],
    "key=value,... constructor arguments (values parsed as JSON where they parse). Once: "
    "for every backend; else once per --backend, in the same order.",
)
flags.DEFINE_multi_string(
    "metric",
    [],
    "A metric, repeatable: file.py:function or module:function, called as "
    "ot.evaluate calls metrics: fn(target, prediction) (or with example=).",
)
flags.DEFINE_string(
    "inputs_field",
    "question",
    "The example field given to the strategy "
    "(a dict value: as keyword arguments); empty: the whole example as keywords.",
)
flags.DEFINE_string(
    "target_field", "answer", "The example field the metrics compare with; empty: no target."
)
flags.DEFINE_string("cache_dir", "onetwo_cache", "The call cache folder.")
flags.DEFINE_enum(
    "cache_mode",
    "read_write",
    ["read_write", "replay", "record", "off"],
    "read_write: hits are read, misses computed and written; replay: a miss is an error (no "
    "model is contacted); record: always call and overwrite; off: no cache.",
)
flags.DEFINE_integer(
    "parallelism",
    16,
    "At most this many examples in flight (for each sample; shared out between backends).",
    lower_bound=1,
)
flags.DEFINE_integer(
    "num_samples",
    1,
    "Samples per example (each with its own sampling key, so its own cached sample).",
    lower_bound=1,
)
flags.DEFINE_integer("limit", None, "Run only the first N examples.", lower_bound=0)
flags.DEFINE_list("ids", [], "Run only the examples with these ids (comma-separated).")
flags.DEFINE_integer(
    "max_errors",
    0,
    "Exit with status 1 if more examples than this fail; -1: never.",
    lower_bound=-1,
)
flags.DEFINE_string(
    "output_dir",
    "onetwo_output",
    "Where results.jsonl, traces.jsonl, summary.json and report.html go.",
)
flags.DEFINE_bool(
    "resume",
    False,
    "Continue the run in --output_dir: skip the examples "
    "already in results.jsonl. Refused if the configuration differs.",
)
flags.DEFINE_bool("progress", True, "Show a progress bar on stderr.")
flags.DEFINE_string(
    "ray_address",
    None,
    "Run on a Ray cluster ('auto', 'ray://head:10001', or 'local' for a cluster started on "
    "this machine); needs onetwo[ray]. The rows of each backend are written to "
    "results.jsonl when its evaluation on the cluster ends (not one by one).",
)
flags.DEFINE_integer(
    "num_workers",
    None,
    "With --ray_address: worker processes (default: one per CPU).",
    lower_bound=1,
)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """One run's settings, checked; see the flags' help for each field."""

    strategy: str
    dataset: str
    backends: tuple[str, ...]
    backend_args: tuple[str, ...]
    metrics: tuple[str, ...] = ()
    inputs_field: str = "question"
    target_field: str = "answer"
    cache_dir: str = "onetwo_cache"
    cache_mode: str = "read_write"
    parallelism: int = 16
    num_samples: int = 1
    limit: int | None = None
    ids: tuple[str, ...] = ()
    max_errors: int = 0
    output_dir: str = "onetwo_output"
    resume: bool = False
    progress: bool = True
    ray_address: str | None = None
    num_workers: int | None = None


_FLAG_OF = {"backends": "backend", "metrics": "metric"}


def config_from_flags() -> RunConfig:
    """The parsed flags as a :class:`RunConfig`; a missing or inconsistent flag raises
    :class:`~onetwo.run.errors.InputError`."""
    for name in ("strategy", "dataset"):
        if not FLAGS[name].value:
            raise InputError(
                f"--{name} is required, got nothing. E.g. --strategy=solve.py:solve "
                "--dataset=examples.jsonl."
            )
    backends, backend_args = tuple(FLAGS.backend), tuple(FLAGS.backend_args)
    if len(backend_args) not in (0, 1, len(backends)):
        raise InputError(
            f"--backend_args was given {len(backend_args)} times for {len(backends)} "
            f"--backend flags {list(backends)}. Give it once (for every backend) or once per "
            "--backend, in the same order."
        )
    if FLAGS.num_workers is not None and not FLAGS.ray_address:
        raise InputError(
            f"--num_workers={FLAGS.num_workers} goes with --ray_address, which is not set. Add "
            "--ray_address=local (a Ray cluster on this machine) or the address of yours, or "
            "drop --num_workers."
        )
    # Each field is the flag of the same name (the repeatable ones: in the plural).
    values: dict[str, Any] = {
        f.name: FLAGS[_FLAG_OF.get(f.name, f.name)].value for f in dataclasses.fields(RunConfig)
    }
    sequences = {k: tuple(values[k]) for k in ("backends", "backend_args", "metrics", "ids")}
    return RunConfig(**{**values, **sequences})
