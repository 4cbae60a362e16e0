#!/usr/bin/env bash
# Benchmark aiproxyapi with the shared harness; extra arguments go to bench.py.
#   bash bench/run.sh                       # pinned and unpinned, 2 repetitions
#   bash bench/run.sh --modes pinned --repeats 1
# Results land in bench/results/ (json + markdown); the table is printed too.
# --no-prepare (first) skips installing and compiling (bench/compare.sh has done it).
# For the comparison with LiteLLM and Portkey in one table: bash bench/compare.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/prepare.sh"
if [ "${1:-}" = --no-prepare ]; then shift; else prepare_project; fi
exec python3 "$harness/bench.py" --name aiproxyapi \
  --gateway-cmd "exec bash $here/gateway.sh {port} {fast} {stream} {slow}" \
  --model-fast mock-fast --model-stream mock-stream --model-slow mock-slow \
  --header "Authorization: Bearer sk-bench-client-key" \
  --version-cmd "$here/../.venv/bin/python -m aiproxyapi --version" \
  --out-dir "$here/results" "$@"
