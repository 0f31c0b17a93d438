#!/bin/bash

test_description='command line basics: help, version, usage errors'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_expect_success '--help lists the commands and exits 0' '
	ssefs --help >out &&
	grep -q "^usage: ssefs" out &&
	for c in vault key des disk rotate mount status; do
		grep -q "^  $c " out || return 1
	done
'

test_expect_success '--version' '
	ssefs --version >out &&
	grep -q "^ssefs [0-9]" out
'

test_expect_success 'no command: usage on stderr, exit 2' '
	test_expect_code 2 ssefs 2>err &&
	grep -q "^usage:" err
'

test_expect_success 'an unknown command exits 2 with one error line' '
	test_expect_code 2 ssefs frobnicate 2>err &&
	grep -q "^ssefs: frobnicate: unknown command$" err &&
	test "$(wc -l <err)" = 1
'

test_expect_success 'an unknown global option exits 2' '
	test_expect_code 2 ssefs --frob 2>err &&
	grep -q "^ssefs: --frob: unknown option$" err
'

test_expect_success 'a global option without its value exits 2' '
	test_expect_code 2 ssefs key list --vault 2>err &&
	grep -q "^ssefs: --vault: needs a value$" err
'

# The harness itself: "|| return 1" in a body (the idiom of the loops in
# these tests) must not skip the body's test_when_finished, or a failed
# test would leave its mounts behind.
test_expect_success 'test-lib: a body that returns early still runs its cleanup' '
	rm -f cleaned &&
	( test_run_ "test_when_finished \"touch cleaned\" &&
		     for i in 1; do false || return 1; done" ) ;
	test -f cleaned
'

test_done
