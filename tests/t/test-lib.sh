# test-lib.sh - ssefs's shell test harness, in the manner of git's t/
#
# A test script sets test_description, sources this file, runs
# test_expect_success blocks and ends with test_done.  Each script runs in
# its own trash directory (tests/t/trash.SCRIPT), prints TAP, and ends with
# "N passed, N failed" (", N skipped").  Bodies are eval'd in the script's
# shell: chain commands with && as git's tests do.
#
#   test_expect_success [PREREQ,...] 'title' 'body'
#   test_expect_failure [PREREQ,...] 'title' 'body'   (known breakage)
#   test_must_fail CMD...      CMD exits non-zero (not by a signal)
#   test_expect_code N CMD...  CMD exits N
#   test_cmp EXPECTED ACTUAL   diff -u, shown on mismatch
#   test_when_finished CMD     run CMD after the current test, pass or fail
#   test_atexit CMD            run CMD when the script ends, however it ends
#   test_set_prereq NAME / test_have_prereq NAME
#   skip_all='why'; test_done  skip the whole script, loudly
#
# Environment: -v / TEST_VERBOSE=1 shows command output; -i / TEST_IMMEDIATE
# stops at the first failure and keeps the trash directory; TEST_DEBUG=1
# keeps it always; TEST_TIMES=1 follows each test with "# time: SECONDS".

TEST_DIRECTORY=$(cd "$(dirname "$0")" && pwd)
TEST_NAME=$(basename "$0" .sh)
TRASH_DIRECTORY="$TEST_DIRECTORY/trash.$TEST_NAME"

for arg in "$@"; do
	case "$arg" in
	-v|--verbose) TEST_VERBOSE=1 ;;
	-i|--immediate) TEST_IMMEDIATE=1 ;;
	-d|--debug) TEST_DEBUG=1 ;;
	esac
done

test_count=0
test_passed=0
test_failed=0
test_skipped=0
test_broken=0
test_cleanup=
test_atexit_cmds=
test_prereqs=" "

# Run as root on CI: keep the PATH sane and the locale plain.
export LC_ALL=C TZ=UTC
unset CDPATH

say () { printf '%s\n' "$*"; }
say_color () { shift; say "$@"; }

rm -rf "$TRASH_DIRECTORY" || {
	say "Bail out! cannot remove $TRASH_DIRECTORY"
	exit 1
}
mkdir -p "$TRASH_DIRECTORY" && cd "$TRASH_DIRECTORY" || exit 1
HOME="$TRASH_DIRECTORY"
export HOME

if [ -n "$TEST_VERBOSE" ]; then
	exec 4>&2 3>&1
else
	exec 4>/dev/null 3>/dev/null
fi

test_set_prereq () { test_prereqs="$test_prereqs$1 "; }

test_have_prereq () {
	local p
	for p in $(printf '%s' "$1" | tr ',' ' '); do
		case "$p" in
		!*) case "$test_prereqs" in *" ${p#!} "*) return 1 ;; esac ;;
		*) case "$test_prereqs" in *" $p "*) ;; *) return 1 ;; esac ;;
		esac
	done
	return 0
}

test_when_finished () {
	test_cleanup="{ $*
} && (exit \"\$eval_ret\"); eval_ret=\$?; $test_cleanup"
}

test_atexit () {
	test_atexit_cmds="{ $*
} ; $test_atexit_cmds"
}

test_run_atexit () {
	if [ -n "$test_atexit_cmds" ]; then
		eval "$test_atexit_cmds" >&3 2>&4
		test_atexit_cmds=
	fi
}

trap 'test_run_atexit' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

test_must_fail () {
	"$@"
	local code=$?
	if [ $code -eq 0 ]; then
		echo >&4 "test_must_fail: command succeeded: $*"
		return 1
	elif [ $code -gt 128 ] && [ $code -le 192 ]; then
		echo >&4 "test_must_fail: died by signal $((code - 128)): $*"
		return 1
	elif [ $code -eq 127 ]; then
		echo >&4 "test_must_fail: command not found: $*"
		return 1
	fi
	return 0
}

test_expect_code () {
	local want=$1
	shift
	"$@"
	local code=$?
	[ $code -eq "$want" ] && return 0
	echo >&4 "test_expect_code: command exited $code, wanted $want: $*"
	return 1
}

test_cmp () {
	diff -u "$@" >&4 2>&4 || {
		diff -u "$@" >&2
		return 1
	}
}

test_seq () { seq "$@"; }

# The body runs in a function of its own: a `return` in it (`... || return
# 1` in a loop) ends the body, not test_run_, so the cleanup still runs.
test_eval_body_ () {
	eval "$1"
}

test_run_ () {
	test_cleanup=:
	eval_ret=0
	test_t0_=$EPOCHREALTIME
	test_eval_body_ "$1" >&3 2>&4
	eval_ret=$?
	eval "$test_cleanup" >&3 2>&4
	return $eval_ret
}

# test_time_: with TEST_TIMES, the wall time of the test just run
test_time_ () {
	[ -n "$TEST_TIMES" ] || return 0
	local t1=$EPOCHREALTIME
	local us=$(( (${t1/./} - ${test_t0_/./}) ))
	say "# time: $((us / 1000000)).$(printf %02d $((us % 1000000 / 10000)))"
}

test_start_ () {
	test_count=$((test_count + 1))
}

test_skip_ () {	# title prereq
	if [ -n "$2" ] && ! test_have_prereq "$2"; then
		test_skipped=$((test_skipped + 1))
		say "ok $test_count # skip $1 (missing $2)"
		return 0
	fi
	return 1
}

test_expect_success () {
	local prereq=
	[ $# -eq 3 ] && { prereq=$1; shift; }
	test_start_
	test_skip_ "$1" "$prereq" && return 0
	[ -n "$TEST_VERBOSE" ] && say "expecting success: $2"
	if test_run_ "$2"; then
		test_passed=$((test_passed + 1))
		say "ok $test_count - $1"
		test_time_
	else
		test_failed=$((test_failed + 1))
		say "not ok $test_count - $1"
		printf '%s\n' "$2" | sed 's/^/#	/'
		if [ -n "$TEST_IMMEDIATE" ]; then
			TEST_DEBUG=1
			test_done
		fi
	fi
}

test_expect_failure () {
	local prereq=
	[ $# -eq 3 ] && { prereq=$1; shift; }
	test_start_
	test_skip_ "$1" "$prereq" && return 0
	if test_run_ "$2"; then
		test_passed=$((test_passed + 1))
		say "ok $test_count - $1 # TODO known breakage vanished"
	else
		test_broken=$((test_broken + 1))
		say "not ok $test_count - $1 # TODO known breakage"
	fi
}

test_done () {
	test_run_atexit
	if [ -n "$skip_all" ] && [ $test_count -eq 0 ]; then
		say "1..0 # SKIP $skip_all"
		say "SKIPPED: $TEST_NAME: $skip_all" >&2
		say "0 passed, 0 failed, 1 skipped"
		cd "$TEST_DIRECTORY" && rm -rf "$TRASH_DIRECTORY"
		exit 0
	fi
	say "1..$test_count"
	say "$test_passed passed, $test_failed failed, $test_skipped skipped"
	if [ $test_failed -eq 0 ] && [ -z "$TEST_DEBUG" ]; then
		cd "$TEST_DIRECTORY" && rm -rf "$TRASH_DIRECTORY"
	fi
	[ $test_failed -eq 0 ]
	exit $?
}
