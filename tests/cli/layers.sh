#!/usr/bin/env bash
# The layers call one way: no circle of C files calling each other's functions (a file calling
# into one that calls it back), which is how the model registry and the HTTP routes are kept
# apart from what they dispatch to (docs/ARCHITECTURE.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 tools/lint/call_cycles.py src || { echo "FAIL: circles of calls between files"; exit 1; }
echo "layers ok: no circles of calls between files"
