#!/bin/sh
# Runs the suite against a build directory: scripts/run_tests.sh BUILD [unit|integration] [filter]
set -eu
cd "$(dirname "$0")/.."
exec python3 tests/run.py "$@"
