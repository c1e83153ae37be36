"""onetwo: write a strategy that calls language models once; run it on any model.

Layers, bottom up (a module only imports from layers below it):

* ``onetwo.errors``: the exception tree.
* ``onetwo.core``: lazy executables (``executing``), running them from sync code on
  onetwo's one long-lived event loop (``runtime``, ``running``), the scheduler
  (``scheduling``, ``sampling``, ``batching``), the registry
  that binds builtins to implementations (``registry``, ``builtin``), the call cache
  (``caching``), tracing and chat content. The core imports no builtins, no backend and
  no model SDK; ``tests/test_layers.py`` checks it, and that no imports form a cycle.
* ``onetwo.builtins``: the LLM builtins (``llm``) and composable prompts (``composables``);
  importing it makes ``executable + text`` compose (``executing.set_composer``).
* ``onetwo.backends``: implementations of the builtins on real models and a scripted fake
  (which also answers ``Composable.dry_run``, the builtins' one lazy import of a backend).
* ``onetwo.ot``: the short public namespace, ``from onetwo import ot``.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
