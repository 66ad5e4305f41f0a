#!/bin/sh
# Installs llama.cpp, as node-llama-cpp ships it prebuilt for CPUs (from the npm registry only;
# install scripts skipped, nothing else downloaded), into DIR outside this repository, for
# bench/vs-llama-cpp.ts. It is a measuring instrument, not a dependency of llama.ts.
#   scripts/install-llama-cpp-peer.sh /tmp/llama-cpp-peer
set -eu
DIR="${1:?usage: scripts/install-llama-cpp-peer.sh DIR}"
mkdir -p "$DIR"
cd "$DIR"
[ -f package.json ] || echo '{"name":"llama-cpp-peer","private":true}' > package.json
npm install --ignore-scripts --no-audit --no-fund node-llama-cpp@3.22.1
