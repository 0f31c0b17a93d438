#!/bin/bash
# run-suites.sh BIN JOBS: the unit suites of BIN (a tests/unit/run.c
# runner), JOBS at a time, each alone (CK_RUN_SUITE); each suite's lines
# are printed whole when it ends, then one summary line:
#   unit: Checks: N, Failures: N, Errors: N
# Exit 0 only if every suite ran to its summary with no failure or error.
# The slowest suites (by the last run's times, kept beside BIN) start
# first.
bin=$1 jobs=${2:-1}
dir=$(dirname "$bin")/tests/unit
suites=$(sed -n 's/^SUITE(\(.*\))$/\1/p' "$dir/suites.h") || exit 1
[ -n "$suites" ] || { echo "ssefs: unit: no suites in $dir/suites.h" >&2; exit 1; }
mkdir -p "$dir/out"

checks=0 failures=0 errors=0 bad=
declare -A running_name

report () {	# SUITE RC
	local out=$dir/out/$1.out line c f e
	line=$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$out" | tail -1)
	c=$(echo "$line" | sed -n 's/.*Checks: \([0-9]*\),.*/\1/p')
	f=$(echo "$line" | sed -n 's/.*Failures: \([0-9]*\),.*/\1/p')
	e=$(echo "$line" | sed -n 's/.*Errors: \([0-9]*\).*/\1/p')
	checks=$((checks + ${c:-0}))
	failures=$((failures + ${f:-0}))
	errors=$((errors + ${e:-0}))
	cat "$out"
	if [ -z "$line" ]; then
		errors=$((errors + 1))
		bad="$bad $1"
		echo "*** suite $1: no summary (exit $2)"
	elif [ "$2" -ne 0 ] || [ "${f:-0}" != 0 ] || [ "${e:-0}" != 0 ]; then
		[ "$2" -ne 0 ] && [ "${f:-0}" = 0 ] && [ "${e:-0}" = 0 ] &&
			errors=$((errors + 1))
		bad="$bad $1"
	fi
}

trap '[ ${#running_name[@]} -gt 0 ] && kill "${!running_name[@]}" 2>/dev/null; exit 130' INT TERM

queue=($(for s in $suites; do
	t=$(cat "$dir/out/$s.time" 2>/dev/null)
	case $t in ''|*[!0-9]*) t=0 ;; esac
	echo "$t $s"
done | sort -k1,1nr -k2,2 | cut -d' ' -f2))
declare -A started
while [ ${#queue[@]} -gt 0 ] || [ ${#running_name[@]} -gt 0 ]; do
	while [ ${#running_name[@]} -lt "$jobs" ] && [ ${#queue[@]} -gt 0 ]; do
		s=${queue[0]}
		queue=("${queue[@]:1}")
		rm -f "$dir/out/$s.rc"
		# the subshell writes the exit code: a runner killed by a
		# signal is dropped from bash's jobs, unseen by wait -n
		( CK_RUN_SUITE=$s "$bin" </dev/null; echo $? >"$dir/out/$s.rc" ) \
			>"$dir/out/$s.out" 2>&1 &
		running_name[$!]=$s
		started[$s]=$SECONDS
	done
	wait -n 2>/dev/null || sleep 0.2
	for pid in "${!running_name[@]}"; do
		s=${running_name[$pid]}
		[ ! -f "$dir/out/$s.rc" ] && kill -0 "$pid" 2>/dev/null &&
			continue
		wait "$pid" 2>/dev/null
		rc=$(cat "$dir/out/$s.rc" 2>/dev/null)
		unset "running_name[$pid]"
		echo $((SECONDS - ${started[$s]})) >"$dir/out/$s.time"
		report "$s" "${rc:-255}"
	done
done
[ -n "$bad" ] && echo "failed suites:$bad"
echo "unit: Checks: $checks, Failures: $failures, Errors: $errors"
[ -z "$bad" ] && [ $failures -eq 0 ] && [ $errors -eq 0 ]
