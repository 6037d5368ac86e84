#!/bin/bash
# Every serving and report benchmark of docs/benchmarks.md, one after the other, in one run:
#     bash bench/run_all.sh > bench-run.log 2>&1      # about 20 minutes on 2 cores
# Each bench prints its own markdown table; the load average is logged around each. The 1e7
# report (a 13 GB file, about 15 minutes more) and bench/asgi_profile.py (needs py-spy) are
# separate: see docs/benchmarks.md.
set -u
cd "$(dirname "$0")/.."
run() {
    echo; echo "=== $* ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg))"
    "$@" 2>&1
    echo "=== end $(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
}
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) CPUs"
run python bench/overhead.py --sampler-seconds 20
run python bench/inference_breakdown.py
run python bench/aggregate_call.py --calls 20000 --repeats 5
run python bench/asgi_throughput.py --requests 3000 --connections 32 --trials 3 --one-process --peers
run python bench/jsonl_encode.py
run python bench/llm_overhead.py --calls 3000 --repeats 7
run python bench/report_scale.py 100000 1000000 --rounds 2
run python bench/peers.py --trials 5 --steps 300 --calls 300
