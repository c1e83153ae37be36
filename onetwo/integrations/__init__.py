"""Integrations: onetwo's objects handed to other tools.

* ``otel``: traces exported as OpenTelemetry spans (``pip install "onetwo[otel]"``).
"""

__all__: list[str] = []
