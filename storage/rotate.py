"""Re-encrypting a remote backend under the current store key (``aiproxyapi store rotate-key``).

The backend is chosen from the environment exactly as the gateway chooses it. Every document
that is still plain text or under one of ``AIPROXYAPI_STORE_OLD_KEYS`` is rewritten under
``AIPROXYAPI_STORE_KEY``, straight to the backend: running gateways see the rewrite as a
change, read it back with either key and find the same plain bytes, so nothing reloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from storage.base import StoreError
from storage.crypto import KEY_ENV, EncryptedStore
from storage.mirror import MirroredStore
from storage.select import store_from_env

__all__ = ["rotate_from_env"]


async def rotate_from_env(
    environ: Mapping[str, str], *, auth_dir: Path, config_path: Path
) -> tuple[int, str]:
    """Rewrite what needs the current key; (documents rewritten, backend description)."""
    store, where = store_from_env(environ, auth_dir=auth_dir, config_path=config_path)
    if not isinstance(store, MirroredStore):
        raise StoreError("the file backend is not encrypted; nothing to rotate")
    backend = store.backend
    if not isinstance(backend, EncryptedStore):
        raise StoreError(
            f"{KEY_ENV} is not set; set the new key there and the old one in "
            "AIPROXYAPI_STORE_OLD_KEYS"
        )
    state_keys = await store.mirror.state_keys()
    await backend.start()
    try:
        return await backend.rotate(state_keys), where
    finally:
        await backend.close()
