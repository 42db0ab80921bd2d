from tests.instrumentation.driver import _collections_skip_what_is_loaded  # noqa: F401 - fixture
