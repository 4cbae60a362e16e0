#!/usr/bin/env bash
# The issue-10 benchmark set in one command: aiproxyapi, LiteLLM and Portkey through the shared
# harness (gateway pinned to one core, each run with its own direct baseline), one stream at a
# time for the time-to-first-byte overhead, and the translated-stream scenario; one table.
#   bash bench/compare.sh                   # 2 repetitions (~35 min on a quiet machine)
#   bash bench/compare.sh --quick           # 1 repetition
#   bash bench/compare.sh --only aiproxyapi -- --duration 2 --max-foreign-pct 100 --quiet-timeout 1
# Arguments after -- go to every bench.py run. Results: bench/results/compare-<stamp>.md/.json.
# A peer whose install fails is shown as n/a with the reason.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/prepare.sh"
prepare_project
skip=()
only=" $* "
for peer in litellm portkey; do
  case "$only" in *" --only "*) case "$*" in *"$peer"*) ;; *) continue ;; esac ;; esac
  if ! out=$(bash "$harness/setup.sh" "$peer" 2>&1); then
    reason=$(printf '%s' "$out" | tail -n 1 | tr -s '[:space:]' ' ' | cut -c1-200)
    skip+=(--skip "$peer=setup.sh $peer failed: $reason")
  fi
done
exec python3 "$here/compare.py" "${skip[@]}" "$@"
