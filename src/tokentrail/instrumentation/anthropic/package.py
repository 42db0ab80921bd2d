"""The anthropic versions tokentrail supports (the ``anthropic`` extra says the same)."""

_instruments = ("anthropic >= 1.0, < 3",)
