"""``python -m onetwo.run``: one command runs a strategy over a dataset, on one or more backends.

A strategy that works in a notebook becomes an experiment: thousands of examples, several
backends side by side, rerun tomorrow or in CI. The command line gives each example to
the strategy exactly as ``ot.evaluate`` does (it is one streaming ``ot.evaluate`` per
backend), writes a line to ``results.jsonl`` as each example finishes, caches every model
call, and ends with ``summary.json``, ``report.html``
and an exit status CI can use (0 ok, 1 more errors than ``--max_errors``, 2 bad flags or
inputs; 130 after Ctrl-C, with everything finished kept for ``--resume``).

Example::

    python -m onetwo.run --strategy=solve.py:solve --dataset=questions.jsonl \\
        --backend=local:smollm2 --metric=solve.py:exact --output_dir=runs/first

Layout, one concept a module:

* ``flags``: the absl flags and the :class:`~onetwo.run.flags.RunConfig` they make.
* ``datasets``: JSONL / JSON / CSV examples with their ids, and the dataset's digest.
* ``strategies``: ``path.py:function`` or ``package.module:function`` to a callable.
* ``backend_specs``: ``--backend`` / ``--backend_args`` to registries (``fake`` included).
* ``results``: ``results.jsonl`` (and ``traces.jsonl``, for the examples the report shows),
  appended as examples finish.
* ``fingerprint``: what must match for ``--resume`` to continue a run.
* ``report``: ``summary.json``, the end-of-run screen and ``report.html``.
* ``runner``: the examples × backends × samples: ``ot.evaluate(callback=...)`` per backend
  and sample, concurrently on the runtime.
* ``on_ray``: the same work on a Ray cluster (``--ray_address``), with ``onetwo.distributed``.
* ``cli``: the command itself (``main``), exit statuses and Ctrl-C.
"""

from __future__ import annotations

__all__: list[str] = []
