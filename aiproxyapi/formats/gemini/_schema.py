"""JSON schemas to and from Gemini.

Going out, tool parameters travel as `parametersJsonSchema` and structured output as
`responseJsonSchema`: both take plain JSON Schema (additionalProperties, anyOf, type lists,
propertyOrdering...), which spares the lossy rewrite into the OpenAPI subset of `parameters`.
Two things are still cleaned, because Gemini answers 400 for them: `$schema` (rejected at any
level) and `$ref` (local references into `$defs`/`definitions` are inlined and the definitions
dropped; a recursive or unresolvable reference becomes an open object).

Coming in, a `parameters` / `responseSchema` in the OpenAPI subset becomes JSON Schema: upper-case
types lower-cased, `nullable` folded into a type list, the Gemini-only `format: enum` dropped.
"""

from __future__ import annotations

from typing import Any

__all__ = ["clean_schema", "from_openapi"]

_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas"})
_SCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
_SCHEMA_ONE = frozenset(
    {
        "items", "additionalProperties", "not", "if", "then", "else", "contains",
        "propertyNames", "unevaluatedProperties", "unevaluatedItems", "additionalItems",
    }
)  # fmt: skip
_DROPPED = frozenset({"$schema", "$defs", "definitions"})
_MAX_DEPTH = 32


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema Gemini accepts: `$schema` removed, local `$ref`s inlined."""
    defs: dict[str, Any] = {}
    for key in ("definitions", "$defs"):
        found = schema.get(key)
        if isinstance(found, dict):
            defs.update({f"#/{key}/{name}": value for name, value in found.items()})
    cleaned = _clean(schema, defs, ())
    return cleaned if isinstance(cleaned, dict) else {}


def _pointer_name(ref: str) -> str:
    # JSON Pointer escapes: ~1 is "/", ~0 is "~".
    head, _, name = ref.rpartition("/")
    return f"{head}/{name.replace('~1', '/').replace('~0', '~')}"


def _clean(node: Any, defs: dict[str, Any], trail: tuple[str, ...]) -> Any:
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        siblings = _clean({k: v for k, v in node.items() if k != "$ref"}, defs, trail)
        target = _pointer_name(ref)
        if target in defs and target not in trail and len(trail) < _MAX_DEPTH:
            resolved = _clean(defs[target], defs, (*trail, target))
            # Keywords written beside the reference (a description, say) win over the target's.
            return {**resolved, **siblings} if isinstance(resolved, dict) else siblings
        return {"type": "object", **siblings}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _clean(sub, defs, trail) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_clean(sub, defs, trail) for sub in value]
        elif key in _SCHEMA_ONE:
            if isinstance(value, list):  # the tuple form of `items`
                out[key] = [_clean(sub, defs, trail) for sub in value]
            else:
                out[key] = _clean(value, defs, trail)
        else:
            out[key] = value
    return out


def from_openapi(node: Any) -> Any:
    """JSON Schema for a schema in Gemini's OpenAPI subset (`parameters`, `responseSchema`)."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, str):
            if value.upper() != "TYPE_UNSPECIFIED":
                out["type"] = value.lower()
        elif key == "nullable" or (key == "format" and value == "enum"):
            continue
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: from_openapi(sub) for name, sub in value.items()}
        elif key == "anyOf" and isinstance(value, list):
            out[key] = [from_openapi(sub) for sub in value]
        elif key == "items":
            out[key] = from_openapi(value)
        else:
            out[key] = value
    if node.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif isinstance(out.get("anyOf"), list):
            out["anyOf"] = [*out["anyOf"], {"type": "null"}]
    return out
