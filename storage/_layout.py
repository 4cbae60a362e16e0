"""Where each document lives inside a repository or a bucket: one layout for Git and S3.

``config/config.yaml`` holds the config document, ``auths/<name>`` one auth record each and
``state/<key>`` one state document each. :func:`locate` turns a document into its relative
path; :func:`identify` turns a path seen in a diff or a listing back into a :class:`Change`,
ignoring anything that is not one of ours (a README, a temp file, an unsafe name).
"""

from __future__ import annotations

from storage.base import Change, ChangeKind, StoreError, check_name

__all__ = ["AUTH_DIR", "CONFIG_PATH", "STATE_DIR", "identify", "locate"]

CONFIG_PATH = "config/config.yaml"
AUTH_DIR = "auths/"
STATE_DIR = "state/"
_DIRS = {ChangeKind.AUTH: AUTH_DIR, ChangeKind.STATE: STATE_DIR}


def locate(kind: ChangeKind, name: str = "") -> str:
    """The relative path of one document (the name is checked first)."""
    if kind is ChangeKind.CONFIG:
        return CONFIG_PATH
    return _DIRS[kind] + check_name(name)


def identify(path: str, *, deleted: bool = False) -> Change | None:
    """The change a relative path stands for, or None when the path is not a document."""
    if path == CONFIG_PATH:
        return Change(ChangeKind.CONFIG, deleted=deleted)
    for kind, prefix in _DIRS.items():
        if path.startswith(prefix):
            try:
                return Change(kind, check_name(path[len(prefix) :]), deleted)
            except StoreError:
                return None
    return None
