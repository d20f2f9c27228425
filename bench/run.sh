#!/usr/bin/env bash
# Runs every benchmark against bin/berth. Each prints its baseline, Berth's
# figure and the ratio; copy the lines into bench/RESULTS.md with the date.
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./bench/berthbench coldstart -berth bin/berth
go run ./bench/berthbench apply -berth bin/berth
go run ./bench/berthbench memory -berth bin/berth
go run ./bench/pipeline
