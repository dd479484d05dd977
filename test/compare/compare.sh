#!/usr/bin/env bash
# Compares raftsidecar (cmd/raftbench) with hashicorp/raft (test/compare/hashicorp) on the
# same workload. Builds both commands, then for every scenario runs ours and theirs
# alternately (A B A B ...), -pairs times, and prints each pair's ops/s, p99 and CPU per
# thousand ops for both, the medians, and the ratio of medians ours/theirs.
#
#   test/compare/compare.sh                          # default scenarios, 3 pairs, 10s each
#   DURATION=3s test/compare/compare.sh -scenarios "3:1:128 3:64:128"
#   test/compare/compare.sh -pairs 5 -duration 20s -durable false -out /tmp/results.jsonl
#
# Options (environment variables of the same name, upper-case, work too):
#   -pairs N        runs per system and scenario (default 3)
#   -duration D     counted window per run, after a 1s warm-up (default 10s)
#   -durable B      true: fsync (default); false: both systems skip fsync
#   -scenarios S    space-separated nodes:clients:size triples
#                   (default "3:1:128 3:64:128 3:256:128 3:64:16384 5:64:128")
#   -out FILE       also keep every run's JSON line (one per line) in FILE
#
# Exits non-zero if a build or run fails, if a run prints no JSON line, or if any run
# reported failed operations (the tables are printed first).
set -euo pipefail

PAIRS=${PAIRS:-3}
DURATION=${DURATION:-10s}
DURABLE=${DURABLE:-true}
SCENARIOS=${SCENARIOS:-"3:1:128 3:64:128 3:256:128 3:64:16384 5:64:128"}
OUT=${OUT:-}

while [ $# -gt 0 ]; do
	case "$1" in
	-pairs) PAIRS=$2; shift 2 ;;
	-duration) DURATION=$2; shift 2 ;;
	-durable) DURABLE=$2; shift 2 ;;
	-scenarios) SCENARIOS=$2; shift 2 ;;
	-out) OUT=$2; shift 2 ;;
	-h | -help | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "compare.sh: unknown argument $1 (try -help)" >&2; exit 2 ;;
	esac
done
case "$PAIRS" in '' | *[!0-9]* | 0) echo "compare.sh: -pairs must be a positive integer" >&2; exit 2 ;; esac
case "$DURABLE" in true | false) ;; *) echo "compare.sh: -durable must be true or false" >&2; exit 2 ;; esac
for s in $SCENARIOS; do
	if ! [[ "$s" =~ ^[0-9]+:[0-9]+:[0-9]+$ ]]; then
		echo "compare.sh: bad scenario '$s' (want nodes:clients:size)" >&2
		exit 2
	fi
done

root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Both commands import github.com/raftsidecar/raft/cmd/raftbench/workload: the same
# workload and measurement drive both systems.

echo "building..." >&2
(cd "$root" && go build -o "$tmp/ours" ./cmd/raftbench)
(cd "$root/test/compare" && go build -o "$tmp/theirs" ./hashicorp)

results="$tmp/results.jsonl"
: >"$results"

# runone LABEL BINARY SCENARIO PAIR NODES CLIENTS SIZE: runs one benchmark and appends its
# JSON line, tagged with the scenario and pair, to $results.
runone() {
	local label=$1 bin=$2 scen=$3 pair=$4 nodes=$5 clients=$6 size=$7
	local out="$tmp/out" errf="$tmp/err"
	echo "  pair $pair: $label (nodes=$nodes clients=$clients size=$size duration=$DURATION durable=$DURABLE)" >&2
	if ! "$bin" -nodes "$nodes" -clients "$clients" -size "$size" -duration "$DURATION" -durable="$DURABLE" >"$out" 2>"$errf"; then
		echo "compare.sh: $label failed (scenario $scen, pair $pair); its stderr:" >&2
		tail -n 30 "$errf" >&2
		exit 1
	fi
	local line
	line=$(tail -n 1 "$out")
	if ! python3 -c 'import json,sys; json.loads(sys.argv[1])' "$line" 2>/dev/null; then
		echo "compare.sh: $label printed no JSON line (scenario $scen, pair $pair); stdout ends with:" >&2
		tail -n 5 "$out" >&2
		tail -n 30 "$errf" >&2
		exit 1
	fi
	if grep -q ' ERRORS: ' "$errf"; then
		grep ' ERRORS: \|first error' "$errf" | head -n 5 >&2
	fi
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["scenario"]=sys.argv[2]; d["pair"]=int(sys.argv[3]); print(json.dumps(d))' \
		"$line" "$scen" "$pair" >>"$results"
}

echo "pairs=$PAIRS duration=$DURATION durable=$DURABLE scenarios: $SCENARIOS" >&2
for scen in $SCENARIOS; do
	IFS=: read -r nodes clients size <<<"$scen"
	echo "scenario $scen" >&2
	for ((p = 1; p <= PAIRS; p++)); do
		runone ours "$tmp/ours" "$scen" "$p" "$nodes" "$clients" "$size"
		runone theirs "$tmp/theirs" "$scen" "$p" "$nodes" "$clients" "$size"
	done
done

if [ -n "$OUT" ]; then
	cp "$results" "$OUT"
fi

python3 - "$results" "$SCENARIOS" "$DURATION" "$DURABLE" <<'EOF'
import json, statistics, sys

path, scenarios, duration, durable = sys.argv[1], sys.argv[2].split(), sys.argv[3], sys.argv[4]
runs = [json.loads(l) for l in open(path) if l.strip()]
OURS, THEIRS = "raftsidecar", "hashicorp-raft"
figures = [("ops_per_sec", "ops/s", "{:.0f}"), ("p99_ms", "p99 ms", "{:.2f}"), ("cpu_ms_per_kop", "cpu ms/kop", "{:.1f}")]
failed = 0

def fmt(f, v):
    return f.format(v) if v is not None else "-"

for scen in scenarios:
    nodes, clients, size = scen.split(":")
    rs = [r for r in runs if r["scenario"] == scen]
    pairs = sorted({r["pair"] for r in rs})
    print()
    print(f"== nodes={nodes} clients={clients} size={size} durable={durable} duration={duration} "
          f"({len(pairs)} alternating pairs, ours ran first in each) ==")
    header = ["pair"]
    for _, name, _ in figures:
        header += [f"ours {name}", f"theirs {name}"]
    header += ["errors o/t"]
    rows = []
    med = {}
    for p in pairs:
        o = next(r for r in rs if r["pair"] == p and r["system"] == OURS)
        t = next(r for r in rs if r["pair"] == p and r["system"] == THEIRS)
        row = [str(p)]
        for key, _, f in figures:
            row += [fmt(f, o[key]), fmt(f, t[key])]
        row.append(f"{o.get('errors', 0)}/{t.get('errors', 0)}")
        failed += o.get("errors", 0) + t.get("errors", 0)
        rows.append(row)
    row = ["median"]
    for key, _, f in figures:
        mo = statistics.median(r[key] for r in rs if r["system"] == OURS)
        mt = statistics.median(r[key] for r in rs if r["system"] == THEIRS)
        med[key] = (mo, mt)
        row += [fmt(f, mo), fmt(f, mt)]
    row.append("")
    rows.append(row)
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))
    print(line(header))
    for r in rows:
        print(line(r))
    parts = []
    for key, name, _ in figures:
        mo, mt = med[key]
        parts.append(f"{name} {mo / mt:.2f}x" if mt else f"{name} -")
    print("ratio of medians ours/theirs: " + ", ".join(parts) +
          "   (ops/s: higher is better for ours; p99 and cpu: lower is better)")
    rss_o = statistics.median(r["peak_rss_mb"] for r in rs if r["system"] == OURS)
    rss_t = statistics.median(r["peak_rss_mb"] for r in rs if r["system"] == THEIRS)
    p50_o = statistics.median(r["p50_ms"] for r in rs if r["system"] == OURS)
    p50_t = statistics.median(r["p50_ms"] for r in rs if r["system"] == THEIRS)
    print(f"also (medians): p50 ms {p50_o:.2f} / {p50_t:.2f}, peak RSS MiB {rss_o:.0f} / {rss_t:.0f}")

if failed:
    print(f"\n{failed} operations failed across the runs (see the errors column and stderr above)")
    sys.exit(3)
EOF
