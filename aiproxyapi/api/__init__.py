"""The HTTP surface: thin Litestar routes that read the body, guard the client key and hand off.

Nothing imports this package; it imports the relay, never the executors directly.
"""

from aiproxyapi.api.app import create_app

__all__ = ["create_app"]
