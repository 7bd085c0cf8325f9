"""The served OpenAPI document states the rules the server enforces on request bodies.

Litestar derives component schemas from pydantic fields, but drops what generated clients and
fuzzers need: `additionalProperties: false` (every body refuses unknown fields), the pattern of
an optional constrained string, cross-field rules. Pydantic's own JSON schema of a request model
is exactly what it validates: each `Input` model's component is replaced by it (its nested
models become components too), once, when the document is first built.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin

from market.kit.schema import Input

REF_TEMPLATE = "#/components/schemas/{model}"
# Text may not hold NUL (PostgreSQL refuses it): said of every string that has no pattern.
NO_NUL = "^[^\\u0000]*$"
_CONSTRAINED = ("pattern", "format", "enum", "const")


def _refuse_nul(schema: object) -> None:
    if isinstance(schema, list):
        for item in schema:
            _refuse_nul(item)
    elif isinstance(schema, dict):
        if schema.get("type") == "string" and not any(k in schema for k in _CONSTRAINED):
            schema["pattern"] = NO_NUL
        for value in schema.values():
            _refuse_nul(value)


def _input_models() -> dict[str, type[Input]]:
    found: dict[str, type[Input]] = {}
    pending: list[type[Input]] = list(Input.__subclasses__())
    while pending:
        model = pending.pop()
        found.setdefault(model.__name__, model)
        pending.extend(model.__subclasses__())
    return found


def tighten(document: dict[str, Any]) -> dict[str, Any]:
    """Replace the components of request models with pydantic's validation schemas; say of
    every free text (body or parameter) that it holds no NUL."""
    components: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    models = _input_models()
    for name in [n for n in components if n in models]:
        schema = models[name].model_json_schema(mode="validation", ref_template=REF_TEMPLATE)
        for nested, definition in schema.pop("$defs", {}).items():
            _refuse_nul(definition)
            components[nested] = definition
        _refuse_nul(schema)
        components[name] = schema
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict):
                _refuse_nul(operation.get("parameters", []))
    return document


def serve_tightened_schema(app: Litestar) -> None:
    """Build `app`'s OpenAPI document now, tightened; Litestar serves it from its cache."""
    plugin = app.plugins.get(OpenAPIPlugin)
    plugin._openapi_schema = tighten(plugin.provide_openapi().to_schema())
