"""The finite set of replies a JSON schema allows, for backends that decode by choosing among them.

A judge rubric's schema is mostly labels: ``{"verdict": {"enum": ["YES", "NO"]}}``, a 1-5 integer, a pair of
enums. Such a schema admits few replies once optional free-text fields are left out, so a backend with no
grammar-guided decoding (transformers) can still decode exactly: score each allowed reply's likelihood and
pick one. The reply then cannot stall, wander or fail to parse. Only ``required`` properties are kept (free-text
ones such as ``thought`` are optional in the built-in rubrics); a schema with a required free-text field, an
array, or more than ``MAX_CHOICES`` combinations is not enumerable and is decoded freely.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

MAX_CHOICES = 64
MAX_INTEGER_RANGE = 11


def _values(schema: Any) -> list[Any] | None:
    """Every value ``schema`` admits, or None when it admits too many (free text, arrays, wide ranges)."""
    if not isinstance(schema, dict):
        return None
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return list(schema["enum"])
    kind = schema.get("type")
    if kind == "boolean":
        return [True, False]
    if kind == "integer" and isinstance(schema.get("minimum"), int) and isinstance(schema.get("maximum"), int):
        low, high = schema["minimum"], schema["maximum"]
        return list(range(low, high + 1)) if 0 < high - low + 1 <= MAX_INTEGER_RANGE else None
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        required = [name for name in properties if name in (schema.get("required") or ())]
        if not required:
            return None
        per_field = [_values(properties[name]) for name in required]
        if any(v is None for v in per_field):
            return None
        combos = 1
        for v in per_field:
            combos *= len(v)
        if combos > MAX_CHOICES:
            return None
        return [dict(zip(required, combo)) for combo in itertools.product(*per_field)]
    return None


def enumerated_replies(schema: dict[str, Any] | None) -> list[str] | None:
    """The replies (JSON text, in the schema's order) a rubric's schema allows, or None if not enumerable."""
    values = _values(schema) if schema else None
    if not values or not all(isinstance(v, dict) for v in values):
        return None
    return [json.dumps(v, ensure_ascii=False) for v in values]
