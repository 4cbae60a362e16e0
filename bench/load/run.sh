#!/usr/bin/env bash
# Load scenarios L1-L7 (reliability.md §3.1) against a real gateway:
#   bash bench/load/run.sh [--quick|--long] [L1 L2 ...]   (default: --quick, every scenario)
# Needs wrk (installed by ../shared/bench/setup.sh). Prints one line per scenario and a table.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
command -v wrk >/dev/null || { echo "wrk is missing: bash ../shared/bench/setup.sh tools" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || true
exec uv run --frozen python bench/load/load.py "$@"
