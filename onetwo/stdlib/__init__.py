"""Ready-made strategies built on the builtins: reasoning, ensembling.

* ``reasoning.chain_of_thought``: reason first, then answer (``QACoTPromptChat``...);
* ``ensembling.self_consistency``: sample a strategy many times, vote on the answers.
"""

__all__: list[str] = []
