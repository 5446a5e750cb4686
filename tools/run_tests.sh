#!/usr/bin/env bash
# Install pointhmr_mm with its test dependencies, then run the test suite.
# This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[tests]"
python -m pytest tests -q "$@"
