"""Moving documents between two stores: one document of any kind, a seed, a snapshot.

The mirror (:mod:`storage.mirror`) keeps a local :class:`~storage.file.FileStore` in line with
a remote backend; these helpers are the kind-agnostic steps it is built from.
"""

from __future__ import annotations

from storage.base import ChangeKind, Store
from storage.file import FileStore

__all__ = ["Key", "read_document", "remote_snapshot", "seed", "write_document"]

#: A document's identity: its kind and name ("" for the config).
Key = tuple[ChangeKind, str]


async def read_document(store: Store, kind: ChangeKind, name: str) -> bytes | None:
    """One document of any kind from any store."""
    if kind is ChangeKind.CONFIG:
        return await store.read_config()
    if kind is ChangeKind.STATE:
        return await store.read_state(name)
    return await store.read_auth(name)


async def write_document(store: Store, kind: ChangeKind, name: str, data: bytes | None) -> None:
    """Write one document of any kind; None deletes an auth record (config and state stay)."""
    if kind is ChangeKind.CONFIG:
        if data is not None:
            await store.write_config(data)
    elif kind is ChangeKind.STATE:
        if data is not None:
            await store.write_state(name, data)
    elif data is None:
        await store.delete_auth(name)
    else:
        await store.write_auth(name, data)


async def has_content(store: Store) -> bool:
    """True when the store holds a config or at least one auth record."""
    return await store.read_config() is not None or bool(await store.list_auth())


async def seed(backend: Store, source: Store) -> int:
    """Copy the config, the auth records and (from a FileStore) the state; the count copied."""
    copied = 0
    config = await source.read_config()
    if config is not None:
        await backend.write_config(config)
        copied += 1
    for name, data in (await source.list_auth()).items():
        await backend.write_auth(name, data)
        copied += 1
    if isinstance(source, FileStore):
        for key in await source.state_keys():
            state = await source.read_state(key)
            if state is not None:
                await backend.write_state(key, state)
                copied += 1
    return copied


async def remote_snapshot(backend: Store, mirror: FileStore) -> dict[Key, bytes | None]:
    """What the mirror should hold: the backend's config and auth records, None for every
    mirrored auth record the backend no longer has, and the backend's copy of each mirrored
    state document (the contract cannot list state keys, so only known ones are pulled)."""
    wanted: dict[Key, bytes | None] = {(ChangeKind.CONFIG, ""): await backend.read_config()}
    for name, data in (await backend.list_auth()).items():
        wanted[(ChangeKind.AUTH, name)] = data
    for name in await mirror.list_auth():
        wanted.setdefault((ChangeKind.AUTH, name), None)
    for key in await mirror.state_keys():
        wanted[(ChangeKind.STATE, key)] = await backend.read_state(key)
    return wanted
