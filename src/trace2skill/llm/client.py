"""`LLM`: one provider wrapped in the shared middleware.

Per call, in order: response cache lookup (a hit costs nothing), budget check, a concurrency slot,
the provider call with retries (backoff with jitter, Retry-After honoured), pricing, budget charge,
cache store, and one call-log record. `structured()` adds schema-constrained output, validation
into a pydantic model and one bounded repair round.

An endpoint that cannot be connected to at all (refused, unknown host, TLS) fails fast: a few quick
tries while it has never answered, then `ProviderUnreachable`, which every later call of this LLM
raises at once, so a run with a typo in its URL ends in a second with one message naming the URL.

The request is hashed once per call (its JSON form, which pydantic-core writes quickly); that hash
is the cache key and the `request_hash` in the call log.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio
from pydantic import BaseModel

from trace2skill.errors import BudgetExceeded, InvalidInput, OutputCutOff, ProviderError, ProviderUnreachable
from trace2skill.llm.accounting import UsageTotals
from trace2skill.llm.budget import Budget
from trace2skill.llm.cache import ResponseCache
from trace2skill.llm.calllog import CallLogBuffer, CallLogSink
from trace2skill.llm.prices import Price, PriceTable
from trace2skill.llm.provider import ConnectFailed, LoopBound, Provider, RetryableError
from trace2skill.llm.retry import RetryPolicy
from trace2skill.llm.structured import answer_tool_name, parse_answer, schema_for
from trace2skill.llm.types import ChatMessage, ChatRequest, ChatResponse, Usage

__all__ = ["LLM"]

M = TypeVar("M", bound=BaseModel)

_KEY_EXCLUDE = {"purpose", "run_id"}
_ALL = object()

REPAIR_PROMPT = (
    "Your previous answer could not be used: {problem}.\n"
    "Answer again with only the corrected JSON object for `{name}`, matching the schema exactly, "
    "with no prose and no code fence."
)


class LLM:
    """A provider plus concurrency limit, retries, budget, response cache, call log and prices.

    `cache` is a ResponseCache, or a folder/file path for one. `call_log` is a callable taking a list
    of records (e.g. `TraceStore.log_calls`); records are flushed every `flush_every` calls and at
    `flush()`/`aclose()`. `prices` extends the price table (a mapping or a JSON file), on top of the
    built-ins and `<home>/prices.json`.
    """

    def __init__(
        self,
        provider: Provider,
        *,
        concurrency: int | None = None,
        retry: RetryPolicy = RetryPolicy(),
        budget: Budget | None = None,
        cache: ResponseCache | str | Path | None = None,
        call_log: CallLogSink | None = None,
        prices: PriceTable | Mapping[str, Any] | str | Path | None = None,
        flush_every: int = 64,
    ) -> None:
        self.provider = provider
        self.concurrency = concurrency or provider.default_concurrency
        if self.concurrency < 1:
            raise InvalidInput(f"LLM concurrency must be >= 1, got {self.concurrency}")
        self.retry = retry
        self.budget = budget
        self._owns_cache = cache is not None and not isinstance(cache, ResponseCache)
        self.cache = cache if cache is None or isinstance(cache, ResponseCache) else ResponseCache(cache)
        self._log = CallLogBuffer(call_log, flush_every) if call_log is not None else None
        if isinstance(prices, PriceTable):
            self.prices = prices
        else:
            from trace2skill.home import Home

            self.prices = PriceTable.load(Home.resolve().root, prices)
        self.retries = 0
        self._reached = False  # the endpoint answered at least once (then a refused connection is a blip)
        self._unreachable: str | None = None  # set once the endpoint is given up on: later calls fail at once
        self._totals = UsageTotals()
        self._by_run: dict[str | None, UsageTotals] = {}
        self._slots = LoopBound()

    def __repr__(self) -> str:
        return f"LLM({self.provider.identity}, concurrency={self.concurrency})"

    # ---- calls ---------------------------------------------------------------------------------

    def request_key(self, request: ChatRequest) -> str:
        """The hash of everything that determines the answer (not purpose or run_id): sha256 of
        `identity \n request JSON` (`model_dump_json` without purpose and run_id)."""
        body = request.model_dump_json(exclude=_KEY_EXCLUDE)
        return hashlib.sha256(self.provider.identity.encode() + b"\n" + body.encode()).hexdigest()

    async def chat(self, request: ChatRequest) -> ChatResponse:
        """One call through the middleware. Raises BudgetExceeded, ProviderError or ProviderUnreachable."""
        key = self.request_key(request)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                hit.from_cache = True
                hit.usage = Usage()
                hit.cost_usd = 0.0
                hit.latency_s = 0.0
                self._record(request, key, hit.model, "cache_hit", None, Usage(), 0.0, 0.0)
                return hit
        self._check_budget(request, key)
        self._check_reachable(request, key)
        semaphore: asyncio.Semaphore = self._slots.get(lambda: asyncio.Semaphore(self.concurrency))
        async with semaphore:
            self._check_budget(request, key)  # it may have been spent while this call waited for a slot
            start = time.perf_counter()
            try:
                response = await self._attempts(request)
            except Exception as e:
                latency = time.perf_counter() - start
                self._record(request, key, request.model or self.provider.model, "error", str(e), Usage(), 0.0, latency)
                raise
            latency = time.perf_counter() - start
        usage = response.usage
        cost = self.prices.cost(
            self.provider.name,
            response.model or self.provider.model,
            usage,
            free=self.provider.free,
            requested=request.model or self.provider.model,
        )
        response.cost_usd = cost
        response.latency_s = latency
        response.provider = response.provider or self.provider.name
        if self.budget is not None:
            self.budget.charge(usage.input_tokens + usage.output_tokens, cost)
        if self.cache is not None:
            self.cache.put(key, response)
        self._record(request, key, response.model, "ok", None, usage, cost, latency)
        return response

    async def structured(self, request: ChatRequest, schema: type[M]) -> tuple[M, ChatResponse]:
        """A validated `schema` instance and the response; one repair round, then ProviderError
        (`OutputCutOff` when the last answer stopped at max_tokens, so a caller can ask for less).

        After a repair the returned response carries the usage and cost of both calls.
        """
        name = request.response_schema_name
        if name == "answer":
            name = answer_tool_name(schema.__name__)
        asked = request.model_copy(update={"response_schema": schema_for(schema), "response_schema_name": name})
        first = await self.chat(asked)
        value, problem = parse_answer(first.text, schema)
        if value is not None:
            return value, first
        problem = self._explain(problem, first, asked)
        repair = asked.model_copy(
            update={
                "messages": [
                    *asked.messages,
                    ChatMessage(role="assistant", content=first.text or "(no answer)"),
                    ChatMessage(role="user", content=REPAIR_PROMPT.format(problem=problem, name=name)),
                ]
            }
        )
        second = await self.chat(repair)
        value, problem2 = parse_answer(second.text, schema)
        if value is None:
            problem2 = self._explain(problem2, second, repair)
            cut = second.stop_reason in ("max_tokens", "length")
            raise (OutputCutOff if cut else ProviderError)(
                f"{self.provider.name}:{second.model or self.provider.model} gave no valid {schema.__name__} "
                f"after one repair round: {problem2}"
            )
        second.usage = first.usage + second.usage
        second.cost_usd += first.cost_usd
        second.latency_s += first.latency_s
        return value, second

    @staticmethod
    def _explain(problem: str, response: ChatResponse, request: ChatRequest) -> str:
        if response.stop_reason in ("max_tokens", "length"):
            return f"{problem} (the answer was cut off at max_tokens={request.max_tokens})"
        return problem

    async def _attempts(self, request: ChatRequest) -> ChatResponse:
        attempt = 0
        while True:
            if self._unreachable is not None:  # another call gave up on the endpoint meanwhile
                raise ProviderUnreachable(self._unreachable)
            attempt += 1
            try:
                response = await self.provider.chat(request)
            except ConnectFailed as e:
                first_contact = not self._reached
                if attempt >= (self.retry.connect_attempts if first_contact else self.retry.max_attempts):
                    raise self._give_up(request, e, attempt) from e
                self.retries += 1
                await anyio.sleep(self.retry.connect_delay if first_contact else self.retry.delay(attempt))
                continue
            except RetryableError as e:
                self._reached = self._reached or e.status is not None
                if attempt >= self.retry.max_attempts:
                    raise ProviderError(
                        f"{self.provider.name}:{request.model or self.provider.model} failed after "
                        f"{attempt} attempts: {e}"
                    ) from e
                self.retries += 1
                await anyio.sleep(self.retry.delay(attempt, e.retry_after))
                continue
            except ProviderError:
                self._reached = True  # a refusal is an answer
                raise
            self._reached = True
            return response

    def _give_up(self, request: ChatRequest, error: ConnectFailed, attempts: int) -> ProviderUnreachable:
        """Remember that the endpoint cannot be reached, so every other call stops at once."""
        model = f"{self.provider.name}:{request.model or self.provider.model}"
        tries = "once" if attempts == 1 else f"{attempts} times"
        self._unreachable = (
            f"cannot reach {model} at {error.url or 'its default endpoint'}: {error.reason} (tried {tries}); "
            "check the URL and that the server is running"
        )
        return ProviderUnreachable(self._unreachable)

    def _check_reachable(self, request: ChatRequest, key: str) -> None:
        if self._unreachable is not None:
            model = request.model or self.provider.model
            self._record(request, key, model, "error", self._unreachable, Usage(), 0.0, 0.0)
            raise ProviderUnreachable(self._unreachable)

    # ---- prices --------------------------------------------------------------------------------

    @property
    def price(self) -> Price | None:
        """The price of this LLM's model (None for a free provider or an unpriced model)."""
        return None if self.provider.free else self.prices.lookup(self.provider.name, self.provider.model)

    def price_note(self) -> str:
        """What this LLM's calls are priced at, for reports: the price and where it came from."""
        if self.provider.free:
            return "free (no price needed)"
        price = self.price
        return price.describe() if price is not None else "no known price (its calls counted as $0)"

    def require_price(self, why: str = "a dollar budget") -> None:
        """InvalidInput unless the model is free or priced: a budget that counts $0 per call never binds."""
        if self.provider.free or self.price is not None:
            return
        raise InvalidInput(
            f"{why} cannot bind {self.provider.name}:{self.provider.model}: no price is known for it; give one with "
            "--price IN/OUT (USD per million input/output tokens, e.g. --price 3/15) or add it to prices.json "
            "in the home folder"
        )

    def _check_budget(self, request: ChatRequest, key: str) -> None:
        if self.budget is None:
            return
        try:
            self.budget.check()
        except BudgetExceeded as e:
            self._record(request, key, request.model or self.provider.model, "budget", str(e), Usage(), 0.0, 0.0)
            raise

    # ---- accounting ----------------------------------------------------------------------------

    def _record(
        self,
        request: ChatRequest,
        key: str,
        model: str,
        outcome: str,
        error: str | None,
        usage: Usage,
        cost: float,
        latency: float,
    ) -> None:
        record = {
            "run_id": request.run_id,
            "purpose": request.purpose,
            "provider": self.provider.name,
            "model": model or self.provider.model,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "cost_usd": cost,
            "latency_s": latency,
            "outcome": outcome,
            "error": error,
            "request_hash": key,
            "created_at": datetime.now(UTC).isoformat(),
        }
        self._totals.add(record)
        run = self._by_run.get(request.run_id)
        if run is None:
            run = self._by_run[request.run_id] = UsageTotals()
        run.add(record)
        if self._log is not None:
            self._log.add(record)

    def usage_totals(self, run_id: Any = _ALL) -> UsageTotals:
        """Totals over every call, or over one run's calls (`run_id=None` for calls without a run)."""
        if run_id is _ALL:
            return self._totals
        return self._by_run.get(run_id) or UsageTotals()

    # ---- lifecycle -----------------------------------------------------------------------------

    def flush(self) -> None:
        """Write pending call-log records to the sink now."""
        if self._log is not None:
            self._log.flush()

    async def aclose(self) -> None:
        """Flush the call log, close the provider's connections and the cache this LLM opened."""
        try:
            self.flush()
        finally:
            await self.provider.aclose()
            if self._owns_cache and self.cache is not None:
                self.cache.close()

    async def __aenter__(self) -> LLM:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
