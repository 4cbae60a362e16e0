"""What every part of the Chat codec shares: the extras convention, strict conversion, data URLs.

Extras convention: a node's ``extras["openai"]`` holds the raw Chat fields the canonical node has
no slot for, written back verbatim when encoding to Chat; under its ``"_chat"`` key sit the
codec's own marks (which field or role the client used), never written to the wire.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from aiproxyapi.canonical.model import Extras
from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.formats.dialect import Format

__all__ = [
    "DIALECT",
    "MARKS",
    "build_data_url",
    "chat_extras",
    "convert",
    "make_extras",
    "merged",
    "now",
    "parse_data_url",
    "sse",
    "unknown_fields",
    "with_prefix",
]

DIALECT = Format.OPENAI_CHAT.value
MARKS = "_chat"

T = TypeVar("T")

_MISSING = "Object missing required field `"


def chat_extras(extras: Extras) -> tuple[dict[str, Any], dict[str, Any]]:
    """The raw fields to restore and the codec's marks kept in a node's extras."""
    bag = extras.get(DIALECT)
    if not isinstance(bag, dict):
        return {}, {}
    marks = bag.get(MARKS)
    raw = {key: value for key, value in bag.items() if key != MARKS}
    return raw, marks if isinstance(marks, dict) else {}


def make_extras(raw: Mapping[str, Any], marks: Mapping[str, Any] | None = None) -> Extras:
    """An extras bag holding raw Chat fields and marks (empty when there is nothing to keep)."""
    bag: dict[str, Any] = dict(raw)
    if marks:
        bag[MARKS] = dict(marks)
    return {DIALECT: bag} if bag else {}


def unknown_fields(raw: Any, struct: type[msgspec.Struct], *also: str) -> dict[str, Any]:
    """The keys of a raw object that a wire Struct does not declare (nor its tag field)."""
    if not isinstance(raw, dict):
        return {}
    known = set(struct.__struct_fields__) | set(also)
    return {key: value for key, value in raw.items() if key not in known}


def convert(value: Any, kind: type[T], path: str = "") -> T:
    """`value` as a wire type; a mismatch is the client's TranslationError naming the path."""
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        reason, _, where = str(exc).partition(" - at `$")
        param = path + where.rstrip("`")
        if reason.startswith(_MISSING):
            param += "." + reason[len(_MISSING) :].rstrip("`")
        param = param.lstrip(".")
        raise TranslationError(f"`{param}`: {reason}" if param else reason, param or None) from None


def with_prefix(value: str, prefix: str) -> str:
    """An id in a dialect's style: `value` with `prefix` unless it already has it."""
    if not value:
        value = uuid.uuid4().hex
    return value if value.startswith(prefix) else prefix + value


def parse_data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a base64 `data:` URL, or None for anything else."""
    if not url.startswith("data:"):
        return None
    header, comma, data = url[5:].partition(",")
    params = header.split(";")
    if not comma or "base64" not in params[1:]:
        return None
    return params[0], data


def build_data_url(media_type: str, data: str) -> str:
    """A base64 `data:` URL."""
    return f"data:{media_type};base64,{data}"


def now() -> int:
    """Unix seconds, for answers whose source gave no creation time."""
    return int(time.time())


def sse(payload: Any) -> bytes:
    """One Chat stream event: a `data:` line and the blank line that ends it."""
    return b"data: " + msgspec.json.encode(payload) + b"\n\n"


def merged(out: dict[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    """`out` with the raw fields kept from the source added, never overriding what it says."""
    for key, value in raw.items():
        out.setdefault(key, value)
    return out
