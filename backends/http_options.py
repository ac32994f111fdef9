"""The settings every Prometheus-compatible engine takes besides its `url` (backends/http_access.py
checks and applies them). Apart from it so that the engine specs, read by the command line before the
first frame, do not build the access record and its imports.
"""

from __future__ import annotations

from mlops_tui.backends.engine_spec import EngineOption, OptionKind

HTTP_OPTIONS: tuple[EngineOption, ...] = (
    EngineOption("bearer_token_file", OptionKind.FILE,
                 "file holding a bearer token (re-read when it changes)", default=""),
    EngineOption("username", OptionKind.STRING, "basic auth user name", default=""),
    EngineOption("password_file", OptionKind.FILE, "file holding the basic auth password", default=""),
    EngineOption("password_env", OptionKind.STRING,
                 "environment variable holding the basic auth password", default=""),
    EngineOption("ca_file", OptionKind.FILE, "CA certificate(s) that sign the server's certificate", default=""),
    EngineOption("cert_file", OptionKind.FILE, "client certificate (PEM) for mutual TLS", default=""),
    EngineOption("key_file", OptionKind.FILE, "the client certificate's private key (PEM)", default=""),
    EngineOption("insecure_skip_verify", OptionKind.FLAG,
                 "accept any server certificate (never in production)", default=False),
    EngineOption("headers", OptionKind.HEADERS,
                 "extra HTTP headers, e.g. X-Scope-OrgID for a Mimir/Cortex/Thanos tenant", default={}),
)
"""The settings every Prometheus-compatible engine takes, besides its `url`."""
