"""Observability: what the gateway tells its operator about requests, beside the request flow.

Its place in the flow: at the edges. `RequestCapture` wraps the ASGI app and writes the
request log files (`request-log`, error logs, the logs/ size cap); `GatewayMetrics` is fed
once per finished request from its usage record and renders /metrics. Neither touches a
request's bytes beyond copying references, and neither ever sees a secret in plain text:
files are redacted, metric labels are provider names, models and key digests.
"""

from aiproxyapi.observe.capture import RequestCapture
from aiproxyapi.observe.request_log import Exchange, LogFiles, render_exchange

__all__ = ["Exchange", "LogFiles", "RequestCapture", "render_exchange"]
