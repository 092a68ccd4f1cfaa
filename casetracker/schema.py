"""OpenAPI postprocessing: document the error answers every operation can really give.

drf-spectacular documents the success answer of each operation and the few errors a view
declares. The others come from the framework for every route alike, so they are added here in one
place rather than by a decorator on each view:

- 400 with the offending field names, wherever the client sends a body or query parameters;
- 401 (no or bad credentials) and 403 (the role policy refuses), on every operation;
- 404 on every operation: an object out of the user's scope, or a page number past the end;
- 409 with the problems, on every write to an existing object, whose state may refuse it;
- 429 on the token endpoint, which locks a username out after repeated failures.

It also marks the optional query parameters that read an empty value as "not given" (an HTML
filter form sends every field) with `allowEmptyValue`.

The schemathesis tests (tests/api/test_schemathesis.py) hold the API to these documents.
"""

from typing import Any

from django.urls import reverse

UNSAFE_METHODS = ("post", "put", "patch", "delete")
# Query parameters for which an empty value is an error (casetracker/api/pagination.py); for
# every other one (the filters and report options) an empty value means "not given".
NO_EMPTY_VALUE = frozenset({"page", "page_size"})


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


COMPONENTS: dict[str, dict[str, Any]] = {
    "ErrorDetail": {
        "type": "object",
        "description": "Why the request was refused, in the user's language.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "FieldErrors": {
        "type": "object",
        "description": (
            "Each key names a field of the request (a body field or a query parameter) and holds "
            "its messages; a nested field holds an object or a list in the same shape. "
            "`non_field_errors` holds problems of the request as a whole, and `detail` a request "
            "that could not be read at all."
        ),
        "additionalProperties": {
            "oneOf": [
                {"type": "array", "items": {}},
                {"type": "object", "additionalProperties": {}},
                {"type": "string"},
            ]
        },
        "minProperties": 1,
    },
    "TransitionRefused": {
        "type": "object",
        "description": "The object's state refuses the change now; `problems` lists why.",
        "properties": {
            "detail": {"type": "string"},
            "problems": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["detail", "problems"],
    },
}


def _answer(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _takes_input(operation: dict[str, Any]) -> bool:
    return "requestBody" in operation or any(
        parameter.get("in") == "query" for parameter in operation.get("parameters", [])
    )


def _error_answers(path: str, method: str, operation: dict[str, Any]) -> dict[str, Any]:
    answers = {
        "401": _answer("No credentials, or credentials that are not valid.", "ErrorDetail"),
        "403": _answer("The role of this user may not do this.", "ErrorDetail"),
        "404": _answer(
            "No such object among those this user may see, or a page past the end.", "ErrorDetail"
        ),
    }
    if _takes_input(operation):
        answers["400"] = _answer("The input is not valid; each field says why.", "FieldErrors")
    if method in UNSAFE_METHODS and "{" in path:
        answers["409"] = _answer("The object's state refuses this change now.", "TransitionRefused")
    if path == reverse("api-token"):
        answers["429"] = _answer("Too many failed sign-ins: locked out for a while.", "ErrorDetail")
    return answers


def document_error_answers(result, generator, request, public):
    """drf-spectacular POSTPROCESSING_HOOKS entry: add the error answers to every operation,
    keeping any answer a view documented itself (only giving it a body if it had none), and
    mark the query parameters that may be empty."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(COMPONENTS)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            for parameter in operation.get("parameters", []):
                if (
                    parameter.get("in") == "query"
                    and not parameter.get("required")
                    and parameter["name"] not in NO_EMPTY_VALUE
                ):
                    parameter["allowEmptyValue"] = True
            responses = operation.setdefault("responses", {})
            for status, answer in _error_answers(path, method, operation).items():
                declared = responses.get(status)
                if declared is None:
                    responses[status] = answer
                elif "content" not in declared:
                    declared["content"] = answer["content"]
            operation["responses"] = dict(sorted(responses.items()))
    return result
