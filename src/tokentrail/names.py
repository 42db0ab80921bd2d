"""Every name tokentrail emits — span and metric attributes, their values, instruments — in
one place: the project's vocabulary, which the code, the dashboards, the alert rules and the
tests share (docs/reference.md lists them for users).

The GenAI names follow the OpenTelemetry GenAI semantic conventions; ours live under
``tokentrail.``.
"""

from __future__ import annotations

from typing import Final

SCOPE_NAME: Final = "tokentrail"

# -- span and metric attributes ------------------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
#: USD, float: the name OpenLIT and Langfuse read
GEN_AI_USAGE_COST: Final = "gen_ai.usage.cost"
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
USER_ID: Final = "user.id"

TOKENTRAIL_COST_STATUS: Final = "tokentrail.cost.status"
TOKENTRAIL_PRICING_SOURCE: Final = "tokentrail.pricing.source"
TOKENTRAIL_FEATURE: Final = "tokentrail.feature"
TOKENTRAIL_TEAM: Final = "tokentrail.team"
TOKENTRAIL_ENDPOINT: Final = "tokentrail.endpoint"
TOKENTRAIL_ATTRIBUTE_PREFIX: Final = "tokentrail."
TOKENTRAIL_BUDGET_NAME: Final = "tokentrail.budget.name"
#: on the span of a call a budget changed: ``downgrade`` or ``clamp``, and what it changed
TOKENTRAIL_BUDGET_ACTION: Final = "tokentrail.budget.action"
TOKENTRAIL_REQUEST_MODEL_ORIGINAL: Final = "tokentrail.request.model.original"
TOKENTRAIL_REQUEST_MAX_TOKENS_ORIGINAL: Final = "tokentrail.request.max_tokens.original"
TOKENTRAIL_ALERT_KIND: Final = "tokentrail.alert.kind"
TOKENTRAIL_ALERT_SEVERITY: Final = "tokentrail.alert.severity"
TOKENTRAIL_ERROR_SITE: Final = "tokentrail.error.site"
#: ``tokentrail.requests`` only: the call's finish reason in the closed set ``FINISH_KINDS``
TOKENTRAIL_FINISH_REASON: Final = "tokentrail.finish_reason"

# -- attribute values ------------------------------------------------------------------------
OP_CHAT: Final = "chat"
OP_GENERATE_CONTENT: Final = "generate_content"
OP_EMBEDDINGS: Final = "embeddings"
OP_TEXT_COMPLETION: Final = "text_completion"

PROVIDER_OPENAI: Final = "openai"
PROVIDER_AZURE_OPENAI: Final = "azure.ai.openai"
PROVIDER_ANTHROPIC: Final = "anthropic"
PROVIDER_AWS_BEDROCK: Final = "aws.bedrock"
PROVIDER_GCP_GEMINI: Final = "gcp.gemini"
PROVIDER_GCP_VERTEX_AI: Final = "gcp.vertex_ai"

#: ``tokentrail.finish_reason`` values: a closed set, the same for every provider
FINISH_STOP: Final = "stop"
FINISH_LENGTH: Final = "length"
FINISH_TOOL_CALLS: Final = "tool_calls"
FINISH_CONTENT_FILTER: Final = "content_filter"
FINISH_ERROR: Final = "error"
FINISH_OTHER: Final = "other"
FINISH_KINDS: Final = (
    FINISH_STOP, FINISH_LENGTH, FINISH_TOOL_CALLS, FINISH_CONTENT_FILTER, FINISH_ERROR,
    FINISH_OTHER,
)  # fmt: skip
#: each provider's finish reasons (lower-cased) -> their ``FINISH_KINDS`` value
FINISH_REASON_KINDS: Final = {
    # OpenAI chat and completions; Mistral, LiteLLM and OpenAI-compatible hosts
    "stop": FINISH_STOP,
    "length": FINISH_LENGTH,
    "tool_calls": FINISH_TOOL_CALLS,
    "function_call": FINISH_TOOL_CALLS,
    "content_filter": FINISH_CONTENT_FILTER,
    "model_length": FINISH_LENGTH,
    # OpenAI Responses (status, or incomplete_details.reason)
    "completed": FINISH_STOP,
    "max_output_tokens": FINISH_LENGTH,
    # Anthropic
    "end_turn": FINISH_STOP,
    "stop_sequence": FINISH_STOP,
    "max_tokens": FINISH_LENGTH,
    "model_context_window_exceeded": FINISH_LENGTH,
    "tool_use": FINISH_TOOL_CALLS,
    "refusal": FINISH_CONTENT_FILTER,
    # Gemini (STOP and MAX_TOKENS are above, lower-cased)
    "safety": FINISH_CONTENT_FILTER,
    "recitation": FINISH_CONTENT_FILTER,
    "blocklist": FINISH_CONTENT_FILTER,
    "prohibited_content": FINISH_CONTENT_FILTER,
    "spii": FINISH_CONTENT_FILTER,
    "image_safety": FINISH_CONTENT_FILTER,
    "malformed_function_call": FINISH_ERROR,
    "unexpected_tool_call": FINISH_ERROR,
    # Bedrock Converse (stopReason)
    "guardrail_intervened": FINISH_CONTENT_FILTER,
    "content_filtered": FINISH_CONTENT_FILTER,
}

TOKEN_INPUT: Final = "input"
TOKEN_OUTPUT: Final = "output"
TOKEN_CACHE_READ: Final = "cache_read"
TOKEN_CACHE_CREATION: Final = "cache_creation"
TOKEN_REASONING: Final = "reasoning"

# -- instruments -----------------------------------------------------------------------------
METRIC_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
METRIC_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
METRIC_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"
METRIC_TOKENS: Final = "tokentrail.tokens"
METRIC_COST: Final = "tokentrail.cost.usd"
METRIC_REQUESTS: Final = "tokentrail.requests"
METRIC_BUDGET_SPENT: Final = "tokentrail.budget.spent.usd"
METRIC_BUDGET_LIMIT: Final = "tokentrail.budget.limit.usd"
METRIC_BUDGET_WINDOW_REMAINING: Final = "tokentrail.budget.window.remaining"
METRIC_ALERTS: Final = "tokentrail.alerts"
METRIC_BUDGET_STORE_ERRORS: Final = "tokentrail.budget.store.errors"
METRIC_INTERNAL_ERRORS: Final = "tokentrail.internal.errors"

#: the only attributes a metric may carry besides its own (bounded cardinality; no user.id)
METRIC_ATTRIBUTE_ALLOW_LIST: Final = (
    GEN_AI_PROVIDER_NAME,
    GEN_AI_OPERATION_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL,
    SERVER_ADDRESS,
    TOKENTRAIL_FEATURE,
    TOKENTRAIL_TEAM,
    TOKENTRAIL_ENDPOINT,
)

# Bucket boundaries advised by the GenAI semantic conventions.
TOKEN_BUCKETS: Final = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
DURATION_BUCKETS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
