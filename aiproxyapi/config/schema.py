"""The typed tree of config.yaml: CLIProxyAPI's key names, decoded by msgspec.

Every struct is frozen, so a loaded config can be shared by every request of a runtime
snapshot without copying. Cross-field checks live in ``__post_init__`` and raise ``ValueError``,
which msgspec turns into an error carrying the key path.
"""

from __future__ import annotations

import enum

import msgspec

from aiproxyapi.config._node import _Node
from aiproxyapi.config.client_keys import ClientKeyPolicy
from aiproxyapi.config.features import Cache, Conversations
from aiproxyapi.config.management import RemoteManagement
from aiproxyapi.config.oauth import OAuthModelAlias, QuotaExceeded, channel_of
from aiproxyapi.config.ops import Metrics, Tls, check_ops
from aiproxyapi.config.pricing import ModelPrice, preset_base_url
from aiproxyapi.config.redis import Redis

__all__ = [
    "Config",
    "Limits",
    "ModelAlias",
    "OpenAICompatEntry",
    "OpenAICompatKey",
    "ProviderKeyEntry",
    "Routing",
    "RoutingStrategy",
    "Streaming",
    "Timeouts",
]


class RoutingStrategy(enum.Enum):
    """How a credential is chosen within one priority tier."""

    ROUND_ROBIN = "round-robin"
    FILL_FIRST = "fill-first"
    WEIGHTED_ROUND_ROBIN = "weighted-round-robin"
    CHEAPEST = "cheapest"


_STRATEGY_ALIASES: dict[str, RoutingStrategy] = {
    "round-robin": RoutingStrategy.ROUND_ROBIN,
    "roundrobin": RoutingStrategy.ROUND_ROBIN,
    "rr": RoutingStrategy.ROUND_ROBIN,
    "": RoutingStrategy.ROUND_ROBIN,
    "fill-first": RoutingStrategy.FILL_FIRST,
    "fillfirst": RoutingStrategy.FILL_FIRST,
    "ff": RoutingStrategy.FILL_FIRST,
    "weighted-round-robin": RoutingStrategy.WEIGHTED_ROUND_ROBIN,
    "weightedroundrobin": RoutingStrategy.WEIGHTED_ROUND_ROBIN,
    "wrr": RoutingStrategy.WEIGHTED_ROUND_ROBIN,
    "cheapest": RoutingStrategy.CHEAPEST,
}


class Routing(_Node, frozen=True):
    """The `routing` section."""

    strategy: str = "round-robin"

    def __post_init__(self) -> None:
        if self.strategy.strip().lower() not in _STRATEGY_ALIASES:
            choices = ", ".join(sorted(k for k in _STRATEGY_ALIASES if k))
            raise ValueError(f"unknown routing strategy {self.strategy!r} (one of: {choices})")

    @property
    def resolved_strategy(self) -> RoutingStrategy:
        """The strategy with its short aliases folded in."""
        return _STRATEGY_ALIASES[self.strategy.strip().lower()]


class ModelAlias(_Node, frozen=True):
    """One `models[]` item: the upstream `name` and the `alias` clients ask for."""

    name: str
    alias: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("model `name` must not be empty")

    @property
    def client_name(self) -> str:
        """The name a client uses: the alias when there is one."""
        return self.alias.strip() or self.name.strip()


class OpenAICompatKey(_Node, frozen=True):
    """One `api-key-entries[]` item of an OpenAI-compatible provider."""

    api_key: str
    proxy_url: str = ""
    weight: int = 1

    def __post_init__(self) -> None:
        if not self.api_key.strip():
            raise ValueError("`api-key` must not be empty")
        _check_weight(self.weight)


class OpenAICompatEntry(_Node, frozen=True):
    """One `openai-compatibility[]` provider: a base URL shared by several keys."""

    name: str
    base_url: str = ""
    """Required unless `name` is a preset (openai, openrouter, mistral, xai, deepseek, groq)."""
    api_key_entries: tuple[OpenAICompatKey, ...] = ()
    prefix: str = ""
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    models: tuple[ModelAlias, ...] = ()
    excluded_models: tuple[str, ...] = ()
    priority: int = 0
    disabled: bool = False

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("`name` must not be empty")
        if not self.base_url and not preset_base_url(self.name):
            raise ValueError(f"`base-url` is required: {self.name!r} is not a provider preset")
        if self.base_url:
            _check_base_url(self.base_url)
        _check_prefix(self.prefix)
        _check_headers(self.headers)

    @property
    def resolved_base_url(self) -> str:
        """The base URL as written, else the preset's."""
        return self.base_url or preset_base_url(self.name)


class ProviderKeyEntry(_Node, frozen=True):
    """One item of `claude-api-key`, `gemini-api-key`, `codex-api-key` or `vertex-api-key`."""

    api_key: str
    base_url: str = ""
    proxy_url: str = ""
    prefix: str = ""
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    models: tuple[ModelAlias, ...] = ()
    excluded_models: tuple[str, ...] = ()
    priority: int = 0
    weight: int = 1

    def __post_init__(self) -> None:
        if not self.api_key.strip():
            raise ValueError("`api-key` must not be empty")
        if self.base_url:
            _check_base_url(self.base_url)
        _check_prefix(self.prefix)
        _check_headers(self.headers)
        _check_weight(self.weight)


class Limits(_Node, frozen=True):
    """The `limits` section: bounds on what a client may send."""

    max_body_mb: float = 32.0
    header_timeout_seconds: float = 30.0
    """A client must send a request's whole header block within this time, or is cut off."""
    client_idle_seconds: float = 120.0
    """A client that reads nothing of a response for this long is cut off."""
    body_timeout_seconds: float = 60.0
    """A client must send a request's whole body within this time after its headers."""

    def __post_init__(self) -> None:
        if self.max_body_mb <= 0:
            raise ValueError("`max-body-mb` must be positive")
        if (
            min(self.header_timeout_seconds, self.client_idle_seconds, self.body_timeout_seconds)
            <= 0
        ):
            raise ValueError(
                "`header-timeout-seconds`, `body-timeout-seconds` and `client-idle-seconds`"
                " must be positive"
            )

    @property
    def max_body_bytes(self) -> int:
        """The body limit in bytes."""
        return int(self.max_body_mb * 1024 * 1024)


class Timeouts(_Node, frozen=True):
    """The `timeouts` section: how long the gateway waits on an upstream."""

    connect_seconds: float = 10.0
    idle_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.connect_seconds <= 0 or self.idle_seconds <= 0:
            raise ValueError("timeouts must be positive")


class Streaming(_Node, frozen=True):
    """The `streaming` section."""

    keepalive_seconds: float = 0.0
    """Send the client's dialect keep-alive after this many silent seconds; 0 turns it off."""

    def __post_init__(self) -> None:
        if self.keepalive_seconds < 0:
            raise ValueError("`keepalive-seconds` must not be negative")


class Config(_Node, frozen=True):
    """The whole config.yaml."""

    host: str = ""
    port: int = 8317
    auth_dir: str = "~/.cli-proxy-api"
    client_keys: tuple[str | ClientKeyPolicy, ...] = msgspec.field(default=(), name="api-keys")
    """`api-keys`: plain keys or keys with a policy; `api_keys` gives the key strings."""
    debug: bool = False
    logging_to_file: bool = False
    usage_statistics_enabled: bool = False
    proxy_url: str = ""
    allow_private_upstreams: tuple[str, ...] = ()
    """Hosts and networks upstream URLs may point at although private or local (see egress)."""
    request_retry: int = 3
    max_retry_interval: int = 30
    max_retry_credentials: int = 0
    disable_cooling: bool = False
    transient_error_cooldown_seconds: int = 0
    auth_auto_refresh_workers: int = 16
    routing: Routing = msgspec.field(default_factory=Routing)
    limits: Limits = msgspec.field(default_factory=Limits)
    timeouts: Timeouts = msgspec.field(default_factory=Timeouts)
    streaming: Streaming = msgspec.field(default_factory=Streaming)
    cache: Cache = msgspec.field(default_factory=Cache)
    redis: Redis = msgspec.field(default_factory=Redis)
    """Shared state of several instances; in memory when `redis.url` is empty."""
    conversations: Conversations = msgspec.field(default_factory=Conversations)
    openai_compatibility: tuple[OpenAICompatEntry, ...] = ()
    claude_api_key: tuple[ProviderKeyEntry, ...] = ()
    gemini_api_key: tuple[ProviderKeyEntry, ...] = ()
    codex_api_key: tuple[ProviderKeyEntry, ...] = ()
    vertex_api_key: tuple[ProviderKeyEntry, ...] = ()
    pricing: dict[str, ModelPrice] = msgspec.field(default_factory=dict)
    remote_management: RemoteManagement = msgspec.field(default_factory=RemoteManagement)
    # Names older CLIProxyAPI releases used for the two remote-management keys.
    allow_remote_management: bool = False
    remote_management_key: str = ""
    tls: Tls = msgspec.field(default_factory=Tls)
    metrics: Metrics = msgspec.field(default_factory=Metrics)
    request_log: bool = False
    logs_max_total_size_mb: int = 0
    error_logs_max_files: int = 10
    log_format: str = "text"
    shutdown_timeout_seconds: float = 30.0
    oauth_model_alias: dict[str, tuple[OAuthModelAlias, ...]] = msgspec.field(default_factory=dict)
    oauth_model_mappings: dict[str, tuple[OAuthModelAlias, ...]] = msgspec.field(
        default_factory=dict
    )
    oauth_excluded_models: dict[str, tuple[str, ...]] = msgspec.field(default_factory=dict)
    quota_exceeded: QuotaExceeded = msgspec.field(default_factory=QuotaExceeded)

    def __post_init__(self) -> None:
        check_ops(self)
        if not 0 <= self.port <= 65535:
            raise ValueError("`port` must be between 0 and 65535")
        if self.request_retry < 0:
            raise ValueError("`request-retry` must not be negative")
        if self.max_retry_interval < 0:
            raise ValueError("`max-retry-interval` must not be negative")
        if self.max_retry_credentials < 0:
            raise ValueError("`max-retry-credentials` must not be negative")
        if self.transient_error_cooldown_seconds < -1:
            raise ValueError("`transient-error-cooldown-seconds` is -1 (off), 0 (60 s) or more")
        if not 1 <= self.auth_auto_refresh_workers <= 256:
            raise ValueError("`auth-auto-refresh-workers` must be between 1 and 256")
        keys = self.api_keys
        if any(not key.strip() for key in keys):
            raise ValueError("`api-keys` must not contain an empty key")
        if len(set(keys)) != len(keys):
            raise ValueError("`api-keys` lists the same key twice")
        names = [entry.name for entry in self.openai_compatibility]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate openai-compatibility name(s): {', '.join(duplicates)}")

    def channel_aliases(self, channel: str) -> tuple[OAuthModelAlias, ...]:
        """The aliases of one OAuth channel (`oauth-model-alias`, else `oauth-model-mappings`)."""
        for section in (self.oauth_model_alias, self.oauth_model_mappings):
            for name, aliases in section.items():
                if channel_of(name) == channel:
                    return aliases
        return ()

    def channel_excluded(self, channel: str) -> tuple[str, ...]:
        """The `oauth-excluded-models` patterns of one OAuth channel."""
        found: list[str] = []
        for name, patterns in self.oauth_excluded_models.items():
            if channel_of(name) == channel:
                found.extend(patterns)
        return tuple(found)

    @property
    def management(self) -> RemoteManagement:
        """`remote-management` with the legacy top-level keys folded in."""
        section = self.remote_management
        if not (self.remote_management_key or self.allow_remote_management):
            return section
        return msgspec.structs.replace(
            section,
            secret_key=section.secret_key or self.remote_management_key,
            allow_remote=section.allow_remote or self.allow_remote_management,
        )

    @property
    def api_keys(self) -> tuple[str, ...]:
        """The client key strings, whichever form their `api-keys` entries take."""
        return tuple(e if isinstance(e, str) else e.key for e in self.client_keys)

    @property
    def key_policies(self) -> tuple[ClientKeyPolicy, ...]:
        """Every client key as a policy (a plain key is a policy without limits)."""
        return tuple(ClientKeyPolicy(key=e) if isinstance(e, str) else e for e in self.client_keys)

    @property
    def transient_cooldown(self) -> float:
        """Seconds a transient upstream failure cools a credential (0 when off)."""
        if self.transient_error_cooldown_seconds == -1:
            return 0.0
        return float(self.transient_error_cooldown_seconds or 60)


def _check_weight(weight: int) -> None:
    if not 0 <= weight <= 1_000_000:
        raise ValueError("`weight` must be between 0 and 1000000")


def _check_base_url(url: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise ValueError("`base-url` must start with http:// or https://")
    if any(ch in url for ch in "\r\n\t "):
        raise ValueError("`base-url` must not contain white space")


def _check_prefix(prefix: str) -> None:
    if prefix and (prefix != prefix.strip() or "/" in prefix.strip("/")):
        raise ValueError("`prefix` is a single word without `/` or spaces")


def _check_headers(headers: dict[str, str]) -> None:
    for name, value in headers.items():
        if not name or any(ch in name for ch in "\r\n: ") or any(ch in value for ch in "\r\n"):
            raise ValueError(f"header {name!r} has a forbidden character")
