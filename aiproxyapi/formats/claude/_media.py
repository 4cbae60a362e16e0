"""Images and documents: Anthropic's sourced blocks ↔ canonical image and document parts.

Sources the hub cannot express (file ids of images, `content` documents, newer kinds) travel
verbatim in the part's `extras["claude"]["source"]`, so only Anthropic ever sees them again.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiproxyapi.canonical import DocumentPart, ImagePart
from aiproxyapi.formats.claude._fields import at, extras_of, opt_str, req_dict, req_str, with_extras
from aiproxyapi.formats.codec import TranslationError

__all__ = ["decode_document", "decode_image", "encode_document", "image_source"]

_SOURCED = frozenset({"type", "source"})
_DOCUMENT = frozenset({"type", "source", "title"})
# Anthropic takes these four image types; base64 openings tell them apart when none is given.
_MAGIC = {"/9j/": "image/jpeg", "iVBOR": "image/png", "R0lGOD": "image/gif", "UklGR": "image/webp"}


def decode_image(block: dict[str, Any], path: str) -> ImagePart:
    """The canonical part for an `image` block."""
    source = req_dict(block.get("source"), at(path, "source"))
    extras = extras_of(block, _SOURCED)
    kind = source.get("type")
    if kind == "base64":
        return ImagePart(
            media_type=req_str(source, "media_type", at(path, "source")),
            data=req_str(source, "data", at(path, "source")),
            extras=extras,
        )
    if kind == "url":
        return ImagePart(url=req_str(source, "url", at(path, "source")), extras=extras)
    # A file id or a newer source kind: only Anthropic can read it, so it travels verbatim.
    extras.setdefault("claude", {})["source"] = source
    return ImagePart(extras=extras)


def decode_document(block: dict[str, Any], path: str) -> DocumentPart:
    """The canonical part for a `document` block (plain text sources become base64 data)."""
    source = req_dict(block.get("source"), at(path, "source"))
    where = at(path, "source")
    extras = extras_of(block, _DOCUMENT)
    title = opt_str(block, "title", path) or ""
    kind = source.get("type")
    if kind == "base64":
        media = req_str(source, "media_type", where)
        return DocumentPart(
            media_type=media, data=req_str(source, "data", where), filename=title, extras=extras
        )
    if kind == "text":
        # The hub's inline data is always base64, so plain text is encoded on the way in.
        text = req_str(source, "data", where).encode()
        return DocumentPart(
            media_type=opt_str(source, "media_type", where) or "text/plain",
            data=base64.b64encode(text).decode(),
            filename=title,
            extras=extras,
        )
    if kind == "url":
        return DocumentPart(url=req_str(source, "url", where), filename=title, extras=extras)
    if kind == "file":
        file_id = req_str(source, "file_id", where)
        return DocumentPart(file_id=file_id, filename=title, extras=extras)
    extras.setdefault("claude", {})["source"] = source
    return DocumentPart(filename=title, extras=extras)


def image_source(part: ImagePart, path: str) -> dict[str, Any]:
    """The `source` field of an image block (empty when a verbatim source rides in extras)."""
    if part.data:
        media = part.media_type or _sniff(part.data)
        return {"source": {"type": "base64", "media_type": media, "data": part.data}}
    if part.url:
        return {"source": _url_source(part.url)}
    if _kept_source(part.extras):
        return {}
    raise TranslationError("an image needs inline data or a URL", path)


def encode_document(part: DocumentPart, path: str) -> dict[str, Any]:
    """The `document` block for a document part."""
    source: dict[str, Any] | None = None
    if part.data:
        source = _document_data(part.media_type, part.data)
    elif part.url:
        source = _url_source(part.url)
    elif part.file_id:
        source = {"type": "file", "file_id": part.file_id}
    elif not _kept_source(part.extras):
        raise TranslationError("a document needs inline data, a URL or a file id", path)
    block: dict[str, Any] = {"type": "document"}
    if source is not None:
        block["source"] = source
    if part.filename:
        block["title"] = part.filename
    return with_extras(block, part.extras)


def _kept_source(extras: dict[str, Any]) -> bool:
    own = extras.get("claude")
    return isinstance(own, dict) and "source" in own


def _document_data(media_type: str, data: str) -> dict[str, Any]:
    if media_type.startswith("text/"):
        # Anthropic reads plain text only from a `text` source, not from base64.
        try:
            text = base64.b64decode(data, validate=True).decode()
        except (binascii.Error, ValueError):
            pass
        else:
            return {"type": "text", "media_type": "text/plain", "data": text}
    return {"type": "base64", "media_type": media_type or "application/pdf", "data": data}


def _url_source(url: str) -> dict[str, Any]:
    header, comma, data = url.partition(",")
    if url.startswith("data:") and comma and header.endswith(";base64"):
        return {"type": "base64", "media_type": header[5:-7] or _sniff(data), "data": data}
    return {"type": "url", "url": url}


def _sniff(data: str) -> str:
    return next((media for magic, media in _MAGIC.items() if data.startswith(magic)), "image/png")
