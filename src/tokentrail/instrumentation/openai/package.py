"""The openai versions tokentrail supports (the ``openai`` extra says the same)."""

_instruments = ("openai >= 1.66, < 4",)
