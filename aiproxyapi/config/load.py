"""Load config.yaml into the typed tree, with errors that name the key path and the line.

The steps: PyYAML composes the node tree (safe loader only), ``_walk`` turns it into plain
data while recording each key's line, dropping known-but-unsupported CLIProxyAPI keys with a
warning and refusing unknown ones, then ``msgspec.convert`` types and validates it.

No message ever carries a configured value: type errors name types only, and as a second guard
every secret seen in the file is masked out of any message before it leaves this module.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import msgspec
import yaml

from aiproxyapi.config._walk import Walked, WalkError, walk_document
from aiproxyapi.config.schema import Config

__all__ = ["ConfigError", "LoadedConfig", "load_config", "parse_config"]

_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<key>[^`]+)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<key>[^`]+)`$")
# schema.py's __post_init__ messages open with the key they are about, e.g. "`weight` must ...".
_KEY_FIRST = re.compile(r"^`(?P<key>[a-z0-9-]+)`")
# Short secrets are left alone: masking them would garble ordinary words in messages.
_MIN_MASKED = 6


class ConfigError(Exception):
    """config.yaml cannot be used; says where (source, line, key path) and why."""

    def __init__(
        self, message: str, *, path: str = "", line: int | None = None, source: str = "<config>"
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.source = source
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {path}: {message}" if path else f"{where}: {message}")


class LoadedConfig(msgspec.Struct, frozen=True):
    """A decoded config, the warnings it produced, and the digest of the text it came from."""

    config: Config
    warnings: tuple[str, ...]
    digest: str


def load_config(path: Path) -> LoadedConfig:
    """Read and decode the config file at `path`."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}", source=source) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError("the file is not valid UTF-8", line=line, source=source) from None
    return _decode(text, source, hashlib.sha256(raw).hexdigest())


def parse_config(text: str, source: str = "<config>") -> LoadedConfig:
    """Decode config text; `source` names it in messages."""
    return _decode(text, source, hashlib.sha256(text.encode()).hexdigest())


def _decode(text: str, source: str, digest: str) -> LoadedConfig:
    walked = _walk(text, source)
    try:
        config = msgspec.convert(walked.data, Config)
    except msgspec.ValidationError as exc:
        raise _from_validation(str(exc), walked, source) from None
    warnings = tuple(
        f"{source}:{walked.lines[path]}: {path}: known CLIProxyAPI key, not supported yet; ignored"
        for path in walked.ignored
    )
    return LoadedConfig(config=config, warnings=warnings, digest=digest)


def _walk(text: str, source: str) -> Walked:
    try:
        loader = yaml.SafeLoader(text)  # checks the whole text for unprintable characters
    except yaml.reader.ReaderError as exc:
        message = f"unacceptable character #x{exc.character:04x}"  # PyYAML gives its code
        at = text[: exc.position].count("\n") + 1
        raise ConfigError(message, line=at, source=source) from None
    try:
        walked = walk_document(loader.get_single_node(), loader)
    except WalkError as exc:
        raise ConfigError(exc.message, path=exc.path, line=exc.line, source=source) from None
    except yaml.MarkedYAMLError as exc:
        # PyYAML's own str() quotes the offending source line, which may hold a secret; keep
        # only the problem and the line number.
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(_yaml_problem(exc), line=line, source=source) from None
    finally:
        loader.dispose()
    return walked


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    """PyYAML's context and problem as one phrase, e.g. "while parsing a block mapping: ..."."""
    context, problem = exc.context or "", exc.problem or ""
    if context and problem:
        joined = f"{context}: {problem}" if context.startswith("while") else f"{context} {problem}"
    else:
        joined = context or problem or "cannot parse"
    return f"YAML syntax error: {joined}"


def _from_validation(error: str, walked: Walked, source: str) -> ConfigError:
    """Turn msgspec's `message - at `$.a[0].b`` into our path, line and wording."""
    found = _AT.match(error)
    assert found is not None  # the pattern matches any text
    message, path = found["message"], (found["path"] or "").removeprefix(".")
    if missing := _MISSING.match(message):
        path, message = _child(path, missing["key"]), "missing required key"
    elif unknown := _UNKNOWN.match(message):
        path, message = _child(path, unknown["key"]), "unknown key"
    elif message.startswith("Expected "):
        message = "expected " + message.removeprefix("Expected ").replace("`", "")
    elif (first := _KEY_FIRST.match(message)) and _child(path, first["key"]) in walked.lines:
        path = _child(path, first["key"])
    message = _mask(message, walked.secrets)
    return ConfigError(message, path=path, line=_line_of(path, walked.lines), source=source)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _line_of(path: str, lines: dict[str, int]) -> int | None:
    """The line of `path`, or of its nearest parent that has one."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[: max(cut, 0)]
    return None


def _mask(message: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= _MIN_MASKED:
            message = message.replace(secret, "***")
    return message
