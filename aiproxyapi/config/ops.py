"""The operations sections of config.yaml: TLS, metrics, request logs, log format, shutdown.

`tls` keeps CLIProxyAPI's key names; the rest are this gateway's own. The checks on the
top-level keys of this group live in `check_ops`, which `Config.__post_init__` calls.
"""

from __future__ import annotations

import math
from typing import Protocol

import msgspec

__all__ = ["LOG_FORMATS", "METRICS_ACCESS", "Metrics", "Tls", "check_ops"]

LOG_FORMATS = ("text", "json")
METRICS_ACCESS = ("local", "client-key")


class _Section(
    msgspec.Struct, frozen=True, kw_only=True, rename="kebab", forbid_unknown_fields=True
):
    """Base of the sections here: kebab-case keys, immutable, unknown keys refused."""


class Tls(_Section, frozen=True):
    """The `tls` section: serve HTTPS directly with this certificate chain and private key."""

    enable: bool = False
    cert: str = ""
    """PEM certificate chain (leaf first); a relative path is read from the working directory."""
    key: str = ""
    """PEM private key of the certificate."""

    def __post_init__(self) -> None:
        if self.enable and not (self.cert.strip() and self.key.strip()):
            raise ValueError("`cert` and `key` are both required when `enable` is true")


class Metrics(_Section, frozen=True):
    """The `metrics` section: the Prometheus endpoint at /metrics."""

    enable: bool = True
    access: str = "local"
    """`local`: loopback callers only; `client-key`: loopback callers, or any caller with a client key."""

    def __post_init__(self) -> None:
        if self.access not in METRICS_ACCESS:
            raise ValueError(f"`access` is one of: {', '.join(METRICS_ACCESS)}")


class _OpsFields(Protocol):
    @property
    def log_format(self) -> str: ...
    @property
    def logs_max_total_size_mb(self) -> int: ...
    @property
    def error_logs_max_files(self) -> int: ...
    @property
    def shutdown_timeout_seconds(self) -> float: ...


def check_ops(config: _OpsFields) -> None:
    """Validate the top-level operations keys of a config; ValueError names the key."""
    if config.log_format not in LOG_FORMATS:
        raise ValueError(f"`log-format` is one of: {', '.join(LOG_FORMATS)}")
    if config.logs_max_total_size_mb < 0:
        raise ValueError("`logs-max-total-size-mb` must not be negative (0 means no limit)")
    if config.error_logs_max_files < 0:
        raise ValueError("`error-logs-max-files` must not be negative")
    timeout = config.shutdown_timeout_seconds
    if not math.isfinite(timeout) or timeout < 0:
        raise ValueError("`shutdown-timeout-seconds` must be a non-negative number")
