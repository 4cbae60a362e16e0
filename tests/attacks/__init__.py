"""Attack attempts A1-A14 of reliability.md §3.4, one module per family.

=====  ==========================================================================
A1     test_keys: every route of the app's route table, missing and wrong keys
A2     test_keys (one code path, digest lookup); bench/security/key_timing.py
A3-A6  test_management_access: bans, bcrypt, namespace peer and same-host proxy,
       Host names (DNS rebinding), cross-site writes, CORS, panel framing
A7     test_ssrf: private destinations at write and connect time, redirects
A8-A10 test_upstream_hygiene: client overrides, hop-by-hop headers, 20 credentials
A11    test_secrets_at_rest: logs, usage, metrics, listings, encrypted git history
A12    test_secrets_at_rest: modes under umask 0, loud warning on exposed files
A13    test_secrets_at_rest: the shipped example config and its placeholders
A14    test_static: AST scan, bandit, `.pth` allow-list
=====  ==========================================================================

Dependency audit (not a test: it needs PyPI's vulnerability data, which this machine's
registry access answers only in part)::

    uv export --frozen --no-hashes --no-emit-project > /tmp/requirements.txt
    uvx pip-audit --no-deps --disable-pip -r /tmp/requirements.txt
"""
