"""Storage: where everything that must survive a restart is kept.

Config, auth records (OAuth tokens, API keys) and state (usage totals, cooldowns) sit behind
one :class:`~storage.base.Store` contract, the spec in ``storage/base.py``. Backends: ``file``
(the default; CLIProxyAPI's auth-dir layout), ``postgres`` (asyncpg), ``git`` and ``s3``
(boto3). :func:`~storage.select.store_from_env` picks one from the environment; a remote
backend is wrapped in :class:`~storage.crypto.EncryptedStore` (AES-GCM at rest, when a key is
set) and served through :class:`~storage.mirror.MirroredStore` (a local mirror the file
watcher reads, and a durable outbox so a backend outage never loses a write). Every file is
written with :func:`~storage.atomic.write_atomic`.

Importing this package imports none of asyncpg, boto3 or git: backends load on first use.
"""

from storage.atomic import remove_stale_temps, write_atomic, write_atomic_async
from storage.base import Change, ChangeKind, Store, StoreError, StoreUnavailable, check_name
from storage.crypto import EncryptedStore, StoreKeyError, key_from_env
from storage.file import FileStore
from storage.mirror import MirroredStore, StoreHealth
from storage.select import BACKENDS, load_backend, store_from_env

__all__ = [
    "BACKENDS",
    "Change",
    "ChangeKind",
    "EncryptedStore",
    "FileStore",
    "MirroredStore",
    "Store",
    "StoreError",
    "StoreHealth",
    "StoreKeyError",
    "StoreUnavailable",
    "check_name",
    "key_from_env",
    "load_backend",
    "remove_stale_temps",
    "store_from_env",
    "write_atomic",
    "write_atomic_async",
]
