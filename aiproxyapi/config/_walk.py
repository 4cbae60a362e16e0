"""Turn the composed YAML node tree into plain data for msgspec, guided by the schema.

Walking nodes rather than already constructed objects gives every key its line, and lets a
scalar bound for a string field keep its source text as Go's YAML decoder (and so CLIProxyAPI)
does: ``api-key: 0123`` stays "0123" instead of becoming the YAML 1.1 octal 83, and
``alias: yes`` stays "yes". Everything else is built by PyYAML's safe constructor.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import msgspec
import msgspec.inspect as mi
import yaml

from aiproxyapi.config._unsupported import is_unsupported, unsupported_names_under
from aiproxyapi.config.schema import Config, OpenAICompatEntry

__all__ = ["WalkError", "Walked", "walk_document"]

_TAG = "tag:yaml.org,2002:"
# Scalars whose source text is a fine string; anything else (binary, custom tags) goes through
# the safe constructor, which refuses what it does not know.
_TEXT_TAGS = frozenset(f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "timestamp"))
_NULL_TAG = f"{_TAG}null"
_MERGE_TAG = f"{_TAG}merge"
_SEQ_TAG = f"{_TAG}seq"
_MAP_TAG = f"{_TAG}map"
_SECRET_KEYS = frozenset({"api-key", "api-keys", "secret-key", "remote-management-key", "headers"})
_LEGACY_API_KEYS = "api-keys"


class WalkError(Exception):
    """A problem found while walking: the key path, its line and a message without values."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
        self.message = message


@dataclass
class Walked:
    """The data for msgspec plus what the walk learned along the way."""

    data: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)


def walk_document(root: yaml.Node | None, loader: yaml.SafeLoader) -> Walked:
    """Walk a whole document against `Config`; an empty document gives empty data."""
    walked = Walked()
    if root is None or _is_null(root):
        return walked
    data = _Walker(loader, walked).value(root, _config_type(), "")
    if isinstance(data, dict):
        walked.data = data
    else:
        raise WalkError("", _line(root), f"expected a mapping of keys, got {_kind(root)}")
    return walked


@functools.cache
def _config_type() -> mi.Type:
    return mi.type_info(Config)


@functools.cache
def _fields(cls: type[msgspec.Struct]) -> dict[str, mi.Field]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    return {f.encode_name: f for f in info.fields}


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return "a scalar"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


# A tagged collection (`!!set`, `!!python/...`) is left to the safe constructor, which either
# builds something msgspec then refuses or raises itself.
def _is_map(node: yaml.Node) -> TypeGuard[yaml.MappingNode]:
    return isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG


def _is_seq(node: yaml.Node) -> TypeGuard[yaml.SequenceNode]:
    return isinstance(node, yaml.SequenceNode) and node.tag == _SEQ_TAG


def _is_text(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag in _TEXT_TAGS


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _secret_strings(key: str, value: Any) -> list[str]:
    """The secrets under a secret key; of a policy item in `api-keys` only its `key`."""
    if key == "api-keys" and isinstance(value, list):
        return [
            s
            for item in value
            for s in _strings(item.get("key") if isinstance(item, dict) else item)
        ]
    return _strings(value)


class _Walker:
    def __init__(self, loader: yaml.SafeLoader, walked: Walked) -> None:
        self._loader = loader
        self._walked = walked

    def value(self, node: yaml.Node, info: mi.Type, path: str) -> Any:
        if isinstance(info, mi.StructType) and _is_map(node):
            return self._struct(node, info.cls, path)
        if isinstance(info, mi.VarTupleType | mi.ListType) and _is_seq(node):
            items = []
            for index, item in enumerate(node.value):
                item_path = f"{path}[{index}]"
                self._walked.lines[item_path] = _line(item)
                items.append(self.value(item, info.item_type, item_path))
            return items
        if isinstance(info, mi.DictType) and _is_map(node):
            return {
                self._key(key, path): self.value(value, info.value_type, path)
                for key, value in self._pairs(node, path)
            }
        if isinstance(info, mi.StrType) and _is_text(node):
            return str(node.value)
        if isinstance(info, mi.UnionType):
            # `api-keys` items are a key string or a policy object: walk the matching member.
            for member in info.types:
                if isinstance(member, mi.StructType) and _is_map(node):
                    return self._struct(node, member.cls, path)
                if isinstance(member, mi.StrType) and _is_text(node):
                    return str(node.value)
        return self._construct(node, path)

    def _struct(self, node: yaml.MappingNode, cls: type[msgspec.Struct], path: str) -> Any:
        fields = _fields(cls)
        out: dict[str, Any] = {}
        legacy: tuple[yaml.Node, str] | None = None
        for key_node, value_node in self._pairs(node, path):
            key = self._key(key_node, path)
            child = _join(path, key)
            self._walked.lines[child] = _line(key_node)
            if key in fields:
                # An empty value (`api-keys:` with every item commented out) means "default",
                # as it does for Go's decoder.
                if not _is_null(value_node):
                    out[key] = self.value(value_node, fields[key].type, child)
                    if key in _SECRET_KEYS:
                        self._walked.secrets.update(_secret_strings(key, out[key]))
            elif cls is OpenAICompatEntry and key == _LEGACY_API_KEYS:
                legacy = (value_node, child)
            elif is_unsupported(child):
                self._walked.ignored.append(child)
            else:
                raise WalkError(
                    child, _line(key_node), _unknown(key, [*fields, *unsupported_names_under(path)])
                )
        if legacy is not None:
            self._migrate_api_keys(out, *legacy, path)
        return out

    def _migrate_api_keys(
        self, entry: dict[str, Any], node: yaml.Node, path: str, parent: str
    ) -> None:
        """Fold the legacy plain `api-keys` list of a provider into `api-key-entries`."""
        if _is_null(node):
            return
        if not _is_seq(node):
            raise WalkError(path, _line(node), f"expected a list of keys, got {_kind(node)}")
        entries = entry.setdefault("api-key-entries", [])
        if not isinstance(entries, list):
            return  # msgspec reports the malformed `api-key-entries` itself
        entries_path = _join(parent, "api-key-entries")
        self._walked.lines.setdefault(entries_path, self._walked.lines[path])
        known = {item.get("api-key") for item in entries if isinstance(item, dict)}
        for index, item in enumerate(node.value):
            if not _is_text(item):
                raise WalkError(f"{path}[{index}]", _line(item), "expected a string key")
            self._walked.secrets.add(item.value)
            if item.value not in known:
                known.add(item.value)
                self._walked.lines[f"{entries_path}[{len(entries)}]"] = _line(item)
                entries.append({"api-key": item.value})

    def _pairs(self, node: yaml.MappingNode, path: str) -> list[tuple[yaml.Node, yaml.Node]]:
        """The mapping's pairs with `<<` merges applied; a key written twice is an error."""
        seen: set[str] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self._key(key_node, path)
            if key in seen:
                raise WalkError(_join(path, key), _line(key_node), "duplicate key")
            seen.add(key)
        # Merged keys come first, so a key written out overrides the merged one.
        self._guarded(lambda: self._loader.flatten_mapping(node), node, path)
        return list(node.value)

    def _key(self, node: yaml.Node, path: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or _is_null(node):
            raise WalkError(path, _line(node), "keys must be plain strings")
        return str(node.value)

    def _construct(self, node: yaml.Node, path: str) -> Any:
        return self._guarded(lambda: self._loader.construct_object(node, deep=True), node, path)

    def _guarded(self, step: Callable[[], Any], node: yaml.Node, path: str) -> Any:
        """Run a PyYAML step, turning its error into a WalkError at `path`."""
        try:
            return step()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else _line(node)
            raise WalkError(path, line, str(exc.problem or exc.context)) from None


def _unknown(key: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(key, candidates, n=1)
    return f"unknown key (did you mean {close[0]}?)" if close else "unknown key"
