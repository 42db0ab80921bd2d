"""``tokentrail report``: the weekly cost review, read from where the telemetry already is.

Sources (:mod:`.sources`): a Prometheus-compatible query API for every aggregate figure, and
span files from the Collector's ``file`` exporter for users and single calls. The analyses
(:mod:`.analysis`) each produce one section of the :class:`~.model.Report`; the renderers
(:mod:`.render`) lay it out as text, markdown, JSON, CSV or HTML. :func:`.build.build` puts
them together; ``tokentrail.cli.report`` is the command line. docs/report.md explains the
figures, thresholds and the JSON format.
"""
