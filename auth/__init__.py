"""Account logins: OAuth flows and token refresh per provider, writing auth records via storage.

Sits beside the request flow: logins produce auth records (through ``storage``) that the pool
turns into OAuth credentials; ``auth.refresh`` renews their tokens for the runtime. The public
surface: ``auth.logins.new_login`` (flows by name), ``auth.flow`` (flow objects and steps),
``auth.refresh``, ``auth.endpoints`` (every URL, overridable by environment),
``auth.providers.vertex`` (service-account import and token minting) and
``auth.providers.copilot.exchange_copilot_token``.

Never imports `aiproxyapi.api` or `aiproxyapi.management`.
"""
