"""APIM diagnostic settings streamed to Event Hubs: `{"records": [...]}` in Azure Monitor's resource-log schema.

Each record has the common top-level fields (`time`, `resourceId`, `category`, `operationName`,
`correlationId`, `callerIpAddress`, `durationMs`, `location`, `level`, ...) and a `properties` object:

- `GatewayLogs` (table ApiManagementGatewayLogs): `method`, `url`, `responseCode`, `backendResponseCode`,
  `backendTime`, `clientTime`, `apiId`, `operationId`, `productId`, `userId`, `apimSubscriptionId`,
  `backendId`, `backendUrl`, `lastError{reason,message,...}`, ... (camelCase in the export; the table
  shows them in PascalCase, so names are read case-insensitively).
- `GatewayLlmLogs` (table ApiManagementGatewayLlmLog): `requestId`, `operationName`, `apiVersion`,
  `deploymentName`, `modelName`, `promptTokens`, `completionTokens`, `totalTokens`, `isStreamCompletion`,
  `sequenceNumber`, `requestMessages`, `responseMessages`.

Records of one call share `correlationId` (= the capture event's `id`, APIM's `context.RequestId`) and
arrive in any order, in different events and batches. Each becomes a pending part (kind `monitor`):
`gateway`, or `llm:<sequenceNumber>:<h|q|r>` (header with tokens / request messages / response messages).
Other categories are ignored; a record without a correlation id is dead-lettered with its own JSON.

When is a call complete? (Azure sends no "last piece" marker, so it is read from the fields.)
1. the `GatewayLogs` record is there (caller, subscription, status, timing);
2. the LLM header record is there: the one carrying `deploymentName`/`modelName` and the token counts;
3. the sequence numbers of the LLM records seen form an unbroken run from 0 (no piece missing in between);
4. each side's messages, joined in sequence order, parse as JSON: a message over 32 KB is split into
   32 KB pieces of its JSON text, and a prefix of a JSON array never parses, so a side whose last piece is
   missing is not complete.
A side that has no piece at all yet cannot be told from a side that is not logged (prompt or completion
logging off), so such a call is recorded, and its late pieces update it: the parts stay stored until the
join window (`LEDGER_MONITOR_JOIN_SECONDS`) has passed, every arrival re-assembles the call from all of
them, and the merge replaces the recorded text with the longer text (tokens come from the one header,
never added). After the window the sweep records whatever is there (`force`) and drops the parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from shared.ingest import tokens
from shared.ingest.operations import canonical_operation, deployment_from_path
from shared.ingest.payloads.request import messages_text
from shared.ingest.types import Decoded, Part, PricedRecord
from shared.ingest.values import any_as_str, as_float, as_int, parse_time
from shared.store.records import CallRecord, DeadLetter, TokenUsage

KIND = "monitor"
SOURCE = "azure-monitor"
GATEWAY, LLM = "gatewaylogs", "gatewayllmlogs"
GATEWAY_PART = "gateway"


def _lower(value: Any) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in value.items()} if isinstance(value, dict) else {}


def _category(record: Mapping[str, Any]) -> str:
    return str(record.get("category") or "").strip().lower()


def _props(record: Mapping[str, Any]) -> dict[str, Any]:
    props = record.get("properties")
    if isinstance(props, str):  # some exporters send properties as JSON text
        try:
            props = orjson.loads(props)
        except orjson.JSONDecodeError:
            props = {}
    return _lower(props)


def correlation_id(record: Mapping[str, Any]) -> str | None:
    top = _lower(record)
    return any_as_str(top.get("correlationid")) or any_as_str(_props(record).get("correlationid"))


def _has_header(props: Mapping[str, Any]) -> bool:
    return bool(props.get("deploymentname") or props.get("modelname")) or any(
        as_int(props.get(name)) for name in ("prompttokens", "completiontokens", "totaltokens")
    )


def part_name(record: Mapping[str, Any]) -> str:
    if _category(record) == GATEWAY:
        return GATEWAY_PART
    props = _props(record)
    sequence = as_int(props.get("sequencenumber")) or 0
    kinds = (
        ("h" if _has_header(props) else "")
        + ("q" if props.get("requestmessages") not in (None, "", []) else "")
        + ("r" if props.get("responsemessages") not in (None, "", []) else "")
    )
    return f"llm:{sequence:06d}:{kinds or 'h'}"


class MonitorFormat:
    name = "Azure Monitor diagnostic export (GatewayLogs, GatewayLlmLogs)"

    def matches(self, doc: Any) -> bool:
        return isinstance(doc, dict) and isinstance(doc.get("records"), list)

    def decode(self, doc: Any, raw: bytes) -> Decoded:
        decoded = Decoded()
        for record in doc["records"]:
            category = _category(record) if isinstance(record, dict) else ""
            if isinstance(record, dict) and category not in (GATEWAY, LLM):
                continue  # other diagnostic categories (WebSocketConnectionLogs, ...) are not calls
            own = orjson.dumps(record)
            if not isinstance(record, dict):
                decoded.dead.append(DeadLetter(raw=own, reason="Azure Monitor record is not an object"))
                continue
            call_id = correlation_id(record)
            if not call_id:
                decoded.dead.append(
                    DeadLetter(raw=own, reason=f"Azure Monitor {record.get('category')} record without correlationId")
                )
                continue
            try:
                parse_time(record.get("time"), field="time")
            except ValueError as exc:
                decoded.dead.append(
                    DeadLetter(raw=own, reason=f"Azure Monitor record of call {call_id}: {exc}", event_id=call_id[:64])
                )
                continue
            decoded.parts.append(Part(kind=KIND, key=call_id, name=part_name(record), payload=own))
        return decoded


class MonitorAssembler:
    kind = KIND
    redelivery_is_duplicate = False
    keep_parts = True  # late pieces re-assemble the call until the join window has passed

    def assemble(self, key: str, parts: dict[str, bytes], *, force: bool) -> list[PricedRecord] | None:
        call = _Pieces(parts)
        if not force and not call.complete:
            return None
        if not call.gateway and not call.llm:
            return None
        return [call.record(key)]


class _Pieces:
    def __init__(self, parts: Mapping[str, bytes]) -> None:
        self.gateway: dict[str, Any] | None = None
        self.llm: list[tuple[int, str, dict[str, Any]]] = []
        for name, payload in parts.items():
            record = orjson.loads(payload)
            if name == GATEWAY_PART:
                self.gateway = record
            else:
                _, sequence, kinds = name.split(":")
                self.llm.append((int(sequence), kinds, record))
        self.llm.sort(key=lambda item: (item[0], item[1]))
        self.header = next((_props(r) for _, kinds, r in self.llm if "h" in kinds and _has_header(_props(r))), None)
        self.request_messages, request_whole = self._side("requestmessages")
        self.response_messages, response_whole = self._side("responsemessages")
        sequences = sorted({sequence for sequence, _, _ in self.llm})
        unbroken = sequences == list(range(len(sequences)))
        self.complete = bool(self.gateway and self.header and unbroken and request_whole and response_whole)

    def _side(self, name: str) -> tuple[list[Any] | None, bool]:
        pieces: list[Any] = [_props(r).get(name) for _, _, r in self.llm]
        pieces = [p for p in pieces if p not in (None, "", [])]
        if not pieces:
            return None, True
        if all(isinstance(p, list) for p in pieces):
            return [m for p in pieces for m in p], True
        text = "".join(p if isinstance(p, str) else orjson.dumps(p).decode() for p in pieces)
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            return [{"content": text}], False
        if isinstance(parsed, dict):
            parsed = [parsed]
        return (parsed if isinstance(parsed, list) else [{"content": str(parsed)}]), True

    def record(self, call_id: str) -> PricedRecord:
        gateway = _lower(self.gateway)
        gprops = _props(self.gateway) if self.gateway else {}
        header = self.header or {}
        first_llm = _lower(self.llm[0][2]) if self.llm else {}
        times = [
            parse_time(r.get("time")) for r in ([self.gateway] if self.gateway else []) + [r for _, _, r in self.llm]
        ]
        url = any_as_str(gprops.get("url"))
        path = _path(url)
        operation_id = any_as_str(gprops.get("operationid")) or any_as_str(header.get("operationname"))
        deployment = any_as_str(header.get("deploymentname")) or deployment_from_path(path)
        model = any_as_str(header.get("modelname")) or deployment
        last_error = _lower(gprops.get("lasterror"))
        status = as_int(gprops.get("responsecode"))
        if status is None:
            status = as_int(gprops.get("backendresponsecode"))
        if status is None:
            status = 200 if self.header and as_int(header.get("totaltokens")) else 0
        prompt_text = messages_text(self.request_messages) if self.request_messages else None
        completion_text = _completion_text(self.response_messages)
        record = CallRecord(
            call_id=call_id,
            time=min(times) if times else datetime.now().astimezone(),
            source=SOURCE,
            operation=canonical_operation(operation_id, path),
            api_operation_id=operation_id,
            api_version=any_as_str(header.get("apiversion")) or _query(url, "api-version"),
            deployment=deployment,
            model=model,
            ip=any_as_str(gateway.get("calleripaddress")),
            subscription_id=any_as_str(gprops.get("apimsubscriptionid")),
            product_id=any_as_str(gprops.get("productid")),
            user_id=any_as_str(gprops.get("userid")),
            gateway=_service_name(gateway.get("resourceid") or first_llm.get("resourceid")),
            region=any_as_str(gateway.get("location") or first_llm.get("location")) or any_as_str(header.get("region")),
            backend_id=any_as_str(gprops.get("backendid")),
            backend_url=any_as_str(gprops.get("backendurl")),
            status=status,
            duration_ms=as_float(gateway.get("durationms")),
            backend_ms=as_float(gprops.get("backendtime")),
            streamed=bool(header.get("isstreamcompletion") in (True, "true", "True")),
            error_code=any_as_str(last_error.get("reason")),
            error_message=any_as_str(last_error.get("message")),
            prompt_text=prompt_text,
            completion_text=completion_text,
        )
        usage = None
        if self.header and any(as_int(header.get(n)) for n in ("prompttokens", "completiontokens", "totaltokens")):
            prompt, completion = as_int(header.get("prompttokens")) or 0, as_int(header.get("completiontokens")) or 0
            usage = TokenUsage(
                prompt_tokens=prompt,
                completion_tokens=completion,
                total_tokens=as_int(header.get("totaltokens")) or prompt + completion,
                cached_tokens=as_int(header.get("promptcachedtokens")) or 0,
            )
        elif prompt_text or completion_text:  # no header (yet): estimate from the messages, flagged
            prompt = tokens.count_chat_prompt(self.request_messages, model) if self.request_messages else 0
            completion = tokens.count_tokens(completion_text, model)
            usage = TokenUsage(
                prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion, estimated=True
            )
        if usage is not None:
            record.prompt_tokens, record.completion_tokens = usage.prompt_tokens, usage.completion_tokens
            record.total_tokens, record.cached_tokens = usage.total_tokens, usage.cached_tokens
            record.tokens_estimated = usage.estimated
        return record, usage


def _completion_text(messages: list[Any] | None) -> str | None:
    if not messages:
        return None
    flattened = []
    for message in messages:
        if isinstance(message, dict) and isinstance(message.get("message"), dict):  # a choice object
            flattened.append(message["message"])
        else:
            flattened.append(message)
    return messages_text(flattened)


def _path(url: str | None) -> str | None:
    if not url:
        return None
    from urllib.parse import urlparse

    return urlparse(url).path or None


def _query(url: str | None, name: str) -> str | None:
    if not url:
        return None
    from urllib.parse import parse_qs, urlparse

    values = parse_qs(urlparse(url).query).get(name)
    return values[0] if values else None


def _service_name(resource_id: Any) -> str | None:
    text = any_as_str(resource_id)
    if not text:
        return None
    return text.rstrip("/").rsplit("/", 1)[-1].lower() or None
