"""Check the fake's traffic against GitHub's own REST description (openapi-core).

The spec's servers are https://api.github.com and, for asset uploads,
https://uploads.github.com; the fake serves both from one origin, with uploads
under ``/uploads``. The adapters below present each request to openapi-core as
if it had reached the real host.
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.responses.exceptions import ResponseNotFound
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPEC_PATH = Path(__file__).parent / "openapi" / "api.github.com.subset.json"
API_HOST = "https://api.github.com"
UPLOADS_HOST = "https://uploads.github.com"
UPLOADS_PREFIX = "/uploads"
UPLOAD_OPERATION = ("/repos/{owner}/{repo}/releases/{release_id}/assets", "post")


@functools.lru_cache(maxsize=1)
def spec_dict() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


def _patched_spec() -> dict[str, Any]:
    spec = copy.deepcopy(spec_dict())
    # GitHub documents that a failed upload "may leave an empty asset with a state
    # of `starter`", but the schema's enum lists only uploaded/open.
    for path, ops in spec["paths"].items():
        if "/releases" not in path:
            continue
        for op in ops.values():
            if isinstance(op, dict):
                for response in op.get("responses", {}).values():
                    for media in response.get("content", {}).values():
                        _extend_state_enum(media.get("schema", {}))
    return spec


def _extend_state_enum(schema: Any) -> None:
    if isinstance(schema, dict):
        props = schema.get("properties", {})
        state = props.get("state")
        if isinstance(state, dict) and state.get("enum") == ["uploaded", "open"]:
            state["enum"] = ["uploaded", "open", "starter"]
        for value in schema.values():
            _extend_state_enum(value)
    elif isinstance(schema, list):
        for value in schema:
            _extend_state_enum(value)


@functools.lru_cache(maxsize=1)
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(_patched_spec())


@dataclass
class SpecRequest:
    """openapi-core's Request protocol for a request the fake received."""

    method: str
    host_url: str
    path: str
    parameters: RequestParameters
    body: bytes | None
    content_type: str


@dataclass
class SpecResponse:
    status_code: int
    data: bytes
    content_type: str
    headers: Headers


def spec_request(
    method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes
) -> SpecRequest:
    host = API_HOST
    content_type = headers.get("content-type", "application/octet-stream")
    if path.startswith(UPLOADS_PREFIX + "/"):
        host, path = UPLOADS_HOST, path[len(UPLOADS_PREFIX) :]
        # The spec models the upload body as application/octet-stream only, while
        # GitHub takes the asset's own media type in Content-Type (the real API
        # accepts any); validate the body as the raw bytes it is.
        content_type = "application/octet-stream"
    return SpecRequest(
        method=method.lower(),
        host_url=host,
        path=path,
        parameters=RequestParameters(
            query=ImmutableMultiDict(query),
            header=Headers(headers),
            cookie=ImmutableMultiDict(),
        ),
        body=body or None,
        content_type=content_type,
    )


def _describe(error: BaseException) -> str:
    """One line: the error and the schema messages found along its cause chain."""
    details: list[str] = []
    cause: BaseException | None = error
    while cause is not None:
        for sub in getattr(cause, "schema_errors", ()) or ():
            message = getattr(sub, "message", str(sub))
            if message not in details:
                details.append(message)
        cause = cause.__cause__ or cause.__context__
    head = f"{type(error).__name__}: {error}"
    return f"{head} [{'; '.join(details)}]" if details else head


def request_errors(request: SpecRequest) -> list[str]:
    return [_describe(e) for e in openapi().iter_request_errors(request)]


def response_errors(request: SpecRequest, response: SpecResponse) -> list[str]:
    errors = []
    for e in openapi().iter_response_errors(request, response):
        # The spec does not list every status GitHub can send (401 and 403 for most
        # operations, 5xx); a status it does not describe has no schema to break.
        if isinstance(e, ResponseNotFound):
            continue
        errors.append(_describe(e))
    return errors


def response_schema(path: str, method: str, status: str = "200") -> dict[str, Any]:
    op = spec_dict()["paths"][path][method]
    return op["responses"][status]["content"]["application/json"]["schema"]


def minimal_instance(schema: dict[str, Any]) -> Any:
    """The smallest value that satisfies ``schema``: every required property, no more.

    Used for responses too large to write by hand (a pull request has 42 required
    fields); the fake then overlays the fields clients read.
    """
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for sub in schema["allOf"]:
            value = minimal_instance(sub)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return minimal_instance(schema[key][0])
    if schema.get("nullable"):
        return None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: minimal_instance(props.get(name, {})) for name in schema.get("required", [])}
    if kind == "array":
        return []
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return 0
    if kind == "boolean":
        return False
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return "2024-01-01T00:00:00Z"
        if fmt == "uri":
            return "https://example.invalid/"
        return "x"
    return None
