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

# --json on every command: one JSON document on stdout (an object; an
# array for the lists: key list, key expiring, des list, vault audit).
json_one () {	# KIND ARGS...: run ssefs --json ARGS, check its stdout
	local kind=$1 rc=0
	shift
	ssefs --json "$@" >json.out 2>json.err || rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then
		echo "ssefs $* failed ($rc): $(cat json.err)" >&2
		return 1
	fi
	if [ "$(jq -s length json.out 2>/dev/null)" != 1 ] ||
	   [ "$(jq -r type json.out)" != "$kind" ]; then
		echo "ssefs --json $*: not one $kind:" >&2
		cat json.out >&2
		return 1
	fi
}

test_expect_success JQ '--json: every command prints one JSON document' '
	mkdir js && (
	cd js &&
	SSEFS_VAULT=$PWD/v && export SSEFS_VAULT &&
	json_one object vault init --name js --purge-protection off &&
	json_one object vault show &&
	json_one object vault set --purge-protection off &&
	json_one object vault rotate-platform-key &&
	json_one object vault backup bk &&
	test "$(jq -r .backup json.out)" = "$PWD/bk" &&
	test "$(jq -r .bytes json.out)" = "$(stat -c %s bk)" &&
	json_one array vault audit &&
	json_one object vault audit --verify &&
	json_one object key create k1 --size 2048 --expires 2099-01-01 &&
	openssl genrsa -out p.pem 2048 2>/dev/null &&
	json_one object key import k2 --pem p.pem &&
	json_one array key list &&
	json_one object key show k1 &&
	json_one object key rotate k1 &&
	json_one object key set k1 --enabled true &&
	json_one object key policy k1 --notify-before 1d &&
	json_one object key policy k1 &&
	json_one array key expiring --within 36500d &&
	json_one object key delete k2 &&
	json_one object key recover k2 &&
	json_one object key delete k2 &&
	json_one object key purge k2 &&
	test "$(jq -r .purged json.out)" = true &&
	json_one object des create d1 --key k1 &&
	json_one object des update d1 --auto-rotate true &&
	json_one array des list &&
	json_one object des show d1 &&
	json_one object disk create a.vhd --size 1M --des d1 &&
	json_one object disk show a.vhd &&
	json_one object disk verify a.vhd &&
	json_one object disk rewrap a.vhd &&
	json_one object disk snapshot a.vhd b.vhd &&
	json_one object disk export a.vhd a.raw &&
	test "$(jq -r .dest json.out)" = "$PWD/a.raw" &&
	test "$(jq -r .vhdSizeBytes json.out)" = "$(stat -c %s a.raw)" &&
	json_one object disk import a.raw c.vhd &&
	json_one object rotate &&
	rm a.vhd b.vhd &&
	json_one object des delete d1 &&
	test "$(jq -c . json.out)" = "{\"name\":\"d1\",\"deleted\":true}" &&
	json_one object vault restore bk --vault "$PWD/v2" )
'

test_expect_success JQ,FUSE 'mount --json and status --json: one object each' '
	test_when_finished "fusermount3 -u js/mnt 2>/dev/null || :" &&
	( cd js &&
	SSEFS_VAULT=$PWD/v && export SSEFS_VAULT &&
	mkdir store mnt &&
	json_one object mount store mnt &&
	test "$(jq -r .mountpoint json.out)" = "$PWD/mnt" &&
	json_one object status mnt )
'

# One parser: every command takes whole option names only, the same way,
# and the global options before or after the command.
test_expect_success 'an abbreviated option is refused alike by every command, naming the option' '
	ssefs_setup_vault &&
	test_expect_code 2 ssefs disk create x.vhd --si 64M 2>err &&
	test "$(cat err)" = "ssefs: disk create: --si: unknown option (did you mean --size?)" &&
	test_expect_code 2 ssefs key create k --si 2048 2>err &&
	test "$(cat err)" = "ssefs: key create: --si: unknown option (did you mean --size?)" &&
	test_expect_code 2 ssefs key set k --enab=true 2>err &&
	grep -q "^ssefs: key set: --enab: unknown option (did you mean --enabled?)$" err &&
	test_expect_code 2 ssefs vault set --purge=off 2>err &&
	grep -q "^ssefs: vault set: --purge: unknown option (did you mean --purge-protection?)$" err &&
	test_expect_code 2 ssefs rotate --thr 2 2>err &&
	grep -q "^ssefs: rotate: --thr: unknown option (did you mean --threads?)$" err &&
	test_expect_code 2 ssefs mount --fore store mnt 2>err &&
	grep -q "^ssefs: mount: --fore: unknown option (did you mean --foreground?)$" err &&
	test_expect_code 2 ssefs key policy k --frob 2>err &&
	grep -q "^ssefs: key policy: --frob: unknown option$" err &&
	test_expect_code 2 ssefs key create k --size 2>err &&
	grep -q "^ssefs: key create: --size needs a value$" err &&
	! test -e x.vhd
'

test_expect_success 'global options work before and after the command, for every command' '
	mkdir gl && (
	cd gl && unset SSEFS_VAULT &&
	ssefs vault init --vault "$PWD/v" --name gl >/dev/null &&
	ssefs --vault "$PWD/v" key create k1 --size 2048 >/dev/null &&
	ssefs key create k2 --size=2048 --vault="$PWD/v" --json >k2.json &&
	jq -e .name k2.json >/dev/null &&
	ssefs key list --vault "$PWD/v" --json >l1 &&
	ssefs --json --vault "$PWD/v" key list >l2 &&
	test_cmp l1 l2 &&
	ssefs des create d1 --key k1 --vault "$PWD/v" >/dev/null &&
	ssefs --vault "$PWD/v" des show d1 --json >d1.json &&
	jq -e .name d1.json >/dev/null &&
	ssefs disk create a.vhd --size 1M --vault "$PWD/v" --des d1 --quiet >/dev/null &&
	ssefs --quiet --vault "$PWD/v" disk show a.vhd --json >a.json &&
	jq -e .uuid a.json >/dev/null &&
	ssefs vault show --json --vault "$PWD/v" >vs.json &&
	jq -e .name vs.json >/dev/null &&
	ssefs rotate --vault "$PWD/v" --json >r.json &&
	jq -e .disksFailed r.json >/dev/null )
'

test_expect_success '--help anywhere after a subcommand, and -- ends the options' '
	ssefs key set k1 --help >out && grep -q "^usage: ssefs key" out &&
	ssefs vault audit --help >out && grep -q "^usage: ssefs vault" out &&
	ssefs disk create x.vhd --help >out && grep -q "^usage: ssefs disk" out &&
	ssefs des delete d1 --help >out && grep -q "^usage: ssefs des" out &&
	ssefs vault backup b --help >out && grep -q "^usage: ssefs vault" out &&
	ssefs disk verify x.vhd --help >out && grep -q "^usage: ssefs disk" out &&
	test_expect_code 2 ssefs disk verify --frob x.vhd 2>err &&
	test "$(cat err)" = "ssefs: disk verify: --frob: unknown option" &&
	test_expect_code 2 ssefs key show k1 --x 2>err &&
	test "$(cat err)" = "ssefs: key show: --x: unknown option" &&
	test_expect_code 2 ssefs key create -- --size 2>err &&
	grep -q "bad name" err
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
