"""config.yaml -> the typed ``Config`` tree: the bottom layer of the gateway.

Every other part reads its settings from the ``Config`` this package returns; the package
itself imports nothing else of the project (only the standard library, msgspec and PyYAML).
``load_config`` reads a file, ``parse_config`` decodes text; both raise ``ConfigError`` naming
the key path and line, and report CLIProxyAPI keys that are not supported yet as warnings.
"""

from aiproxyapi.config.load import ConfigError, LoadedConfig, load_config, parse_config
from aiproxyapi.config.management import RemoteManagement, is_bcrypt_hash
from aiproxyapi.config.oauth import OAUTH_CHANNELS, OAuthModelAlias, QuotaExceeded, channel_of
from aiproxyapi.config.pricing import PRESET_BASE_URLS, ModelPrice, preset_base_url
from aiproxyapi.config.redis import Redis
from aiproxyapi.config.schema import (
    Config,
    Limits,
    ModelAlias,
    OpenAICompatEntry,
    OpenAICompatKey,
    ProviderKeyEntry,
    Routing,
    RoutingStrategy,
    Streaming,
    Timeouts,
)

__all__ = [
    "OAUTH_CHANNELS",
    "PRESET_BASE_URLS",
    "Config",
    "ConfigError",
    "Limits",
    "LoadedConfig",
    "ModelAlias",
    "ModelPrice",
    "OAuthModelAlias",
    "OpenAICompatEntry",
    "OpenAICompatKey",
    "ProviderKeyEntry",
    "QuotaExceeded",
    "Redis",
    "RemoteManagement",
    "Routing",
    "RoutingStrategy",
    "Streaming",
    "Timeouts",
    "channel_of",
    "is_bcrypt_hash",
    "load_config",
    "parse_config",
    "preset_base_url",
]
