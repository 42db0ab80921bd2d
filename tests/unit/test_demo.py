"""``tokentrail demo`` ends by itself, exits 0 and reports calls, tokens and cost by feature and
model, with the unknown model unpriced and the failing call shown."""

import json
import subprocess

from tests.demo_process import demo_command

#: the demo's Bedrock features (boto3: Converse, ConverseStream, InvokeModel in two families)
BEDROCK_FEATURES = {"claims", "claims-chat", "claim-tagging", "fraud-review"}


def test_demo_runs_and_reports(tmp_path):
    summary = tmp_path / "summary.json"
    result = subprocess.run(
        demo_command("--rounds", "1", "--latency", "0", "--json", str(summary)),
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "OTEL_SDK_DISABLED": "false"},
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "no API key, no network" in out
    assert "TOTAL" in out
    assert "unpriced" in out
    assert "acme-support-ft-v2" in out
    assert "InternalServerError" in out
    assert "tokentrail report --prometheus" in out.strip().splitlines()[-2]  # how to review it
    data = json.loads(summary.read_text())
    assert data["calls"] == sum(line["calls"] for line in data["lines"])
    features = {line["feature"] for line in data["lines"]}
    assert {"search", "support-bot", "summarize", "planner", "indexing", "experiments"} <= features
    gemini = [line for line in data["lines"] if line["model"].startswith("gemini-")]
    assert {line["feature"] for line in gemini} == {"code-review", "digest", "concierge"}
    assert all(float(line["cost_usd"]) > 0 for line in gemini)
    claude = [line for line in data["lines"] if line["model"].startswith("claude-")]
    assert {line["feature"] for line in claude} == {"analyst", "contracts", "triage", "news"}
    assert all(float(line["cost_usd"]) > 0 for line in claude)
    cached = {line["feature"] for line in claude if line["cached_tokens"] > 0}
    assert cached == {"analyst", "contracts"}  # the prompt-cache reads after the first call
    assert "OverloadedError" in out
    # LiteLLM in front of OpenAI and Mistral: the Router's failing deployment falls back
    through_litellm = {"translate", "drafts", "moderation", "semantic-search"}
    assert through_litellm <= features
    moderation = {line["model"] for line in data["lines"] if line["feature"] == "moderation"}
    assert "mistral-small-latest" in moderation, moderation
    bedrock = [line for line in data["lines"] if line["feature"] in BEDROCK_FEATURES]
    assert {line["feature"] for line in bedrock} == BEDROCK_FEATURES
    assert all(float(line["cost_usd"]) > 0 for line in bedrock)
    assert {line["feature"] for line in bedrock if line["cached_tokens"] > 0} == {"claims"}
    assert "ThrottlingException" in out
    assert float(data["total_cost_usd"]) > 0
    assert data["unpriced_models"] == {"acme-support-ft-v2": 1}


def test_demo_budgets_refuse_calls_and_alert(tmp_path):
    """The demo's budgets: the legal team's blocking budget refuses Opus calls once its day is
    used up, warnings and exceeded alerts fire once each, a costly call raises request_cost."""
    summary = tmp_path / "summary.json"
    result = subprocess.run(
        demo_command("--rounds", "3", "--latency", "0", "--quiet", "--json", str(summary)),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(summary.read_text())
    assert data["errors"].get("BudgetExceededError", 0) >= 1
    alerts = data["alerts"]
    kinds = {(a["kind"], a["budget"]) for a in alerts}
    assert ("budget_exceeded", "legal-daily") in kinds
    assert ("budget_warning", "cx-daily") in kinds
    assert ("request_cost", None) in kinds
    assert ("budget_action", "support-bot-daily") in kinds  # the support bot is downgraded
    support = {line["model"] for line in data["lines"] if line["feature"] == "support-bot"}
    assert any(m.startswith("gpt-4o-mini") for m in support), support
    once = [(a["kind"], a["message"]) for a in alerts]
    assert len(once) == len(set(once)), "each alert fires once per budget, threshold and window"
    assert "alerts fired" in result.stdout
