"""The management API: /v0/management, beside the request flow, behind the management-key guard.

Operators and the control panel read and change the running gateway here: config (every change
goes through the same validate-write-reload path as an edit of config.yaml), client and provider
keys, auth records (through ``Gateway.store``), usage, logs and pool state. Nothing here is on
the path of a proxied request. :class:`ManagementContext` holds what the routes share (its
``start`` hashes a plaintext secret in config.yaml); :func:`management_router` builds the routes.
"""

from aiproxyapi.management.context import ManagementContext
from aiproxyapi.management.routes import PREFIX, management_router

__all__ = ["PREFIX", "ManagementContext", "management_router"]
