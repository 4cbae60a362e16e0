"""Fault tests (reliability.md §3.2, F1-F21): what the gateway survives, and what it keeps.

Where each fault is tested (modules here, and the earlier suites that already covered some):

- F1 429 + Retry-After failover, all cooling -> 429: tests/e2e/test_pool.py (429 tests)
- F2 5xx retried on another key: tests/e2e/test_pool.py (500 tests), tests/pool/test_dispatch.py
- F3 hang before headers: test_upstream_faults.py (idle timeout, failover, connection closed)
- F4 reset before the first byte: tests/e2e/test_pool.py::test_reset_before_the_first_byte_fails_over
- F5 reset mid-stream, no retry, no [DONE]: tests/e2e/test_pool.py::test_no_retry_after_the_first_byte
- F6 malformed / truncated SSE, oversized body: test_upstream_faults.py
- F7 client disconnect in four phases: test_upstream_faults.py; tests/e2e/test_pool.py
- F8 revoked key: test_upstream_faults.py
- F9 client 400 flood vs credit 400: test_upstream_faults.py
- F10 single-flight refresh (50 requests, 1 token call): test_refresh_faults.py;
  tests/accounts/test_book.py
- F11 refresh vs management edit: test_refresh_races.py, test_refresh_faults.py
- F12 refresh 5xx vs invalid_grant: test_refresh_failures.py; tests/e2e/test_oauth_refresh.py
- F13 kill during refresh: test_refresh_faults.py (loop); tests/e2e/test_oauth_refresh.py
- F14 config reload under load, editor-style writes: test_reload_faults.py;
  tests/e2e/test_reload.py, tests/ops/test_lifecycle.py (SIGHUP)
- F15 SIGTERM under load: tests/ops/test_lifecycle.py (drain, drain timeout, exit 0)
- F16 PostgreSQL outage: test_storage_outage_load.py (under load, records land exactly once);
  tests/storage/test_mirror_faults.py (real PostgreSQL behind a relay),
  tests/storage/test_gateway_backends.py, tests/usage/test_records_outage.py
- F17 S3 stopped / silent: tests/storage/test_s3_store.py
- F18 git push refused / non-fast-forward, never --force: tests/storage/test_git_store.py
- F19 full disk on the file backend: test_disk_faults.py (tmpfs); tests/storage/test_atomic.py
- F20 kill during writes: test_write_kills.py
- F21 clock jumps: test_clock_faults.py (libfaketime)

Loop counts follow ``AIPROXYAPI_TEST_PROFILE`` (``quick`` default, ``long``): see profile.py.
"""
