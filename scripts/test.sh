#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run calls it).
# Runs vet and the whole Go test suite; takes a few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
go vet ./...
go test -count=1 -timeout 15m ./...
