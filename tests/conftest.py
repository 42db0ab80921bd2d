"""The test suite runs tokentrail in strict mode: an internal error fails the test instead of
being logged and swallowed (tests that inject faults use the ``lenient`` fixture). LiteLLM
reads its bundled price list instead of fetching one when it is imported (no network)."""

import os

os.environ["TOKENTRAIL_STRICT"] = "1"
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

pytest_plugins = ["tokentrail.testing"]
