"""Choosing the storage backend from the environment, as CLIProxyAPI does.

Precedence: PostgreSQL > S3 (object store) > Git > file (the default). Variables (each also
accepted lower-case; the older spelling after "or"):

* PostgreSQL: ``PGSTORE_DSN`` (selects it), ``PGSTORE_SCHEMA`` (``public``),
  ``PGSTORE_LOCAL_PATH`` (mirror under ``<path>/pgstore``; default the working directory).
* S3: ``OBJECTSTORE_ENDPOINT`` or ``OBJSTORE_ENDPOINT``, ``OBJECTSTORE_BUCKET`` (either
  selects it), ``OBJECTSTORE_ACCESS_KEY``, ``OBJECTSTORE_SECRET_KEY``, ``OBJECTSTORE_REGION``,
  ``OBJECTSTORE_PREFIX``, ``OBJECTSTORE_LOCAL_PATH`` (``<path>/objectstore``); every one also
  as ``OBJSTORE_*``.
* Git: ``GITSTORE_GIT_URL`` or ``GITSTORE_REMOTE_URL`` (selects it), ``GITSTORE_GIT_USERNAME``
  or ``GITSTORE_USER``, ``GITSTORE_GIT_TOKEN`` or ``GITSTORE_PASSWORD``,
  ``GITSTORE_GIT_BRANCH``, ``GITSTORE_LOCAL_PATH`` (``<path>/gitstore``).
* All remote backends: ``AIPROXYAPI_STORE_TIMEOUT`` (seconds per call) and the encryption
  keys of :mod:`storage.crypto`; Git and S3 also ``AIPROXYAPI_STORE_POLL_INTERVAL`` (seconds
  between two cheap change checks, default 5).

A remote backend is wrapped in :class:`~storage.crypto.EncryptedStore` when a key is set and
always served through a :class:`~storage.mirror.MirroredStore`, seeded from the operator's
local config and auth dir when the backend is empty. Backends load lazily from
:data:`BACKENDS`, so asyncpg, boto3 and git are only imported when chosen.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import tempfile
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from storage.base import Store, StoreError
from storage.crypto import EncryptedStore, key_from_env
from storage.file import FileStore
from storage.mirror import MirroredStore

__all__ = ["BACKENDS", "load_backend", "safe_url", "store_from_env", "store_secrets"]

log = logging.getLogger("aiproxyapi.storage")

#: Backend name -> "module:Class", imported only when the backend is chosen.
BACKENDS: dict[str, str] = {
    "file": "storage.file:FileStore",
    "postgres": "storage.postgres:PostgresStore",
    "s3": "storage.s3:S3Store",
    "git": "storage.git:GitStore",
}


def load_backend(name: str) -> Callable[..., Store]:
    """The Store class registered under ``name``; StoreError when it cannot be imported."""
    try:
        module_name, _, class_name = BACKENDS[name].partition(":")
    except KeyError:
        raise StoreError(
            f"unknown storage backend {name!r}; known: {', '.join(BACKENDS)}"
        ) from None
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise StoreError(f"the {name} storage backend is not available: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Store)):
        raise StoreError(f"{BACKENDS[name]} is not a Store")
    return cls


def safe_url(url: str) -> str:
    """A URL for logs: user, password and query string removed."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", "")) if host else "(url)"


def _get(environ: Mapping[str, str], *names: str) -> str:
    for name in names:
        for spelling in (name, name.lower()):
            value = environ.get(spelling, "").strip()
            if value:
                return value
    return ""


def _local_root(configured: str, leaf: str) -> Path:
    """``<configured or cwd>/<leaf>``, or under the temp dir when that is not writable."""
    base = Path(configured).expanduser() if configured else Path.cwd()
    root = base / leaf
    probe = root if root.exists() else base
    if probe.exists() and not os.access(probe, os.W_OK):
        root = Path(tempfile.gettempdir()) / leaf
        log.warning("storage: %s is not writable; keeping the local mirror in %s", base, root)
    return root.absolute()


def store_secrets(environ: Mapping[str, str]) -> list[str]:
    """Every secret the storage variables carry, for the log scrubber (never logged)."""
    found = [
        _get(environ, "GITSTORE_GIT_TOKEN", "GITSTORE_PASSWORD"),
        _get(environ, "OBJECTSTORE_SECRET_KEY", "OBJSTORE_SECRET_KEY"),
        _get(environ, "AIPROXYAPI_STORE_KEY"),
        *_get(environ, "AIPROXYAPI_STORE_OLD_KEYS").split(","),
    ]
    for url in (
        _get(environ, "PGSTORE_DSN"),
        _get(environ, "GITSTORE_GIT_URL", "GITSTORE_REMOTE_URL"),
    ):
        if "://" in url:
            found.append(urllib.parse.unquote(urllib.parse.urlsplit(url).password or ""))
        else:
            found.extend(re.findall(r"password\s*=\s*'?([^\s']+)", url))
    return [item.strip() for item in found if item.strip()]


def store_from_env(
    environ: Mapping[str, str], *, auth_dir: Path, config_path: Path
) -> tuple[Store, str]:
    """The store the environment asks for and a one-line description of it (no secrets)."""
    timeout_text = _get(environ, "AIPROXYAPI_STORE_TIMEOUT")
    try:
        timeout = float(timeout_text) if timeout_text else None
    except ValueError:
        raise StoreError(
            f"AIPROXYAPI_STORE_TIMEOUT must be seconds, not {timeout_text[:40]!r}"
        ) from None
    extra: dict[str, Any] = {"timeout": timeout} if timeout else {}
    poll_text = _get(environ, "AIPROXYAPI_STORE_POLL_INTERVAL")
    try:
        poll = {"poll_interval": float(poll_text)} if poll_text else {}
    except ValueError:
        raise StoreError(
            f"AIPROXYAPI_STORE_POLL_INTERVAL must be seconds, not {poll_text[:40]!r}"
        ) from None
    if dsn := _get(environ, "PGSTORE_DSN"):
        from storage.postgres import describe_dsn

        schema = _get(environ, "PGSTORE_SCHEMA") or "public"
        root = _local_root(_get(environ, "PGSTORE_LOCAL_PATH"), "pgstore")
        backend = load_backend("postgres")(dsn, schema, **extra)
        where = f"{describe_dsn(dsn)}, schema {schema}"
    elif (endpoint := _get(environ, "OBJECTSTORE_ENDPOINT", "OBJSTORE_ENDPOINT")) or _get(
        environ, "OBJECTSTORE_BUCKET", "OBJSTORE_BUCKET"
    ):
        bucket = _get(environ, "OBJECTSTORE_BUCKET", "OBJSTORE_BUCKET")
        if not bucket:
            raise StoreError("OBJECTSTORE_ENDPOINT is set but OBJECTSTORE_BUCKET is not")
        for option, names in (("region", "REGION"), ("prefix", "PREFIX")):
            if value := _get(environ, f"OBJECTSTORE_{names}", f"OBJSTORE_{names}"):
                extra[option] = value
        root = _local_root(
            _get(environ, "OBJECTSTORE_LOCAL_PATH", "OBJSTORE_LOCAL_PATH"), "objectstore"
        )
        backend = load_backend("s3")(
            endpoint,
            bucket,
            access_key=_get(environ, "OBJECTSTORE_ACCESS_KEY", "OBJSTORE_ACCESS_KEY"),
            secret_key=_get(environ, "OBJECTSTORE_SECRET_KEY", "OBJSTORE_SECRET_KEY"),
            **extra,
            **poll,
        )
        where = f"endpoint {safe_url(endpoint) if endpoint else '(default)'}, bucket {bucket}"
    elif url := _get(environ, "GITSTORE_GIT_URL", "GITSTORE_REMOTE_URL"):
        if branch := _get(environ, "GITSTORE_GIT_BRANCH"):
            extra["branch"] = branch
        root = _local_root(_get(environ, "GITSTORE_LOCAL_PATH"), "gitstore")
        backend = load_backend("git")(
            url,
            username=_get(environ, "GITSTORE_GIT_USERNAME", "GITSTORE_USER"),
            token=_get(environ, "GITSTORE_GIT_TOKEN", "GITSTORE_PASSWORD"),
            local_path=root / "repo",
            **extra,
            **poll,
        )
        where = f"{safe_url(url)}" + (f", branch {branch}" if branch else "")
    else:
        local = FileStore(auth_dir, config_path)
        return local, f"file (auth dir {local.auth_dir}, config {local.config_path})"

    keys = key_from_env(environ)
    if keys is not None:
        backend = EncryptedStore(backend, keys.current, old_keys=keys.old)
    else:
        log.warning(
            "storage: AIPROXYAPI_STORE_KEY is not set; config and auth records travel to the %s "
            "backend in plain text",
            backend.kind,
        )
    seed = FileStore(auth_dir, config_path)
    store = MirroredStore(backend, root, root / "outbox", seed=seed)
    encrypted = "encrypted" if keys is not None else "not encrypted"
    return store, f"{backend.kind} ({where}), {encrypted}, local mirror {root}"
