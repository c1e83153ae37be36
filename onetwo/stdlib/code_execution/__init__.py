"""Code execution at the reference's paths; the sandbox itself is ``onetwo.agents.sandbox``."""

__all__: list[str] = []
