"""The runtime snapshot: one immutable view of config, pool and executors that a reload swaps.

A request reads `RuntimeHolder.current` once and keeps that snapshot to its end, so a reload
never changes the rules under a request in flight. Long-lived state (cooldowns, counters, HTTP
connections) lives outside the snapshot and is handed to each new one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiproxyapi.access import ClientKeys, check_access_safety
from aiproxyapi.accounts import AccountBook, oauth_credentials
from aiproxyapi.config import Config
from aiproxyapi.credential import Credential, ProviderKind
from aiproxyapi.egress import EgressPolicy
from aiproxyapi.executors import Executor, build_executors
from aiproxyapi.executors.http import HttpClients
from aiproxyapi.pool import Dispatcher, PoolState, RetryPolicy, credentials_from_config
from aiproxyapi.routing import Candidate, ModelRegistry
from aiproxyapi.usage.pricing import PriceTable

__all__ = ["Runtime", "RuntimeHolder", "build_runtime"]

log = logging.getLogger("aiproxyapi.runtime")


@dataclass(frozen=True, slots=True)
class Runtime:
    """Everything a request needs, fixed for the request's lifetime."""

    config: Config
    generation: int
    credentials: tuple[Credential, ...]
    registry: ModelRegistry
    dispatcher: Dispatcher
    executors: Mapping[ProviderKind, Executor]
    client_keys: ClientKeys
    prices: PriceTable
    """List prices with this config's `pricing` overrides."""
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    """`allow-private-upstreams`: private destinations the operator allowed."""


def build_runtime(
    config: Config,
    *,
    state: PoolState,
    clients: HttpClients,
    generation: int,
    accounts: AccountBook | None = None,
) -> Runtime:
    """Validate and assemble a snapshot; raises without side effects when the config is unsafe.

    With an account book, its enabled OAuth accounts join the config's credentials.
    """
    check_access_safety(config.host, config.api_keys, config.management.secret_key)
    egress = EgressPolicy.from_entries(config.allow_private_upstreams)
    executors = build_executors(config, clients, accounts)
    credentials: tuple[Credential, ...] = tuple(credentials_from_config(config))
    if accounts is not None:
        credentials += tuple(oauth_credentials(accounts.records(), config))
    servable = tuple(c for c in credentials if c.kind in executors)
    unserved = sorted({c.kind.value for c in credentials if c.kind not in executors})
    if unserved:
        log.warning("credentials of %s are loaded but no executor serves them", ", ".join(unserved))
    prices = PriceTable(config.pricing)
    policy = RetryPolicy(
        strategy=config.routing.resolved_strategy,
        request_retry=config.request_retry,
        max_retry_interval=float(config.max_retry_interval),
        max_retry_credentials=config.max_retry_credentials,
        disable_cooling=config.disable_cooling,
        transient_cooldown=config.transient_cooldown,
    )
    return Runtime(
        config=config,
        generation=generation,
        credentials=servable,
        registry=ModelRegistry(servable),
        dispatcher=Dispatcher(policy, state, price_of=_price_of(prices)),
        executors=executors,
        client_keys=ClientKeys(config.key_policies),
        prices=prices,
        egress=egress,
    )


def _price_of(prices: PriceTable) -> Callable[[Candidate], float]:
    """A candidate's blended list price for the cheapest strategy; unknown prices sort last."""

    def price_of(candidate: Candidate) -> float:
        price = prices.quote(candidate.upstream_model).price
        return price.blended if price is not None else math.inf

    return price_of


class RuntimeHolder:
    """Holds the current snapshot; a swap is one assignment."""

    __slots__ = ("current",)

    def __init__(self, runtime: Runtime) -> None:
        self.current = runtime

    def swap(self, runtime: Runtime) -> Runtime:
        """Install a new snapshot; return the old one."""
        old, self.current = self.current, runtime
        return old
