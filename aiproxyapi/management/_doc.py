"""Reading and changing a round-trip config document by key path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiproxyapi.management.edit import Document

__all__ = ["MISSING", "get_path", "plain", "remove_path", "set_path"]

MISSING: Any = object()


def plain(value: Any) -> Any:
    """A document subtree as plain dicts, lists and scalars (for JSON)."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, bool | int | float) or value is None:
        return value
    return str(value)


def get_path(document: Document, path: Sequence[str], default: Any = MISSING) -> Any:
    """The value at `path`, or `default`."""
    node: Any = document
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def _to_document(value: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict) and not isinstance(value, CommentedMap):
        mapping = CommentedMap()
        for key, item in value.items():
            mapping[key] = _to_document(item)
        return mapping
    if isinstance(value, list) and not isinstance(value, CommentedSeq):
        return CommentedSeq([_to_document(item) for item in value])
    return value


def set_path(document: Document, path: Sequence[str], value: Any) -> None:
    """Set the value at `path`, creating the mappings on the way."""
    from ruamel.yaml.comments import CommentedMap

    node: Any = document
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = CommentedMap()
        node = child
    node[path[-1]] = _to_document(value)


def remove_path(document: Document, path: Sequence[str]) -> bool:
    """Delete the key at `path`; False when it was not there."""
    parent = get_path(document, path[:-1]) if len(path) > 1 else document
    if not isinstance(parent, dict) or path[-1] not in parent:
        return False
    del parent[path[-1]]
    return True
