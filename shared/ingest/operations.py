"""Canonical operation names from APIM operation ids or request paths.

APIM operation ids come from whichever inference spec the API was imported from, in mixed case
(`ChatCompletions_Create`, `embeddings_create`), so the id is matched case-insensitively and the request
path is the fallback for ids we do not know (custom imports, the v1 API, Assistants).
"""

from __future__ import annotations

from functools import lru_cache

CANONICAL_BY_OPERATION_ID = {
    "chatcompletions_create": "chat.completions",
    "completions_create": "completions",
    "embeddings_create": "embeddings",
    "imagegenerations_create": "images.generations",
    "images_generate": "images.generations",
    "transcriptions_create": "audio.transcriptions",
    "translations_create": "audio.translations",
    "speech_create": "audio.speech",
    "generatespeechfromtext": "audio.speech",
    "createresponse": "responses",
    "responses_create": "responses",
    "createrun": "assistants",
    "createthreadandrun": "assistants",
    "getrun": "assistants",
    "submittooloutputstorun": "assistants",
}

# Most specific first: "/chat/completions" must win over "/completions".
_BY_PATH_SUFFIX = (
    ("/chat/completions", "chat.completions"),
    ("/completions", "completions"),
    ("/embeddings", "embeddings"),
    ("/images/generations", "images.generations"),
    ("/audio/transcriptions", "audio.transcriptions"),
    ("/audio/translations", "audio.translations"),
    ("/audio/speech", "audio.speech"),
    ("/responses", "responses"),
)


@lru_cache(maxsize=4096)
def canonical_operation(operation_id: str | None, path: str | None) -> str:
    """Map an APIM operation id (any case) or, failing that, the request path to a canonical operation."""
    if operation_id:
        found = CANONICAL_BY_OPERATION_ID.get(operation_id.strip().lower())
        if found:
            return found
    if path:
        bare = path.split("?", 1)[0].rstrip("/").lower()
        for suffix, operation in _BY_PATH_SUFFIX:
            if bare.endswith(suffix):
                return operation
        if "/threads" in bare or "/assistants" in bare:
            return "assistants"
        if "/responses/" in bare:
            return "responses"
    return "other"


@lru_cache(maxsize=4096)
def deployment_from_path(path: str | None) -> str | None:
    """`/openai/deployments/{name}/...` names the deployment when the event does not."""
    if not path:
        return None
    parts = path.split("?", 1)[0].split("/")
    try:
        index = parts.index("deployments")
    except ValueError:
        return None
    return parts[index + 1] or None if index + 1 < len(parts) else None
