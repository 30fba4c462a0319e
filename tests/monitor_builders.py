"""Azure Monitor diagnostic-export records of one call, as APIM streams them to Event Hubs.

Top level: the resource-log common schema (`time`, `resourceId`, `operationName`, `category`,
`correlationId`, `callerIpAddress`, `durationMs`, `location`, `Level`, `properties`); properties in the
export's camelCase: GatewayLogs as in Microsoft's sample entry (`method`, `url`, `responseCode`,
`backendResponseCode`, `apimSubscriptionId`, ...), GatewayLlmLogs as the ApiManagementGatewayLlmLog
columns (`requestId`, `deploymentName`, `modelName`, `promptTokens`, `completionTokens`, `totalTokens`,
`isStreamCompletion`, `sequenceNumber`, `requestMessages`, `responseMessages`). Messages over 32 KB are
split into 32 KB pieces of their JSON text, numbered by `sequenceNumber`.
"""

from __future__ import annotations

from typing import Any

import orjson

RESOURCE_ID = (
    "/SUBSCRIPTIONS/5F1C0D2E-7A3B-4C5D-8E9F-0A1B2C3D4E5F/RESOURCEGROUPS/RG-LEDGER"
    "/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/APIM-CONTOSO"
)
CHUNK = 32 * 1024


def _envelope(category: str, call_id: str, time: str, properties: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {
        "time": time,
        "resourceId": RESOURCE_ID,
        "operationName": f"Microsoft.ApiManagement/{category}",
        "category": category,
        "correlationId": call_id,
        "location": "East US 2",
        "Level": 4,
        **top,
        "properties": properties,
    }


def gateway_record(
    call_id: str,
    *,
    time: str = "2026-11-27T09:00:00.1230000Z",
    status: int = 200,
    deployment: str = "chat-prod",
    subscription: str = "sub-marketing",
) -> dict[str, Any]:
    query = "?api-version=2024-10-21"
    return _envelope(
        "GatewayLogs",
        call_id,
        time,
        {
            "method": "POST",
            "url": f"https://apim-contoso.azure-api.net/openai/deployments/{deployment}/chat/completions{query}",
            "backendResponseCode": status,
            "responseCode": status,
            "responseSize": 2345,
            "cache": "none",
            "backendTime": 790,
            "requestSize": 1234,
            "apiId": "azure-openai",
            "operationId": "ChatCompletions_Create",
            "apimSubscriptionId": subscription,
            "productId": "gold",
            "clientTime": 3,
            "clientProtocol": "HTTP/1.1",
            "backendProtocol": "HTTP/1.1",
            "apiRevision": "1",
            "clientTlsVersion": "1.3",
            "backendMethod": "POST",
            "backendUrl": f"https://contoso-eastus2.openai.azure.com/openai/deployments/{deployment}/chat/completions{query}",
            "backendId": "aoai-eastus2",
        },
        durationMs=812,
        callerIpAddress="203.0.113.7",
        isRequestSuccess=status < 400,
    )


def llm_records(
    call_id: str,
    messages: list[dict[str, Any]],
    completion: str,
    *,
    prompt_tokens: int,
    completion_tokens: int,
    time: str = "2026-11-27T09:00:00.1250000Z",
    stream: bool = True,
    model: str = "gpt-4o-2024-08-06",
    deployment: str = "chat-prod",
    chunk: int = CHUNK,
) -> list[dict[str, Any]]:
    """The header record (sequence 0, tokens) and the message pieces (sequence 1..n)."""
    records = [
        _envelope(
            "GatewayLlmLogs",
            call_id,
            time,
            {
                "requestId": "chatcmpl-" + call_id.replace("-", "")[:24],
                "operationName": "ChatCompletions_Create",
                "apiVersion": "2024-10-21",
                "deploymentName": deployment,
                "modelName": model,
                "promptTokens": prompt_tokens,
                "completionTokens": completion_tokens,
                "totalTokens": prompt_tokens + completion_tokens,
                "isStreamCompletion": stream,
                "sequenceNumber": 0,
            },
        )
    ]
    sequence = 1
    for side, value in (
        ("requestMessages", messages),
        ("responseMessages", [{"role": "assistant", "content": completion}]),
    ):
        text = orjson.dumps(value).decode()
        pieces: list[Any] = [value] if len(text) <= chunk else [text[i : i + chunk] for i in range(0, len(text), chunk)]
        for piece in pieces:
            records.append(_envelope("GatewayLlmLogs", call_id, time, {"sequenceNumber": sequence, side: piece}))
            sequence += 1
    return records
