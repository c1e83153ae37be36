"""onetwo: write a strategy that calls language models once; run it on any model.

Layers, bottom up (a module only imports from layers below it):

* ``onetwo.errors``: the exception tree.
* ``onetwo.core``: lazy executables (``executing``), running them from sync code on
  onetwo's one long-lived event loop (``runtime``, ``syncrun``), the scheduler
  (``scheduling``, ``sampling``, ``batching``), the registry
  that binds builtins to implementations (``registry``, ``builtin``), the call cache
  (``caching``), tracing and chat content. The core imports no model SDK.
* ``onetwo.builtins``: the LLM builtins (``llm``) and composable prompts (``composables``).
* ``onetwo.backends``: implementations of the builtins on real models and a scripted fake.
* ``onetwo.ot``: the short public namespace, ``from onetwo import ot``.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
