"""The test suite runs tokentrail in strict mode: an internal error fails the test instead of
being logged and swallowed (tests that inject faults use the ``lenient`` fixture)."""

import os

os.environ["TOKENTRAIL_STRICT"] = "1"

pytest_plugins = ["tokentrail.testing"]
