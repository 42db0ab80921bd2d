"""What a call learns from the web request it is made in, when an OpenTelemetry web
instrumentation traced that request: its route template (``routes``), the default ``endpoint``,
and the feature that the configuration maps the route to (``features``), the default
``feature``. ``Runtime.attribution()`` puts them together with the ``attribute()`` blocks."""
