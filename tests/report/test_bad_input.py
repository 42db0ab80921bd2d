"""Bad input and misbehaving servers: one line on stderr, a non-zero exit status, never a
traceback; a source that answers only in part still gives the sections it can. Each case runs
the command as a subprocess, as a user would."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.processes import free_port

from .conftest import HistoryServer, tokentrail
from .proxy import PrometheusProxy

RANGE = ("--from", "2026-03-11T00:00:00Z", "--to", "2026-03-18T00:00:00Z")


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def not_prometheus():
    """A web server that is not Prometheus: every path is a 404 HTML page."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><body>Not Found</body></html>"
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


# -- no server needed -----------------------------------------------------------------------


def test_unreachable_prometheus():
    port = free_port()  # nothing listens there
    result = tokentrail("report", "--prometheus", f"http://127.0.0.1:{port}", "--since", "1d")
    assert_one_line_error(result, "cannot reach Prometheus", str(port))
    assert result.returncode == 1


def test_a_url_that_is_not_prometheus(not_prometheus: str):
    result = tokentrail("report", "--prometheus", not_prometheus + "/grafana", "--since", "1d")
    assert_one_line_error(result, "not a Prometheus query API")


def test_a_url_that_is_not_http():
    result = tokentrail("report", "--prometheus", "prometheus:9090", "--since", "1d")
    assert_one_line_error(result, "not an http(s):// URL")


def test_a_missing_span_file(tmp_path: Path):
    result = tokentrail("report", "--spans", str(tmp_path / "nope.jsonl"), "--since", "1d")
    assert_one_line_error(result, "no such file", "nope.jsonl")
    assert result.returncode == 1


def test_a_file_that_is_not_spans(tmp_path: Path):
    pytest.importorskip("duckdb")
    bad = tmp_path / "spans.jsonl"
    bad.write_text("this is not JSON\n")
    result = tokentrail("report", "--spans", str(bad), "--since", "1d")
    assert_one_line_error(result, "cannot read", "spans.jsonl")


def test_spans_with_nothing_in_the_range(tmp_path: Path):
    pytest.importorskip("duckdb")
    from .spanfiles import Call, write

    path = write(tmp_path / "spans.jsonl", [Call(1_700_000_000.0, 0.01, "u-1")])
    result = tokentrail("report", "--spans", str(path), "--since", "1d")
    assert_one_line_error(result, "no tokentrail telemetry between")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--since", "7x"], "expected a duration"),
        (["--from", "2026-03-10", "--to", "2026-03-01"], "the range is empty"),
        (["--from", "yesterday"], "expected a time"),
        (["--since", "1d", "--from", "2026-03-01"], "either --since or --from"),
        (["--since", "400d", "--step", "1m"], "11,000 points"),
        (["--format", "pdf"], "--format"),
        (["--z", "-1"], "--z"),
        ([], "give a source"),
    ],
)
def test_wrong_arguments_exit_2(args: list[str], needle: str):
    source = ["--prometheus", "http://127.0.0.1:1"] if args else []  # never reached
    result = tokentrail("report", *source, *args)
    assert_one_line_error(result, needle)
    assert result.returncode == 2


# -- against the real Prometheus of five weeks -----------------------------------------------


@pytest.mark.e2e
def test_an_empty_range(history_prometheus: HistoryServer):
    result = tokentrail(
        "report", "--prometheus", history_prometheus.url,
        "--from", "2025-06-01", "--to", "2025-06-08",
    )  # fmt: skip
    assert_one_line_error(result, "no tokentrail telemetry between 2025-06-01")


@pytest.mark.e2e
def test_a_failing_query(history_prometheus: HistoryServer):
    """Prometheus refuses every query (an invalid regular expression in --match)."""
    result = tokentrail(
        "report", "--prometheus", history_prometheus.url, "--match", 'job=~"("', *RANGE
    )
    assert_one_line_error(result, "query for cost failed", "error parsing regexp")
    assert "omitted" in result.stdout  # the report still says what it could not do


@pytest.mark.e2e
def test_a_partly_failing_source_still_gives_the_other_sections(history_prometheus):
    with PrometheusProxy(
        history_prometheus.url, fail_queries_containing="gen_ai_client_token_usage_bucket"
    ) as proxy:
        result = tokentrail("report", "--prometheus", proxy.url, "--format", "json", *RANGE)
    assert_one_line_error(result, "query for token histogram failed", "too many samples")
    assert result.returncode == 1
    sections = json.loads(result.stdout)["sections"]
    assert sections["efficiency"]["status"] == "omitted"
    assert "too many samples" in sections["efficiency"]["reason"]
    for key in ("totals", "trend", "projection", "anomalies"):
        assert sections[key]["status"] == "ok", key


@pytest.mark.e2e
def test_bearer_token_basic_auth_and_headers_are_sent(history_prometheus, tmp_path: Path):
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")

    def bearer(headers: dict[str, str]):
        ok = headers.get("authorization") == "Bearer s3cret" and headers.get("x-scope-orgid") == "a"
        return None if ok else (401, "Unauthorized")

    with PrometheusProxy(history_prometheus.url, gate=bearer) as proxy:
        result = tokentrail(
            "report", "--prometheus", proxy.url, "--bearer-token-file", str(token_file),
            "--header", "X-Scope-OrgID: a", "--format", "json", *RANGE,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        refused = tokentrail("report", "--prometheus", proxy.url, *RANGE)
    assert_one_line_error(refused, "401", "check the credentials")

    expected = "Basic " + base64.b64encode(b"alice:pw").decode()
    with PrometheusProxy(
        history_prometheus.url,
        gate=lambda h: None if h.get("authorization") == expected else (401, "Unauthorized"),
    ) as proxy:
        result = tokentrail("report", "--prometheus", proxy.url, "--basic-auth", "alice:pw", *RANGE)
    assert result.returncode == 0, result.stderr


@pytest.mark.e2e
def test_https_with_a_custom_ca(history_prometheus, tmp_path: Path):
    import ssl

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with PrometheusProxy(history_prometheus.url, tls=context) as proxy:
        trusted = tokentrail("report", "--prometheus", proxy.url, "--ca-file", str(cert), *RANGE)
        untrusted = tokentrail("report", "--prometheus", proxy.url, *RANGE)
    assert trusted.returncode == 0, trusted.stderr
    assert_one_line_error(untrusted, "cannot reach Prometheus", "TLS")


def test_nothing_listens_is_not_confused_with_a_slow_server():
    """A server that accepts the connection but never answers: the --timeout applies."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        port = listener.getsockname()[1]
        result = tokentrail(
            "report", "--prometheus", f"http://127.0.0.1:{port}", "--timeout", "0.5", "--since",
            "1d",
        )  # fmt: skip
    finally:
        listener.close()
    assert_one_line_error(result, "no answer", "within 0.5 s")
