"""Instrumentors of the provider SDKs (one subpackage each, with the same files:
``package.py`` supported versions, ``patch.py`` what is wrapped, ``extractors.py`` SDK objects
to tokentrail records, ``streams.py`` stream accumulators)."""
