#!/bin/bash
# run-all.sh - run every tNNNN-*.sh (or those named), then one summary line.
# A script that cannot run here (no FUSE, not root) reports itself skipped.
#
# JOBS=N runs N scripts at a time (default 1).  Each script's output goes
# whole to results/NAME.out, and its lines here are printed whole when it
# ends.  A script that changes what is shared by the whole machine (users,
# /etc, /sbin) says so in a line "# run-all: lock NAME... (why)": scripts
# holding the same NAME never run at the same time.  The slowest scripts
# (by the times the last run left in results/NAME.time, else the list
# below) start first, so that no long one is left running alone at the end.
#
# NO_SKIP=1 (CI) counts a skipped test or script as a failure: on the
# machine CI runs on, everything must run.
cd "$(dirname "$0")" || exit 1
mkdir -p results
JOBS=${JOBS:-1}
case $JOBS in ''|*[!0-9]*|0) echo "ssefs: run-all: JOBS=$JOBS: not a count" >&2; exit 2 ;; esac

# started first when results/ holds no times yet: slowest first
SLOW_FIRST="t7103 t7001 t7104 t7102 t7106 t7105 t3100 t4000 t7000 t0100 t5000 t4300 t2000 t1101 t5100"

passed=0 failed=0 skipped=0 bad_scripts=
scripts=("$@")
[ ${#scripts[@]} -eq 0 ] && scripts=(t[0-9][0-9][0-9][0-9]-*.sh)
for t in "${scripts[@]}"; do
	name=$(basename "$t" .sh)
	[ -f "$name.sh" ] && continue
	echo "*** $name: FAILED: no such test script"
	failed=$((failed + 1))
	bad_scripts="$bad_scripts $name"
done

# order: last time (seconds, descending), then the SLOW_FIRST list, then
# by name
queue=()
while read -r _ _ name; do
	queue+=("$name")
done < <(
	for t in "${scripts[@]}"; do
		name=$(basename "$t" .sh)
		[ -f "$name.sh" ] || continue
		secs=$(cat "results/$name.time" 2>/dev/null)
		case $secs in ''|*[!0-9]*) secs=0 ;; esac
		rank=99
		i=0
		for s in $SLOW_FIRST; do
			[ "${name%%-*}" = "$s" ] && rank=$i
			i=$((i + 1))
		done
		printf '%d %02d %s\n' "$secs" "$rank" "$name"
	done | sort -k1,1nr -k2,2n -k3,3
)

declare -A running_name running_start lock_held

locks_of () {	# NAME: the locks the script declares (words before a "(")
	sed -n 's/^# run-all: lock \([^(]*\).*/\1/p' "$1.sh"
}

can_start () {	# NAME
	local l
	for l in $(locks_of "$1"); do
		[ -n "${lock_held[$l]}" ] && return 1
	done
	return 0
}

start () {	# NAME
	local l
	for l in $(locks_of "$1"); do
		lock_held[$l]=$1
	done
	rm -f "results/$1.rc"
	# the subshell writes the exit code: a script killed by a signal is
	# reported by bash and dropped from its jobs, where wait -n would
	# never see it
	( bash "./$1.sh" </dev/null; echo $? >"results/$1.rc" ) \
		>"results/$1.out" 2>&1 &
	running_name[$!]=$1
	running_start[$!]=$(date +%s)
}

# report NAME RC SECONDS: its lines, and the counts
report () {
	local name=$1 rc=$2 secs=$3 line p f s l
	for l in $(locks_of "$name"); do
		unset "lock_held[$l]"
	done
	echo "$secs" >"results/$name.time"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "results/$name.out" | tail -1)
	p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
	f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	s=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	skipped=$((skipped + ${s:-0}))
	if [ $rc -ne 0 ] || [ -z "$line" ] ||
	   { [ -n "$NO_SKIP" ] && [ "${s:-0}" != 0 ]; }; then
		# a script that died, or exited non-zero with no failed
		# test, counts as one failed test
		[ -z "$line" ] || { [ $rc -ne 0 ] && [ "${f:-0}" = 0 ]; } &&
			failed=$((failed + 1))
		bad_scripts="$bad_scripts $name"
		echo "*** $name: FAILED (exit $rc, ${secs}s)${line:+: $line}"
		grep -E '^not ok|^ok .*# skip|^#' "results/$name.out" |
			grep -v '^# time: ' | head -40
		grep -h '^SKIPPED:' "results/$name.out"
		tail -15 "results/$name.out" | grep -vE '^(ok|not ok|#|SKIPPED:)' | sed 's/^/    /'
	else
		echo "    $name: ${line} (${secs}s)"
		grep -h '^SKIPPED:' "results/$name.out"
	fi
}

# on INT or TERM, stop the scripts (their own traps unmount) and go
stop_all () {
	trap - INT TERM
	[ ${#running_name[@]} -gt 0 ] && kill -TERM "${!running_name[@]}" 2>/dev/null
	wait
	echo "integration: interrupted"
	exit 130
}
trap stop_all INT TERM

while [ ${#queue[@]} -gt 0 ] || [ ${#running_name[@]} -gt 0 ]; do
	# start what may start, in queue order
	i=0
	while [ ${#running_name[@]} -lt "$JOBS" ] && [ $i -lt ${#queue[@]} ]; do
		if can_start "${queue[$i]}"; then
			start "${queue[$i]}"
			queue=("${queue[@]:0:$i}" "${queue[@]:$((i + 1))}")
		else
			i=$((i + 1))
		fi
	done
	# one ended (or none is left to wait for: do not spin)
	wait -n 2>/dev/null || sleep 0.2
	for pid in "${!running_name[@]}"; do
		name=${running_name[$pid]}
		# still running: no exit code yet, and alive
		[ ! -f "results/$name.rc" ] && kill -0 "$pid" 2>/dev/null &&
			continue
		# ended: the code is there once the subshell is gone (none:
		# the subshell itself was killed)
		wait "$pid" 2>/dev/null
		rc=$(cat "results/$name.rc" 2>/dev/null)
		secs=$(( $(date +%s) - ${running_start[$pid]} ))
		unset "running_name[$pid]" "running_start[$pid]"
		report "$name" "${rc:-255}" "$secs"
	done
done
[ -n "$bad_scripts" ] && echo "failed scripts:$bad_scripts"
if [ -n "$NO_SKIP" ] && [ $skipped -ne 0 ]; then
	echo "integration: $passed passed, $failed failed, $skipped skipped (NO_SKIP: a skip fails)"
	exit 1
fi
echo "integration: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ] && [ -z "$bad_scripts" ]
