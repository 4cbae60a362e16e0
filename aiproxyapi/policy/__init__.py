"""Key policies: budgets and rates per client key, checked between the key guard and routing.

Its place in the flow: a route authenticates the caller (``access``), then asks the
:class:`Admission` to let the request in (model allow-list, rpm, tpm, daily and monthly
budget). An admitted request holds a reservation until its usage record settles it with its
cost. The counters live behind the :class:`Ledger` interface; :class:`MemoryLedger` keeps them
in this process, and spend is persisted through the gateway's store so it survives a restart.
"""

from aiproxyapi.policy.admission import Admission, cost_of
from aiproxyapi.policy.ledger import KeyLimits, Ledger, MemoryLedger, Refusal

__all__ = ["Admission", "KeyLimits", "Ledger", "MemoryLedger", "Refusal", "cost_of"]
