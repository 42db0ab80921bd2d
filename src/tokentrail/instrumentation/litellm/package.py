"""The LiteLLM versions tokentrail supports (the ``litellm`` extra says the same)."""

_instruments = ("litellm >= 1.100, < 2",)
