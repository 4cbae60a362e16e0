"""The one path every management change takes: edit the YAML, validate, write, reload.

The config file is edited as a round-trip document (ruamel.yaml), so comments, key order and
quoting survive. The new text is decoded by the gateway's own loader and assembled into a
runtime before anything is written; an invalid result writes nothing and answers 400/422 with
the loader's key path. A valid one is written atomically, the gateway reloads it, and the call
answers once the new runtime serves. Changes are serialised: two edits never interleave.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from aiproxyapi.access import UnsafeConfigError
from aiproxyapi.config import ConfigError, LoadedConfig, parse_config
from aiproxyapi.gateway import Gateway
from aiproxyapi.management._http import ManagementError
from aiproxyapi.management.destinations import check_config_destinations
from aiproxyapi.runtime import build_runtime
from storage.atomic import write_atomic_async
from storage.base import StoreError

if TYPE_CHECKING:
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

__all__ = ["ConfigEditor", "Document", "dump_document", "load_document"]

# ruamel.yaml loads with the first management edit, not at start-up.
Document: TypeAlias = "CommentedMap"

_SYNTAX_PREFIXES = ("YAML syntax error", "unacceptable character")


def _yaml() -> YAML:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # never fold a long value onto two lines
    return yaml


def load_document(text: str) -> Document:
    """The config text as an editable round-trip mapping; 400 invalid_yaml when it is not one."""
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    try:
        data = _yaml().load(text)
    except YAMLError as exc:
        problem = getattr(exc, "problem", None) or "cannot parse"
        raise ManagementError(400, "invalid_yaml", f"YAML syntax error: {problem}") from None
    if data is None:
        return CommentedMap()
    if not isinstance(data, CommentedMap):
        raise ManagementError(400, "invalid_yaml", "the document must be a mapping of keys")
    return data


def dump_document(document: Document) -> str:
    """The document as YAML text."""
    out = io.StringIO()
    _yaml().dump(document, out)
    return out.getvalue()


def _check(gateway: Gateway, text: str) -> LoadedConfig:
    """Decode and assemble `text` as a reload would, without swapping anything."""
    try:
        loaded = parse_config(text, "config.yaml")
    except ConfigError as exc:
        if exc.message.startswith(_SYNTAX_PREFIXES):
            raise ManagementError(400, "invalid_yaml", str(exc), line=exc.line) from None
        raise ManagementError(
            422, "invalid_config", str(exc), path=exc.path, line=exc.line
        ) from None
    try:
        build_runtime(loaded.config, state=gateway.state, clients=gateway.clients, generation=0)
    except (UnsafeConfigError, ValueError) as exc:
        raise ManagementError(422, "invalid_config", str(exc), path="") from None
    return loaded


class ConfigEditor:
    """Serialised, validated changes to the gateway's config file."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._lock = asyncio.Lock()

    async def read_text(self) -> str:
        """The config file as it is on disk now ("" when there is none yet)."""
        path = self._gateway.config_path
        if path is None:
            return ""
        try:
            raw = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return ""
        return raw.decode("utf-8-sig", errors="replace")

    async def read_document(self) -> Document:
        """The current config as a round-trip document."""
        return load_document(await self.read_text())

    async def edit(self, change: Callable[[Document], Any]) -> Any:
        """Apply `change` to the document and commit it; returns what `change` returned."""
        async with self._lock:
            before = await self.read_text()
            document = load_document(before)
            result = change(document)
            await self._commit(before, dump_document(document))
            return result

    async def replace(self, text: str) -> None:
        """Replace the whole file with `text` (comments as the caller wrote them)."""
        load_document(text)  # a YAML syntax error is told apart from an invalid config
        async with self._lock:
            await self._commit(await self.read_text(), text)

    async def _commit(self, before: str, after: str) -> None:
        if after == before:
            return
        loaded = _check(self._gateway, after)
        await check_config_destinations(before, loaded.config)
        await self._write(after)
        outcome = self._gateway.reload()
        if not outcome.applied and outcome.reason != "unchanged":
            # Checked above, so only a concurrent outside edit gets here: put the old text back.
            await self._write(before)
            self._gateway.reload()
            raise ManagementError(409, "reload_failed", outcome.reason)

    async def _write(self, text: str) -> None:
        gateway = self._gateway
        path = gateway.config_path
        if path is None:
            raise ManagementError(409, "no_config_file", "the gateway runs without a config file")
        data = text.encode()
        try:
            await gateway.store.write_config(data)
        except StoreError as exc:
            raise ManagementError(503, "write_failed", str(exc)) from None
        except OSError as exc:
            raise ManagementError(500, "write_failed", exc.strerror or "cannot write") from None
        # A remote store writes its own copy; the file the gateway reloads from must match.
        current = await asyncio.to_thread(_read_or_none, path)
        if current != data:
            await write_atomic_async(path, data)


def _read_or_none(path: Any) -> bytes | None:
    try:
        data: bytes = path.read_bytes()
    except FileNotFoundError:
        return None
    return data
