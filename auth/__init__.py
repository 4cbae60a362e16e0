"""Account logins: OAuth flows and token refresh per provider, writing auth records via storage.

Never imports `aiproxyapi.api` or `aiproxyapi.management`.
"""
