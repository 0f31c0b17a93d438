#!/bin/bash

test_description='the progress line of long work: import, export, snapshot, rotate'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

command -v script >/dev/null && test_set_prereq SCRIPT

# The last state drawn: what follows the last carriage return.
last_line () {
	tr '\r' '\n' <"$1" | grep -v "^ *$" | tail -1
}

test_expect_success 'setup: vault, key, a set, a 24 MiB image' '
	ssefs_setup_vault &&
	ssefs key create k1 --size 2048 >/dev/null &&
	ssefs des create d1 --key k1 --auto-rotate >/dev/null &&
	mkdir store &&
	random_file img 24
'

test_expect_success 'import --progress: bytes done, total, rate, a newline at the end' '
	ssefs --progress disk import img store/a.vhd --des d1 >out 2>err &&
	tr "\r" "\n" <err | grep -q "^import: 0 B / 24.0 MiB " &&
	last_line err >last &&
	grep -q "^import: 24.0 MiB / 24.0 MiB  100%  [0-9.]* [KMG]*i*B/s  in [0-9]*:[0-9][0-9] *$" last &&
	test "$(tail -c 1 err | od -An -c | tr -d " ")" = "\n" &&
	! grep -q "^ssefs:" err
'

test_expect_success 'without a terminal nothing is drawn: stderr is empty' '
	ssefs disk export store/a.vhd exp1 >out 2>err &&
	test ! -s err &&
	ssefs disk snapshot store/a.vhd store/s0.vhd >out 2>err &&
	test ! -s err &&
	cmp -n $((24 << 20)) img exp1
'

test_expect_success 'export and snapshot with --progress (after the command too)' '
	ssefs disk export store/a.vhd exp2 --progress >out 2>err &&
	last_line err | grep -q "^export: 24.0 MiB / 24.0 MiB  100% " &&
	ssefs disk snapshot store/a.vhd store/s1.vhd --progress >out 2>err &&
	last_line err | grep -q "^snapshot: [0-9.]* MiB / [0-9.]* MiB  100% "
'

test_expect_success '--quiet wins over --progress; --json alone draws nothing' '
	ssefs --progress --quiet disk export store/a.vhd exp3 2>err &&
	test ! -s err &&
	ssefs disk export store/a.vhd exp4 --quiet --progress 2>err &&
	test ! -s err &&
	ssefs --json disk snapshot store/a.vhd store/s2.vhd >out 2>err &&
	test ! -s err &&
	jq -e .uuid out >/dev/null
'

test_expect_success '--json --progress: the JSON on stdout, the line on stderr' '
	ssefs --json --progress disk snapshot store/a.vhd store/s3.vhd >out 2>err &&
	jq -e .uuid out >/dev/null &&
	last_line err | grep -q "^snapshot: .* 100% "
'

test_expect_success 'rotate --progress counts disks' '
	ssefs disk create store/b.vhd --size 1M --des d1 >/dev/null &&
	ssefs key rotate k1 >/dev/null &&
	ssefs rotate store --progress >out 2>err &&
	last_line err >last &&
	grep -q "^rotate: 6 / 6 disks  100%  [0-9.]*/s  in 0:[0-9][0-9] *$" last &&
	grep -q "6 disks re-wrapped" out
'

test_expect_success SCRIPT 'on a terminal the line is drawn without --progress' '
	script -qec "$SSEFS_BIN disk export store/a.vhd exp5" /dev/null >tty &&
	last_line tty | grep -q "^export: 24.0 MiB / 24.0 MiB  100% " &&
	script -qec "$SSEFS_BIN --quiet disk export store/a.vhd exp6" /dev/null >tty &&
	! grep -q "export:" tty
'

test_done
