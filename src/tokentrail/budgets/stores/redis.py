"""Budget spending in Redis, shared by every process and host that uses the same server.

Each operation is one Lua script, so it is atomic and costs one round trip: ``reserve``
checks every blocking budget of a call and holds its worst case in all of them, or in none;
``record`` adds spending, releases reservations and claims the alerts whose threshold was
reached (``SET NX`` with the window's expiry, so an alert fires once per window across all
processes). Amounts are integer nano-USD in a hash per budget slot and window bucket
(fields ``s`` settled and ``h`` held), which expires with its window (``EXPIREAT``).

Keys: ``{prefix}:n:<budget>:<key>:<bucket>`` (``n``: nano-USD; tokentrail 0.1 kept
micro-USD under ``:s:``, which this one neither reads nor writes) and
``{prefix}:a:<budget>:<key>:<label>:<window>``
(``<key>`` is ``-`` or a hash of the ``per=`` value: user ids are not stored in clear); and one
``{prefix}:w:<writer>`` per recording process (its last batch, so that a retried batch counts
once; a day's TTL). The default prefix ``{tokentrail}`` is a Redis Cluster hash tag, so one
script's keys share a slot.

``redis`` is imported when a store is created (extra ``tokentrail[redis]``) and connects on
first use, never at ``instrument()``. A failure marks the server down for ``retry_after``
seconds, during which calls do not wait on it: ``fail_open=True`` lets them through (logged,
counted), ``False`` refuses blocking calls with ``BudgetStoreUnavailableError``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ...exceptions import BudgetStoreUnavailableError, ConfigurationError
from ..models import Span
from . import EXCEEDED, Charge, Recorded, Refusal

logger = logging.getLogger("tokentrail")

# KEYS: per charge, its bucket keys (oldest .. current), then its "exceeded" claim key.
# ARGV: n, then per charge: n buckets, held, limit, expire_at, claim_expire_at.
# Returns {0} when every charge was held, else {index, settled, held, claimed}.
_RESERVE = """
local n = tonumber(ARGV[1])
local a, k = 2, 1
local writes = {}
for c = 1, n do
  local nb = tonumber(ARGV[a])
  local settled, held = 0, 0
  for b = k, k + nb - 1 do
    local v = redis.call('HMGET', KEYS[b], 's', 'h')
    settled = settled + (tonumber(v[1]) or 0)
    held = held + (tonumber(v[2]) or 0)
  end
  if settled + held + tonumber(ARGV[a + 1]) > tonumber(ARGV[a + 2]) then
    local claimed = redis.call('SET', KEYS[k + nb], '1', 'NX', 'EXAT', ARGV[a + 4])
    return {c - 1, settled, held, claimed and 1 or 0}
  end
  writes[c] = {KEYS[k + nb - 1], ARGV[a + 1], ARGV[a + 3]}
  a, k = a + 5, k + nb + 1
end
for c = 1, n do
  local w = writes[c]
  redis.call('HINCRBY', w[1], 'h', w[2])
  redis.call('EXPIREAT', w[1], w[3])
end
return {-1}
"""

# KEYS: per charge, its bucket keys (oldest .. current), then one claim key per threshold;
#       last, with a batch number, the writer's key.
# ARGV: n, the batch number or '', then per charge: n buckets, settled, held, expire_at,
#       claim_expire_at, n thresholds, threshold levels.
# Returns, per charge: settled, held, n claimed, the claimed thresholds' 1-based positions.
# A writer's batch is applied once: its key keeps the number and reply of the last batch it
# applied, and the same batch again (a retry after a reply lost with the connection) gets
# that reply back instead of being counted twice.
_RECORD = """
local n, batch = tonumber(ARGV[1]), ARGV[2]
local writer = batch ~= '' and KEYS[#KEYS] or nil
if writer then
  local last = redis.call('GET', writer)
  if last then
    local at = string.find(last, ' ', 1, true)
    if string.sub(last, 1, at - 1) == batch then
      local out = {}
      for x in string.gmatch(string.sub(last, at + 1), '%S+') do out[#out + 1] = tonumber(x) end
      return out
    end
  end
end
local a, k = 3, 1
local out = {}
for c = 1, n do
  local nb, nt = tonumber(ARGV[a]), tonumber(ARGV[a + 5])
  local write = KEYS[k + nb - 1]
  if ARGV[a + 1] ~= '0' then redis.call('HINCRBY', write, 's', ARGV[a + 1]) end
  if ARGV[a + 2] ~= '0' then redis.call('HINCRBY', write, 'h', ARGV[a + 2]) end
  redis.call('EXPIREAT', write, ARGV[a + 3])
  local settled, held = 0, 0
  for b = k, k + nb - 1 do
    local v = redis.call('HMGET', KEYS[b], 's', 'h')
    settled = settled + (tonumber(v[1]) or 0)
    held = held + (tonumber(v[2]) or 0)
  end
  local claimed = {}
  for t = 1, nt do
    if settled >= tonumber(ARGV[a + 5 + t]) and
        redis.call('SET', KEYS[k + nb + t - 1], '1', 'NX', 'EXAT', ARGV[a + 4]) then
      claimed[#claimed + 1] = t
    end
  end
  out[#out + 1] = settled
  out[#out + 1] = held
  out[#out + 1] = #claimed
  for _, t in ipairs(claimed) do out[#out + 1] = t end
  a, k = a + 6 + nt, k + nb + nt
end
if writer then
  local parts = {batch}
  for i, x in ipairs(out) do parts[i + 1] = string.format('%d', x) end
  redis.call('SET', writer, table.concat(parts, ' '), 'EX', 86400)
end
return out
"""


class RedisBudgetStore:
    """Budget spending in Redis: ``RedisBudgetStore("redis://host:6379/0")`` or an existing
    ``redis.Redis`` client.

    ``timeout`` bounds each command (seconds; a blocking call waits at most this long before
    ``fail_open`` decides); after a failure the server is not tried again for
    ``retry_after`` seconds."""

    inline = False

    def __init__(
        self,
        url_or_client: Any,
        *,
        fail_open: bool = True,
        prefix: str = "{tokentrail}",
        timeout: float = 0.5,
        retry_after: float = 2.0,
    ) -> None:
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:
            raise ConfigurationError(
                "RedisBudgetStore needs the redis package: pip install 'tokentrail[redis]'"
            ) from None
        if isinstance(url_or_client, str):
            # One attempt per command: a retried script could hold a reservation twice, and
            # a dead server must not cost a call several timeouts.
            try:
                self.client = redis.Redis.from_url(
                    url_or_client,
                    socket_timeout=timeout,
                    socket_connect_timeout=timeout,
                    retry=Retry(NoBackoff(), 0),
                )
            except ValueError as exc:
                raise ConfigurationError(f"RedisBudgetStore: {exc}") from None
            self.url = _redact(url_or_client)
        else:
            self.client = url_or_client
            self.url = repr(url_or_client)
        self.fail_open = bool(fail_open)
        self.prefix = prefix
        self.retry_after = retry_after
        self._unavailable_errors: tuple[type[BaseException], ...] = (
            redis.exceptions.ConnectionError,
            redis.exceptions.TimeoutError,
            redis.exceptions.ReadOnlyError,
            OSError,
        )
        self._reserve = self.client.register_script(_RESERVE)
        self._record = self.client.register_script(_RECORD)
        self._lock = threading.Lock()
        self._down_until = 0.0
        #: failed or skipped operations since start (the ``tokentrail.budget.store.errors``)
        self.errors = 0

    # -- operations --------------------------------------------------------------------------

    def reserve(self, charges: list[Charge]) -> Refusal | None:
        keys: list[str] = []
        args: list[Any] = [len(charges)]
        for charge in charges:
            span = charge.span
            keys += self._bucket_keys(charge.slot, span)
            keys.append(self._claim_key(charge.slot, EXCEEDED, span))
            n = span.last - span.first + 1
            args += (n, charge.held, charge.limit, span.expire_at, span.claim_expire_at)
        reply = self._run(self._reserve, keys, args)
        if reply[0] == -1:
            return None
        index, settled, held, claimed = (int(x) for x in reply)
        return Refusal(index, settled, held, bool(claimed))

    def record(
        self, charges: list[Charge], *, batch: tuple[str, int] | None = None
    ) -> list[Recorded]:
        """``batch``: (writer, number) of a batch that may be sent again (the recorder
        retries after a connection error, which may have come after the write): applied once."""
        keys: list[str] = []
        args: list[Any] = [len(charges), "" if batch is None else batch[1]]
        for charge in charges:
            span = charge.span
            keys += self._bucket_keys(charge.slot, span)
            keys += (self._claim_key(charge.slot, label, span) for _, label in charge.thresholds)
            args += (
                span.last - span.first + 1,
                charge.settled,
                charge.held,
                span.expire_at,
                span.claim_expire_at,
                len(charge.thresholds),
            )
            args += (level for level, _ in charge.thresholds)
        if batch is not None:
            keys.append(f"{self.prefix}:w:{batch[0]}")
        reply = [int(x) for x in self._run(self._record, keys, args)]
        results: list[Recorded] = []
        i = 0
        for charge in charges:
            settled, held, n = reply[i], reply[i + 1], reply[i + 2]
            positions = reply[i + 3 : i + 3 + n]
            results.append(
                Recorded(settled, held, tuple(charge.thresholds[p - 1][1] for p in positions))
            )
            i += 3 + n
        return results

    def read(self, slots: list[tuple[str, Span]]) -> list[tuple[int, int]]:
        def run() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            for slot, span in slots:
                for key in self._bucket_keys(slot, span):
                    pipe.hmget(key, "s", "h")
            return pipe.execute()

        replies = iter(self._guarded(run))
        totals = []
        for _, span in slots:
            settled = held = 0
            for _ in span.buckets:
                s, h = next(replies)
                settled += int(s or 0)
                held += int(h or 0)
            totals.append((settled, held))
        return totals

    def claim(self, key: str, expire_at: int) -> bool:
        full = f"{self.prefix}:a:{key}"
        return bool(self._guarded(lambda: self.client.set(full, "1", nx=True, exat=expire_at)))

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # closing a client that never connected, or a dead socket
            pass

    # -- plumbing -------------------------------------------------------------------------------

    def _bucket_keys(self, slot: str, span: Span) -> list[str]:
        base = f"{self.prefix}:n:{slot}:"
        return [base + str(bucket) for bucket in span.buckets]

    def _claim_key(self, slot: str, label: str, span: Span) -> str:
        return f"{self.prefix}:a:{slot}:{label}:{span.claim_id}"

    def _run(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        return self._guarded(lambda: script(keys=keys, args=args))

    def _guarded(self, operation: Any) -> Any:
        if self._down_until and time.monotonic() < self._down_until:
            self._count_error()
            raise BudgetStoreUnavailableError(f"budget store {self.url} is unavailable")
        try:
            result = operation()
        except self._unavailable_errors as exc:
            self._mark_down(exc)
            raise BudgetStoreUnavailableError(
                f"budget store {self.url} is unavailable: {type(exc).__name__}"
            ) from exc
        if self._down_until:
            self._down_until = 0.0
            logger.warning("tokentrail: budget store %s is reachable again", self.url)
        return result

    def _count_error(self) -> None:
        with self._lock:
            self.errors += 1

    def _mark_down(self, exc: BaseException) -> None:
        with self._lock:
            self.errors += 1
            first = not self._down_until
            self._down_until = time.monotonic() + self.retry_after
        if first:
            logger.warning(
                "tokentrail: budget store %s is unavailable (%s: %s); blocking budgets %s "
                "until it answers again (retried every %g s)",
                self.url,
                type(exc).__name__,
                exc,
                "let calls through (fail_open=True)"
                if self.fail_open
                else "refuse calls (fail_open=False)",
                self.retry_after,
            )


def _redact(url: str) -> str:
    """The URL without its password, for log lines."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest
