"""Wire models as JSON Schema for code generators: the shared step of the OpenAPI and AsyncAPI generators.

pydantic's schemas are adapted so that generators (openapi-typescript, openapi-generator) type the wire as it
is: an optional field is a non-required property, never ``default: null``; a field that may be null is required
and nullable; descriptions are CommonMark; property titles are dropped.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

_REF = "#/components/schemas/{model}"


def markdown(text: str) -> str:
    """Docstring text as CommonMark: reST's ``code`` becomes `code`, wrapped lines are joined."""
    return " ".join(text.replace("``", "`").split())


def clean_schema(schema: Any, mode: str, *, in_properties: bool = False) -> Any:
    """Adapt pydantic's JSON schema for code generators . ``mode`` is ``validation``
    for a body clients send (an optional field may be null there too), ``serialization`` for what they get, or
    ``query`` for query parameters (never null)."""
    if isinstance(schema, list):
        return [clean_schema(item, mode) for item in schema]
    if not isinstance(schema, dict):
        return schema
    cleaned: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and in_properties:
            continue
        if key == "description" and isinstance(value, str):
            cleaned[key] = markdown(value)
        elif key == "properties":
            cleaned[key] = {name: clean_schema(prop, mode, in_properties=True) for name, prop in value.items()}
        elif key in ("$defs", "definitions"):
            cleaned[key] = {name: clean_schema(definition, mode) for name, definition in value.items()}
        else:
            cleaned[key] = clean_schema(value, mode)
    if "properties" in cleaned:
        _fix_defaults(cleaned, mode)
    return cleaned


def _fix_defaults(schema: dict[str, Any], mode: str) -> None:
    """What a property's ``default`` means to a generator, made true of the wire."""
    required = schema.get("required", [])
    for name, prop in schema["properties"].items():
        if name in required or "default" not in prop:
            continue
        if prop["default"] is not None:
            if mode == "serialization":
                # Only empty optionals are left out of a response: a field with another default is always there.
                schema["required"] = required = [*required, name]
            elif mode == "validation":
                # A client may leave it out, but openapi-typescript types a component's property that has a
                # default as always present: the default is said in words instead.
                default = json.dumps(prop.pop("default"))
                prop["description"] = " ".join(filter(None, [prop.get("description"), f"Default: `{default}`."]))
            continue
        # Optional: not `default: null`, which generators type as always present. In a response it is left out
        # when empty, never null; in a request body, null means the same as leaving it out.
        del prop["default"]
        if mode == "validation":
            continue
        variants = [v for v in prop.get("anyOf", []) if v != {"type": "null"}]
        if "anyOf" in prop and len(variants) == 1:
            del prop["anyOf"]
            prop.update(variants[0])
        elif "anyOf" in prop:
            prop["anyOf"] = variants


class Schemas:
    """Collects model schemas under components/schemas, each once (the AsyncAPI document collects its own)."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str) -> dict[str, Any]:
        self.components.setdefault(model.__name__, self.inline(model, mode))
        return {"$ref": _REF.format(model=model.__name__)}

    def inline(self, model: type[BaseModel], mode: str) -> dict[str, Any]:
        """The model's own schema, with the models it refers to collected."""
        schema = model.model_json_schema(by_alias=True, mode=mode, ref_template=_REF)  # type: ignore[arg-type]
        for name, definition in schema.pop("$defs", {}).items():
            self.components.setdefault(name, clean_schema(definition, mode))
        cleaned: dict[str, Any] = clean_schema(schema, mode)
        return cleaned
