#!/bin/sh
# Watcher performance figures: start-up over 1,000 folders / 10,000 files,
# and idle CPU over the same tree with the default and a short rescan period.
set -eu
cd "$(dirname "$0")/.."
go test -run='^$' -bench=BenchmarkStartup1000Folders10000Files -benchtime=5x ./watcher
FLINKDROP_IDLE_CPU=1 go test -count=1 -run='^TestIdleCPU$' -v ./watcher | grep -E 'idle over|^(ok|FAIL)'
FLINKDROP_IDLE_CPU=1 FLINKDROP_IDLE_RESCAN=2s go test -count=1 -run='^TestIdleCPU$' -v ./watcher | grep -E 'idle over|^(ok|FAIL)'
