"""Backends: implementations of the builtins on real models, and a scripted fake.

* ``onetwo.backends.fake.FakeBackend``: scripted replies, for tests and notebooks.
* ``onetwo.backends.local``: the embedded local model (llama.cpp in-process, SmolLM2),
  the default: ``local_backend().register()``, no API key ("onetwo[local]").
* ``onetwo.backends.openai_api.OpenAIAPI``: OpenAI, or any OpenAI-compatible server
  (``base_url=``) ("onetwo[openai]").
* ``onetwo.backends.google_genai_api.GoogleGenAIAPI``: Gemini ("onetwo[gemini]").
* ``backend("provider:model")``: any of them by a short name, e.g. ``"local:smollm2"``,
  ``"openai:gpt-4o-mini"``, ``"gemini:gemini-2.5-flash"``.
* ``RetryPolicy`` and ``RateLimiter``: what every real backend takes as ``retry=`` and
  ``rate_limiter=``.
* ``onetwo.backends.network``: the guard that keeps backends on loopback (tests).

Inside, each real backend sends every request through the same layers, outermost first
(``_remote``): the call cache (``onetwo.core.caching``), a hop to onetwo's runtime loop,
the retry policy (``_retry``), the rate limiter (``_ratelimit``), then its SDK client
(made once on the runtime loop), whose request hook is the network guard.

Importing this package imports no model SDK; each backend module imports its own.
"""

from onetwo.backends._ratelimit import RateLimiter as RateLimiter
from onetwo.backends._retry import RetryPolicy as RetryPolicy
from onetwo.backends._shorthand import backend as backend
from onetwo.backends._shorthand import local_backend as local_backend

__all__: list[str] = ["RateLimiter", "RetryPolicy", "backend", "local_backend"]
