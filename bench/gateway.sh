#!/usr/bin/env bash
# Start aiproxyapi for the shared benchmark harness (../shared/bench):
#   gateway.sh PORT FAST_BASE STREAM_BASE SLOW_BASE
# Writes a config routing the models mock-fast, mock-stream and mock-slow to the three mock
# upstreams, then replaces itself with the gateway so the harness measures the gateway alone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
port=$1 fast=$2 stream=$3 slow=$4
dir=$(mktemp -d /tmp/aiproxyapi-bench.XXXXXX)
cat > "$dir/config.yaml" <<YAML
host: 127.0.0.1
port: $port
auth-dir: $dir/auths
api-keys: [sk-bench-client-key]
usage-statistics-enabled: true
openai-compatibility:
  - name: mock-fast
    base-url: $fast
    api-key-entries: [{api-key: sk-mock-fast}]
    models: [{name: mock-fast}]
  - name: mock-stream
    base-url: $stream
    api-key-entries: [{api-key: sk-mock-stream}]
    models: [{name: mock-stream}]
  - name: mock-slow
    base-url: $slow
    api-key-entries: [{api-key: sk-mock-slow}]
    models: [{name: mock-slow}]
YAML
exec "$here/../.venv/bin/python" -m aiproxyapi --config "$dir/config.yaml"
