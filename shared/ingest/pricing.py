"""Cost in USD of one Azure OpenAI call: list prices from genai-prices, overridden by a local price file.

`cost_usd` runs for every ingested event, and genai-prices' `calc_price` costs ~70 µs a call (model lookup,
Decimal arithmetic, usage validation). Most models are priced linearly, so the first call for a model derives
its per-token rates from genai-prices itself and later calls are a few integer multiplications; the result is
bit-for-bit the float of what `calc_price` returns (tested). Tiered or time-of-day prices keep the slow path.

Usage semantics follow OpenAI's: cached tokens are part of `prompt_tokens` (charged at the cache-read rate
instead of the input rate), reasoning tokens are part of `completion_tokens` (charged as output).
genai-prices models them the same way: `input_tokens` includes `cache_read_tokens`.

Override file (`LEDGER_PRICES_FILE`), for negotiated, PTU or regional prices::

    {"prices": [
      {"model": "gpt-4o*", "deployment": null, "region": null, "operation": null,
       "inputPerMTok": 2.0, "cachedInputPerMTok": 1.0, "outputPerMTok": 8.0,
       "perImage": null, "perAudioMinute": null, "ptu": false}
    ]}

Every key but one price (or `"ptu": true`) is optional. `model` is a case-insensitive glob on the model
served; `deployment`, `region` (`"East US 2"` = `"eastus2"`) and `operation` (`"embeddings"`, ...) match
exactly; null or absent matches anything. The most specific entry wins: deployment, then region, then
operation, then an exact model name over a glob; ties go to the earlier entry. `"ptu": true` prices the
call at 0 by design (provisioned throughput is paid by the hour). A missing `cachedInputPerMTok` charges cached
tokens at `inputPerMTok`; a call using a quantity its entry has no price for costs null, never 0.
"""

from __future__ import annotations

import fnmatch
import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.store.records import TokenUsage

if TYPE_CHECKING:  # genai-prices loads its price snapshot on import: ~100 ms kept off the cold start
    from genai_prices import Usage
    from genai_prices import types as gp_types

PROVIDERS = ("azure", "openai")
# The raw usage keys the fast path prices, with a probe size large enough to make each rate exact.
_RATE_KEYS = ("input_tokens", "cache_read_tokens", "output_tokens", "output_reasoning_tokens")
_PROBE = 1_000_000
_ALIASES = {"whisper": "whisper-1"}
_ENTRY_KEYS = {
    "model",
    "deployment",
    "region",
    "operation",
    "inputPerMTok",
    "cachedInputPerMTok",
    "outputPerMTok",
    "perImage",
    "perAudioMinute",
    "ptu",
}
_RATE_FIELDS = ("inputPerMTok", "cachedInputPerMTok", "outputPerMTok", "perImage", "perAudioMinute")


@dataclass(frozen=True, slots=True)
class PriceOverride:
    """One entry of the override file, validated."""

    model: str | None
    deployment: str | None
    region: str | None
    operation: str | None
    input_per_mtok: float | None
    cached_input_per_mtok: float | None
    output_per_mtok: float | None
    per_image: float | None
    per_audio_minute: float | None
    ptu: bool

    def specificity(self) -> tuple[bool, bool, bool, bool]:
        exact_model = self.model is not None and not any(c in self.model for c in "*?[")
        return (self.deployment is not None, self.region is not None, self.operation is not None, exact_model)

    def matches(self, model: str, deployment: str, region: str, operation: str) -> bool:
        return (
            (self.deployment is None or self.deployment == deployment)
            and (self.region is None or self.region == region)
            and (self.operation is None or self.operation == operation)
            and (self.model is None or fnmatch.fnmatchcase(model, self.model))
        )

    def cost(self, usage: TokenUsage) -> float | None:
        if self.ptu:
            return 0.0
        total = 0.0
        prompt, cached = _split_cached(usage)
        for count, rate, per in (
            (prompt - cached, self.input_per_mtok, 1e6),
            (
                cached,
                self.cached_input_per_mtok if self.cached_input_per_mtok is not None else self.input_per_mtok,
                1e6,
            ),
            (usage.completion_tokens, self.output_per_mtok, 1e6),
            (usage.images, self.per_image, 1),
            (usage.audio_seconds or 0, self.per_audio_minute, 60),
        ):
            if count:
                if rate is None:
                    return None
                total += count * rate / per
        return total


@dataclass(slots=True)
class _ListPrice:
    """What one model costs at list price; `scale`-scaled integer rates when linear, else the slow path."""

    model_ref: str
    provider_id: str
    rates: tuple[int, int, int, int] | None  # per raw token of _RATE_KEYS, times `scale`
    fixed: int  # per-request charge, times `scale`
    scale: int
    prices_tokens: bool
    valid_until: float  # time.time() after which prices are re-read (date-constrained prices change at 0:00 UTC)


_UNRESOLVED = object()


class PriceBook:
    """Prices calls: the override file first, then genai-prices list prices for Azure, then OpenAI."""

    def __init__(self, overrides_path: Path | None = None) -> None:
        self._overrides = load_overrides(overrides_path) if overrides_path else ()
        self._override_cache: dict[tuple[str, str, str, str], PriceOverride | None] = {}
        self._list_cache: dict[str, Any] = {}  # model -> _ListPrice, or None when no list price exists

    def cost_usd(
        self,
        model: str | None,
        usage: TokenUsage,
        *,
        deployment: str | None = None,
        region: str | None = None,
        operation: str | None = None,
    ) -> float | None:
        """USD cost of one call, or None when no price is known for what it used (never a silent 0)."""
        if self._overrides:
            override = self._find_override(model, deployment, region, operation)
            if override is not None:
                return override.cost(usage)
        if not model:
            return None
        price = self._list_cache.get(model, _UNRESOLVED)
        if price is _UNRESOLVED or (price is not None and price.valid_until < time.time()):
            price = self._list_cache[model] = _resolve_list_price(model)
        if price is None:
            return None
        return _list_cost(price, usage)

    def _find_override(
        self, model: str | None, deployment: str | None, region: str | None, operation: str | None
    ) -> PriceOverride | None:
        key = ((model or "").lower(), (deployment or "").lower(), _region_key(region), (operation or "").lower())
        try:
            return self._override_cache[key]
        except KeyError:
            found = next((o for o in self._overrides if o.matches(*key)), None)
            self._override_cache[key] = found
            return found


def _list_cost(price: _ListPrice, usage: TokenUsage) -> float | None:
    has_tokens = usage.prompt_tokens or usage.completion_tokens
    if usage.images and not has_tokens:
        return None  # genai-prices has no per-image prices (dall-e); an override can supply one
    if usage.audio_seconds or price.rates is None:
        return _slow_cost(price, usage)
    if not price.prices_tokens:
        return None  # e.g. whisper or tts priced per second or character, with no duration reported
    prompt, cached = _split_cached(usage)
    reasoning = min(usage.reasoning_tokens, usage.completion_tokens)
    r_in, r_cached, r_out, r_reason = price.rates
    scaled = r_in * prompt + r_cached * cached + r_out * usage.completion_tokens + r_reason * reasoning + price.fixed
    return scaled / price.scale  # int / int is correctly rounded, as float(Decimal) is


def _slow_cost(price: _ListPrice, usage: TokenUsage) -> float | None:
    from genai_prices import calc_price

    gp_usage = to_genai_usage(usage)
    result = calc_price(gp_usage, price.model_ref, provider_id=price.provider_id)
    if usage.audio_seconds and result.total_price == 0:
        return None  # the model has no per-duration price
    return float(result.total_price)


def to_genai_usage(usage: TokenUsage) -> Usage:
    """genai-prices' view of a call's usage (its input/output include cached/reasoning, as OpenAI's do)."""
    from genai_prices import Usage

    prompt, cached = _split_cached(usage)
    values: dict[str, Any] = {
        "input_tokens": prompt,
        "cache_read_tokens": cached,
        "output_tokens": usage.completion_tokens,
        "output_reasoning_tokens": min(usage.reasoning_tokens, usage.completion_tokens),
    }
    if usage.audio_seconds:
        values["audio_seconds"] = usage.audio_seconds
    return Usage(**values)


def _split_cached(usage: TokenUsage) -> tuple[int, int]:
    """Prompt and cached tokens, cached clamped to the prompt so a bad count never yields a negative cost."""
    return usage.prompt_tokens, min(usage.cached_tokens, usage.prompt_tokens)


def normalise_model(model: str) -> str:
    """Azure spellings to the names price lists use: `gpt-35-turbo` -> `gpt-3.5-turbo`, `whisper` -> `whisper-1`."""
    name = model.strip().lower().replace("gpt-35", "gpt-3.5")
    return _ALIASES.get(name, name)


def _find_model(model: str) -> tuple[str, str, gp_types.ModelInfo] | None:
    from genai_prices.data_snapshot import get_snapshot

    snapshot = get_snapshot()
    for ref in dict.fromkeys((model.strip().lower(), normalise_model(model))):
        for provider_id in PROVIDERS:
            try:
                _, info = snapshot.find_provider_model(ref, None, provider_id, None)
            except LookupError:
                continue
            return ref, provider_id, info
    return None


def _resolve_list_price(model: str) -> _ListPrice | None:
    found = _find_model(model)
    if found is None:
        return None
    ref, provider_id, info = found
    now = datetime.now(UTC)
    model_price = info.get_prices(now)
    prices_tokens = model_price.input_mtok is not None or model_price.output_mtok is not None
    rates = fixed = None
    scale = 1
    if _is_linear(info, model_price):
        rates, fixed, scale = _linear_rates(model_price)
    tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    return _ListPrice(ref, provider_id, rates, fixed or 0, scale, prices_tokens, tomorrow.timestamp())


def _is_linear(info: gp_types.ModelInfo, model_price: gp_types.ModelPrice) -> bool:
    from genai_prices import types as gp_types

    if isinstance(info.prices, list) and any(
        isinstance(c.constraint, gp_types.TimeOfDateConstraint) for c in info.prices
    ):
        return False
    return not any(isinstance(v, gp_types.TieredPrices) for v in vars(model_price).values())


def _linear_rates(model_price: gp_types.ModelPrice) -> tuple[tuple[int, int, int, int] | None, int, int]:
    """Per-raw-token rates as scaled integers, derived from genai-prices' own arithmetic so they agree exactly."""
    from genai_prices import Usage

    def price(**counts: int) -> Decimal:
        return model_price.calc_price(Usage(**counts))["total_price"]

    fixed = price()
    base = {"input_tokens": price(input_tokens=_PROBE), "output_tokens": price(output_tokens=_PROBE)}
    decimal_rates = (
        (base["input_tokens"] - fixed) / _PROBE,
        (price(input_tokens=_PROBE, cache_read_tokens=_PROBE) - base["input_tokens"]) / _PROBE,
        (base["output_tokens"] - fixed) / _PROBE,
        (price(output_tokens=_PROBE, output_reasoning_tokens=_PROBE) - base["output_tokens"]) / _PROBE,
    )
    exponent = min(int(d.as_tuple().exponent) for d in (*decimal_rates, fixed))
    scale = 10 ** max(0, -exponent)
    rates = tuple(int(d * scale) for d in decimal_rates)
    if any(Decimal(r) != d * scale for r, d in zip(rates, decimal_rates, strict=True)):
        return None, 0, 1
    probe = {
        "input_tokens": 123_457,
        "cache_read_tokens": 2_345,
        "output_tokens": 6_789,
        "output_reasoning_tokens": 1_234,
    }
    expected = price(**probe) * scale
    got = sum(r * probe[k] for r, k in zip(rates, _RATE_KEYS, strict=True)) + int(fixed * scale)
    if Decimal(got) != expected:
        return None, 0, 1  # not linear in the way we assumed: keep genai-prices' own arithmetic
    return (rates[0], rates[1], rates[2], rates[3]), int(fixed * scale), scale


def _region_key(region: str | None) -> str:
    return "".join((region or "").lower().split()).replace("-", "")


def load_overrides(path: Path) -> tuple[PriceOverride, ...]:
    """Read and validate the override file, most specific entry first; errors name the file and entry."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"price file {path}: cannot read it as JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("prices"), list):
        raise ValueError(f'price file {path}: expected an object {{"prices": [...]}}')
    entries = [_parse_entry(path, index, raw) for index, raw in enumerate(data["prices"])]
    order = sorted(range(len(entries)), key=lambda i: (*tuple(not s for s in entries[i].specificity()), i))
    return tuple(entries[i] for i in order)


def _parse_entry(path: Path, index: int, raw: Any) -> PriceOverride:
    def fail(problem: str) -> ValueError:
        return ValueError(f"price file {path}: entry {index}: {problem}")

    if not isinstance(raw, dict):
        raise fail("expected an object")
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise fail(f"unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_ENTRY_KEYS))}")
    for key in ("model", "deployment", "region", "operation"):
        if raw.get(key) is not None and (not isinstance(raw[key], str) or not raw[key].strip()):
            raise fail(f"{key} must be a non-empty string or null")
    rates = {}
    for key in _RATE_FIELDS:
        value = raw.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0
        ):
            raise fail(f"{key} must be a non-negative number or null, got {value!r}")
        rates[key] = None if value is None else float(value)
    ptu = raw.get("ptu", False)
    if not isinstance(ptu, bool):
        raise fail(f"ptu must be true or false, got {ptu!r}")
    if not ptu and all(v is None for v in rates.values()):
        raise fail("no price given: set at least one of " + ", ".join(_RATE_FIELDS) + ', or "ptu": true')

    def lower(key: str) -> str | None:
        return raw[key].strip().lower() if raw.get(key) is not None else None

    return PriceOverride(
        model=lower("model"),
        deployment=lower("deployment"),
        region=_region_key(raw["region"]) if raw.get("region") else None,
        operation=lower("operation"),
        input_per_mtok=rates["inputPerMTok"],
        cached_input_per_mtok=rates["cachedInputPerMTok"],
        output_per_mtok=rates["outputPerMTok"],
        per_image=rates["perImage"],
        per_audio_minute=rates["perAudioMinute"],
        ptu=ptu,
    )
