"""Evaluation: a strategy run over a dataset, scored, and compared across backends.

A layer above the core: ``evaluation`` holds :func:`evaluate` and :func:`compare` (also
``ot.evaluate`` and ``ot.compare``), ``results`` what they return. The reference OneTwo
keeps these at ``onetwo.evaluation.evaluation`` too. ``datasets`` loads ready-made
datasets (HotpotQA) as examples and retrieval documents; it sits above the stdlib, and
nothing else here imports it.

Example:
    >>> from onetwo.evaluation import evaluation
    >>> summary = evaluation.evaluate(strategy, examples, metric_functions=...)  # doctest: +SKIP
"""

__all__: list[str] = []
