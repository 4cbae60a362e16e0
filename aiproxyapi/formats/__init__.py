"""Dialect codecs: the wire formats clients speak and upstreams answer in.

The support matrix on one screen: every `Format` has one codec module with the same contract
(`formats.codec.Codec`), and any pair of them translates through the canonical model. Codecs are
pure and synchronous; they import only the standard library, msgspec, `canonical` and each
other. Modules load on first use, so importing this package costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from aiproxyapi.formats.dialect import Format

if TYPE_CHECKING:
    from aiproxyapi.formats.codec import Codec

__all__ = ["Format", "codec_for"]

_CODEC_MODULES: dict[Format, str] = {
    Format.OPENAI_CHAT: "aiproxyapi.formats.openai_chat",
    Format.OPENAI_RESPONSES: "aiproxyapi.formats.openai_responses",
    Format.CLAUDE: "aiproxyapi.formats.claude",
    Format.GEMINI: "aiproxyapi.formats.gemini",
}


_CODECS: dict[Format, Codec] = {}


def codec_for(dialect: Format) -> Codec:
    """The codec of a dialect (its module imported on first use)."""
    codec = _CODECS.get(dialect)
    if codec is None:
        codec = _CODECS[dialect] = importlib.import_module(_CODEC_MODULES[dialect]).CODEC
    return codec
