#!/usr/bin/env bash
# Shared set-up of the bench scripts (sourced): find the harness, install its tools, sync the
# project's environment and compile it to bytecode, as an installed gateway is (pip compiles on
# install; without it every start compiles ~900 modules and start-up triples). Sets $harness.
here=${here:?}
find_harness() {
  if [ -n "${BENCH_HARNESS:-}" ]; then echo "$BENCH_HARNESS"; return; fi
  local dir=$here
  while [ "$dir" != / ]; do
    dir=$(dirname "$dir")
    if [ -f "$dir/shared/bench/bench.py" ]; then echo "$dir/shared/bench"; return; fi
  done
  echo "the shared harness was not found: set BENCH_HARNESS" >&2
  return 1
}
harness=$(find_harness)
export BENCH_HARNESS=$harness
prepare_project() {
  bash "$harness/setup.sh" tools
  (cd "$here/.." && uv sync --frozen --quiet)
  local site
  site=$("$here/../.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  (cd "$here/.." && .venv/bin/python -m compileall -q -j 0 "$site" aiproxyapi auth storage >/dev/null) || true
}
