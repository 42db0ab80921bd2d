#!/usr/bin/env bash
# CI fragment, run by .ci/run from the repository root before the tests: build the Collector,
# Jaeger v2 (the e2e tests' trace backend) and Docker Compose (to check deploy/compose), unpack
# the web UI that Debian's Alertmanager lacks (for the local stack), then validate every
# shipped Collector config. The builds reuse Go's module and build caches and are skipped when
# their stamps match; they need only Go (/usr/local/go/bin/go is found without PATH) and the Go
# module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."

collector/build.sh >/dev/null
collector/install-jaeger.sh >/dev/null
collector/install-alertmanager-ui.sh >/dev/null
collector/install-compose.sh >/dev/null
collector/validate.sh
