"""A small JSON Schema (2020-12 subset) validator: the one checker of request bodies.

The OpenAPI document (:mod:`control_api.openapi`) is the single source of the API's shapes;
handlers validate bodies against its component schemas with :func:`validate`, and the tests
validate responses with the same function. Supported keywords: ``type`` (one or a list),
``properties``, ``required``, ``additionalProperties`` (bool or schema), ``maxProperties``, ``minLength``,
``maxLength``, ``pattern``, ``format`` (``date-time``, ``email``), ``minimum``, ``maximum``,
``enum``, ``const``, ``items``, ``minProperties``, ``minItems``, ``maxItems``, ``uniqueItems``,
``$ref`` (local).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

_EMAIL_RE: Final = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")
_DATE_TIME_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_TYPE_CHECKS: Final[dict[str, Callable[[object], bool]]] = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _type_ok(value: object, name: str) -> bool:
    return _TYPE_CHECKS[name](value)


def is_date_time(value: str) -> bool:
    """RFC 3339 date-time with a mandatory offset, e.g. ``2026-05-01T09:00:00+02:00``."""
    if _DATE_TIME_RE.fullmatch(value) is None:
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


class _Validator:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.errors: list[dict[str, str]] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append({"path": path or "/", "message": message})

    def resolve(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref is supported: {ref!r}")
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node[part]
        return node  # type: ignore[no-any-return]

    def check(self, value: object, schema: Mapping[str, Any], path: str) -> None:
        if "$ref" in schema:
            self.check(value, self.resolve(schema["$ref"]), path)
            return
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not any(_type_ok(value, t) for t in types):
                self.fail(path, f"expected {' or '.join(types)}")
                return
        if "const" in schema and value != schema["const"]:
            self.fail(path, f"must be {schema['const']!r}")
        if "enum" in schema and value not in schema["enum"]:
            self.fail(path, f"must be one of {', '.join(map(str, schema['enum']))}")
        if isinstance(value, str):
            self.check_string(value, schema, path)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if "minimum" in schema and value < schema["minimum"]:
                self.fail(path, f"must be at least {schema['minimum']}")
            if "maximum" in schema and value > schema["maximum"]:
                self.fail(path, f"must be at most {schema['maximum']}")
        elif isinstance(value, list):
            self.check_array(value, schema, path)
        elif isinstance(value, dict):
            self.check_object(value, schema, path)

    def check_string(self, value: str, schema: Mapping[str, Any], path: str) -> None:
        if "minLength" in schema and len(value) < schema["minLength"]:
            self.fail(path, f"must have at least {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            self.fail(path, f"must have at most {schema['maxLength']} characters")
        if "pattern" in schema and _compiled(schema["pattern"]).search(value) is None:
            self.fail(path, f"must match {schema['pattern']}")
        fmt = schema.get("format")
        if fmt == "date-time" and not is_date_time(value):
            self.fail(path, "must be an RFC 3339 date-time with an offset")
        elif fmt == "email" and _EMAIL_RE.fullmatch(value) is None:
            self.fail(path, "must be an e-mail address")

    def check_array(self, value: list[Any], schema: Mapping[str, Any], path: str) -> None:
        if "minItems" in schema and len(value) < schema["minItems"]:
            self.fail(path, f"must have at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            self.fail(path, f"must have at most {schema['maxItems']} items")
            return
        if schema.get("uniqueItems"):
            seen = [repr(v) for v in value]
            if len(set(seen)) != len(seen):
                self.fail(path, "items must be unique")
        if "items" in schema:
            for index, item in enumerate(value):
                self.check(item, schema["items"], f"{path}/{index}")

    def check_object(self, value: dict[str, Any], schema: Mapping[str, Any], path: str) -> None:
        properties: Mapping[str, Any] = schema.get("properties", {})
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            self.fail(path, f"must have at least {schema['minProperties']} fields")
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            self.fail(path, f"must have at most {schema['maxProperties']} fields")
            return
        for name in schema.get("required", ()):
            if name not in value:
                self.fail(f"{path}/{name}", "is required")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                self.check(item, properties[name], f"{path}/{name}")
            elif extra is False:
                self.fail(f"{path}/{name}", "is not a known field")
            elif isinstance(extra, Mapping):
                self.check(item, extra, f"{path}/{name}")


def validate(value: object, schema: Mapping[str, Any], root: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every violation of ``schema`` by ``value`` as ``{"path", "message"}``; empty when valid.

    ``root`` is the document that local ``$ref`` pointers resolve against.
    """
    validator = _Validator(root)
    validator.check(value, schema, "")
    return validator.errors
