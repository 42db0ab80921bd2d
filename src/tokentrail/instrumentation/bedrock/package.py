"""The boto3 versions tokentrail supports (the ``bedrock`` extra says the same)."""

_instruments = ("boto3 >= 1.37.24, < 2",)
