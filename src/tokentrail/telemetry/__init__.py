"""Telemetry: the names (``semconv``), the instruments, the emitter (the only user of the OTel
API) and the stream proxies."""
