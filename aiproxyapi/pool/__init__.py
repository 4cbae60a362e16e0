"""The credential pool: pick a credential, judge failures by blame, cool down, retry, fail over.

Built from small parts: credential records, a pure cooldown policy, selectors (round-robin,
fill-first, weighted, cheapest), the state that outlives reloads, and one dispatcher that owns
the retry loop.
"""

from aiproxyapi.credential import ApiKeyCredential, Credential, ProviderKind
from aiproxyapi.pool.cooldown import Verdict, judge, parse_retry_after
from aiproxyapi.pool.dispatch import Dispatcher, RetryPolicy
from aiproxyapi.pool.from_config import credentials_from_config
from aiproxyapi.pool.state import PoolState

__all__ = [
    "ApiKeyCredential",
    "Credential",
    "Dispatcher",
    "PoolState",
    "ProviderKind",
    "RetryPolicy",
    "Verdict",
    "credentials_from_config",
    "judge",
    "parse_retry_after",
]
