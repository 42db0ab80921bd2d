"""The mistralai versions tokentrail supports (the ``mistralai`` extra says the same)."""

_instruments = ("mistralai >= 1.1, < 4",)
