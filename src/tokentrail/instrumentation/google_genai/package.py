"""The google-genai versions tokentrail supports (the ``gemini`` extra says the same)."""

_instruments = ("google-genai >= 1.50, < 4",)
