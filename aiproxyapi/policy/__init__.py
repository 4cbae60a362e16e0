"""Key policies: budgets and rates per client key, checked between the key guard and routing.

Its place in the flow: a route authenticates the caller (``access``), then asks the
:class:`Admission` to let the request in (model allow-list, rpm, tpm, daily and monthly
budget). An admitted request holds a reservation until its usage record settles it with its
cost. The counters live behind the :class:`Ledger` interface; :class:`MemoryLedger` keeps them
in this process, :class:`~aiproxyapi.policy.redis_ledger.RedisLedger` in the Redis several
instances share. Spend is persisted through the gateway's store so it survives a restart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiproxyapi.policy.admission import Admission, cost_of
from aiproxyapi.policy.ledger import KeyLimits, Ledger, MemoryLedger, Refusal

if TYPE_CHECKING:
    from aiproxyapi.shared import RedisLink

__all__ = ["Admission", "KeyLimits", "Ledger", "MemoryLedger", "Refusal", "cost_of", "ledger_for"]


def ledger_for(link: RedisLink | None) -> Ledger:
    """The shared ledger on Redis when the gateway has a link, else this process's own."""
    if link is None:
        return MemoryLedger()
    from aiproxyapi.policy.redis_ledger import RedisLedger

    return RedisLedger(link)
