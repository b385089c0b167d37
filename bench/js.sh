#!/usr/bin/env bash
# bench/js.sh: suite's npm_packages() against Turborepo on a generated npm
# workspace, side by side in one run: cold, no-change and one-file-change
# runs, with the machine's cost of running one package's tests alone
# (`npm test` in one package) as the yardstick.
#
# Usage: bench/js.sh [--reps N] [--cold-reps N] [--packages P] [--quick]
#                    [--work DIR] [--no-doc]
#
#   --reps N       repetitions of the no-change and one-file runs (default 5)
#   --cold-reps N  repetitions of the cold runs (default 3)
#   --packages P   packages in the workspace (default 16)
#   --quick        8 packages, 2 repetitions: for trying the script
#   --work DIR     where the trees and raw results go (default: a temp dir,
#                  removed at the end)
#   --no-doc       print the section, leave docs/BENCHMARKS.md alone
#   --report-only  measure nothing: rewrite the section from an earlier
#                  run's --work DIR
#
# Needs node, npm and the npm registry (turbo is installed from it). Each
# repetition runs the two tools one after the other, on two copies of the
# same tree, so the noise of a shared machine falls on both alike. The
# section "JavaScript monorepo" of docs/BENCHMARKS.md is rewritten from the
# results; no number in it is typed by hand.
set -euo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPS=5
COLD_REPS=3
PACKAGES=16
WORK=""
KEEP=0
WRITE_DOC=1
REPORT_ONLY=0
QUICK=0
TURBO_VERSION=2.5.8
while [[ $# -gt 0 ]]; do
	case "$1" in
	--reps) REPS=$2; shift 2 ;;
	--cold-reps) COLD_REPS=$2; shift 2 ;;
	--packages) PACKAGES=$2; shift 2 ;;
	--quick) QUICK=1; PACKAGES=8; REPS=2; COLD_REPS=1; shift ;;
	--work) WORK=$2; KEEP=1; shift 2 ;;
	--no-doc) WRITE_DOC=0; shift ;;
	--report-only) REPORT_ONLY=1; shift ;;
	-h|--help) sed -n '2,22p' "$0"; exit 0 ;;
	*) echo "js.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
JOBS=2
log() { echo "js.sh: $*" >&2; }
for t in node npm; do
	command -v $t >/dev/null || { log "$t is not installed (apt-get install -y nodejs npm)"; exit 1; }
done
if [[ -z $WORK ]]; then WORK=$(mktemp -d /tmp/suite-bench-js.XXXXXX); fi
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
cleanup() { [[ $KEEP == 1 ]] || rm -rf "$WORK"; }
trap cleanup EXIT
RESULTS=$WORK/results.tsv
if [[ $REPORT_ONLY == 1 ]]; then
	[[ -s $RESULTS ]] || { log "--report-only needs --work DIR of an earlier run"; exit 2; }
	KEEP=1
else
: >"$RESULTS"
OUT=$WORK/out
mkdir -p "$OUT"
# npm gets a private home and cache; Go keeps the user's caches.
GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE) GOPATH=$(go env GOPATH)
export GOMODCACHE GOCACHE GOPATH
export HOME=$WORK/home npm_config_cache=$WORK/npm-cache npm_config_update_notifier=false
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1

now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; } # scenario tool rep ms ran expected

SUITE=$WORK/bin/suite
log "building suite"
(cd "$REPO" && go build -o "$SUITE" ./cmd/suite)
(cd "$REPO" && git describe --always --dirty 2>/dev/null || echo unknown) >"$WORK/suite-version"

for tool in suite turbo; do
	log "generating $tool tree: $PACKAGES packages"
	(cd "$REPO" && go run ./bench/genjs -out "$WORK/$tool" -packages "$PACKAGES" -seed 1 \
		-package-manager "npm@$(npm --version)" $([[ $tool == turbo ]] && echo "-turbo $TURBO_VERSION"))
	(cd "$WORK/$tool" && npm install --no-audit --no-fund >"$OUT/npm-install-$tool.out" 2>&1) ||
		{ log "npm install failed in the $tool tree:"; tail -5 "$OUT/npm-install-$tool.out" >&2; exit 1; }
done
TURBO=$WORK/turbo/node_modules/.bin/turbo
"$TURBO" --version >"$WORK/turbo-version"
sleep 2.5 # files older than the racy window, as in a real checkout

# run_suite SCENARIO: prints the packages it executed; wall ms to $OUT/ms.
run_suite() {
	local t0 t1
	t0=$(now_us)
	XDG_CACHE_HOME=$WORK/xdg "$SUITE" -C "$WORK/suite" run all -n $JOBS --output summary \
		--json "$OUT/suite.json" >"$OUT/suite.out" 2>&1 || { log "suite failed in $1:"; tail -5 "$OUT/suite.out" >&2; }
	t1=$(now_us)
	echo $(((t1 - t0) / 1000)) >"$OUT/ms"
	grep '"event":"test_result"' "$OUT/suite.json" | grep -c '"cached":false' || true
}

# run_turbo SCENARIO: the same for `turbo run test`; executed = total -
# cached from its summary ("Cached:    3 cached, 24 total").
run_turbo() {
	local t0 t1 args=()
	[[ $1 == cold* ]] && args=(--force)
	t0=$(now_us)
	(cd "$WORK/turbo" && "$TURBO" run test --concurrency=$JOBS "${args[@]}" >"$OUT/turbo.out" 2>&1) ||
		{ log "turbo failed in $1:"; tail -5 "$OUT/turbo.out" >&2; }
	t1=$(now_us)
	echo $(((t1 - t0) / 1000)) >"$OUT/ms"
	sed 's/\x1b\[[0-9;]*m//g' "$OUT/turbo.out" | awk '/Cached:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^cached/) c = $i; if ($(i+1) ~ /^total/) t = $i } } END { print t - c }'
}

reset() {
	case $1 in
	suite) rm -rf "$WORK/xdg" "$WORK/suite/.suite" ;;
	turbo) : ;; # --force on the run itself
	esac
}

measure() { # SCENARIO TOOL REP EXPECTED
	local ran ms
	ran=$("run_$2" "$1" | tail -1)
	ms=$(cat "$OUT/ms")
	record "$1" "$2" "$3" "$ms" "${ran:-0}" "$4"
	log "$1 $2 #$3: $ms ms, ran ${ran:-0} (expected $4)"
}

# dependents P: P and every package that imports it, transitively.
dependents() {
	awk -F'\t' -v p="$1" '$1 !~ /^#/ { n = split($2, d, ","); for (i = 1; i <= n; i++) up[d[i]] = up[d[i]] " " $1 }
		END { q[1] = p; seen[p] = 1; h = 1; t = 1; while (h <= t) { x = q[h++]; m = split(up[x], u, " "); for (i = 1; i <= m; i++) if (!seen[u[i]]) { seen[u[i]] = 1; q[++t] = u[i] } } print t }' "$WORK/suite/packages.tsv"
}

# The yardstick: one package's tests run alone, as both tools run them;
# measured between the cold runs, so it sees the same machine.
alone() {
	local t0 t1
	t0=$(now_us)
	(cd "$WORK/suite/packages/p000" && npm test >/dev/null 2>&1)
	t1=$(now_us)
	record alone npm "$1" $(((t1 - t0) / 1000)) 1 1
}

log "warming up"
for tool in suite turbo; do reset $tool; measure warmup $tool 0 "$PACKAGES"; done
for rep in $(seq 1 "$COLD_REPS"); do
	for tool in suite turbo; do reset $tool; measure cold $tool "$rep" "$PACKAGES"; done
	for i in 1 2; do alone "$rep.$i"; done
done
for rep in $(seq 1 "$REPS"); do
	for tool in suite turbo; do measure nochange $tool "$rep" 0; done
done
for rep in $(seq 1 "$REPS"); do
	pkg=$(printf 'p%03d' $(((rep * 7) % PACKAGES)))
	for tool in suite turbo; do echo "// change $rep" >>"$WORK/$tool/packages/$pkg/src/index.js"; done
	exp=$(dependents "$pkg")
	sleep 2.1 # an edit older than the racy window by the time tests run
	for tool in suite turbo; do measure onefile $tool "$rep" "$exp"; done
done

cut -d' ' -f1-3 /proc/loadavg >"$WORK/loadavg"
fi # measuring

# ------------------------------------------------------------------ report
SUITE_VERSION=$(cat "$WORK/suite-version")
TURBO_REAL_VERSION=$(cat "$WORK/turbo-version")
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
vals() { awk -F'\t' -v s="$1" -v t="$2" -v c="${3:-4}" '$1 == s && $2 == t { print $c }' "$RESULTS"; }
med() { vals "$@" | median; }
range() { vals "$1" "$2" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%s–%s", lo, hi }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "–"; else printf "%.3f", a / b }'; }
ran() {
	local obs exp
	obs=$(vals "$1" "$2" 5 | sort -nu | paste -sd/ -)
	exp=$(vals "$1" "$2" 6 | sort -nu | paste -sd/ -)
	if [[ $obs == "$exp" ]]; then echo "$obs ✓"; else echo "$obs (expected $exp)"; fi
}
ALONE=$(med alone npm)
BOUND=$(awk -v a="$ALONE" -v p="$PACKAGES" -v j=$JOBS 'BEGIN { printf "%d", a * p / j }')
table() {
	local sc tool sm tm m last
	for sc in cold nochange onefile; do
		sm=$(med $sc suite); tm=$(med $sc turbo)
		for tool in suite turbo; do
			m=$(med $sc $tool)
			[[ -z $m ]] && continue
			last=""
			[[ $tool == suite ]] && last=$(ratio "$sm" "$tm")
			echo "| $sc | $tool | $m | $(range $sc $tool) | $(ran $sc $tool) | $(ratio "$m" "$BOUND") | $last |"
		done
	done
}
SECTION=$WORK/section.md
{
	cat <<EOF
## JavaScript monorepo: suite and Turborepo

Written by \`bench/js.sh\` (suite $SUITE_VERSION, turbo $TURBO_REAL_VERSION, node $(node --version),
npm $(npm --version)) on $(date -u +%Y-%m-%d); $REPS repetitions of the reruns, $COLD_REPS of the
cold runs; medians. The workspace: $PACKAGES npm workspace packages from \`go run ./bench/genjs
-packages $PACKAGES -seed 1\`, each with 2 test files of 5 \`node:test\` tests and up to two
dependencies on other packages, whose modules it imports. Both tools run each package's
\`test\` script (\`npm test\` in the package) at parallelism $JOBS: suite with
\`npm_packages()\` (\`suite run all -n $JOBS\`), Turborepo with \`turbo run test
--concurrency=$JOBS\`, test depending on a transit task so that a package's hash covers the
packages it imports. Load average at the end: $(cat "$WORK/loadavg") (the machine is shared;
hence medians, and runs of the two tools one after the other).

The yardstick is this machine's cost of one package's tests alone: \`npm test\` in one
package took **$ALONE ms** (median of runs between the cold runs: npm and node starting,
then node once per test file). $PACKAGES packages at -n $JOBS would take
$PACKAGES × $ALONE / $JOBS = **$BOUND ms** if two at a time cost what one costs alone; on a
loaded machine they do not, so read the column as a scale, not a bound.

| scenario | tool | median ms | range ms | packages executed | ÷ yardstick | suite / turbo |
|---|---|---:|---:|---|---:|---:|
$(table)

- **cold**: every package executes (suite: empty cache; turbo: \`--force\`).
- **nochange**: rerun with nothing changed, right after a full run. Both only hash and
  look up; the yardstick does not apply (nothing executes).
- **onefile**: \`src/index.js\` of one package changed (a different one each repetition),
  then rerun: that package and every package that imports it, transitively, must run
  again, and only those.
- **Where suite is behind**: when packages execute (cold, onefile), suite takes longer than
  Turborepo. One package's action took no longer than \`npm test\` outside suite in the runs we
  timed apart, so the difference is around the tests: a cold run digests every tool once for the
  key, node's 100 MB binary among them (a second or two on a loaded machine), before the
  first test starts; and each action sets up its sandbox (its own mount, pid and network
  namespaces), which Turborepo does not have. What that buys: a package's test sees only
  its declared files and installed packages, cannot write into the repository, and its
  cached pass is keyed by what it can import.
- **packages executed**: from suite's \`--json\` (\`"cached":false\`) and Turborepo's
  summary (total − cached); ✓ when it matches the packages that should run, in every
  repetition.

Regenerate: \`bench/js.sh\` (a few minutes on 2 cores; \`--quick\` to try it;
\`--work DIR --report-only\` rewrites this section from an earlier run's DIR).
EOF
} >"$SECTION"
if [[ $WRITE_DOC == 1 && $QUICK == 0 ]]; then
	DOC=$REPO/docs/BENCHMARKS.md
	# The section runs to the end of the file: bench/run.sh writes what is
	# above it and keeps it.
	awk '/^## JavaScript monorepo: suite and Turborepo$/ { exit } { print }' "$DOC" >"$WORK/doc.head"
	cat "$WORK/doc.head" "$SECTION" >"$DOC"
	log "wrote the JavaScript section of $DOC"
fi
cat "$SECTION"
