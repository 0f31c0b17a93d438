#!/bin/bash

test_description='keys: create, rotate, disable, delete, recover, purge, expiry'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_expect_success 'setup' '
	ssefs_setup_vault
'

test_expect_success 'create prints the kid of version 1 (default 3072 bits)' '
	ssefs key create k1 >kid1 &&
	grep -q "^vault://test/keys/k1/[0-9a-f]\{32\}$" kid1 &&
	ssefs --json key show k1 >k1.json &&
	test "$(jq -r .size k1.json)" = 3072 &&
	test "$(jq -r .kid k1.json)" = "$(cat kid1)" &&
	test "$(jq ".versions | length" k1.json)" = 1 &&
	test "$(jq -r ".versions[0].state" k1.json)" = usable
'

test_expect_success 'create refuses an existing name, a bad name and a bad size' '
	test_expect_code 1 ssefs key create k1 --size 2048 2>err &&
	grep -q "^ssefs: key k1: already exists$" err &&
	test_expect_code 2 ssefs key create "bad_name" 2>err &&
	test_expect_code 2 ssefs key create platform 2>err &&
	grep -q "bad name" err &&
	test_expect_code 2 ssefs key create k9 --size 1024 2>err &&
	grep -q "^ssefs: --size: want 2048, 3072 or 4096" err
'

test_expect_success 'rotate twice: the newest version is current' '
	ssefs key rotate k1 >kid2 &&
	ssefs --json key rotate k1 >r.json &&
	jq -r .kid r.json >kid3 &&
	test "$(jq ".versions | length" r.json)" = 3 &&
	test "$(jq -r ".versions[2].kid" r.json)" = "$(cat kid3)" &&
	test "$(ssefs --json key show k1 | jq -r .kid)" = "$(cat kid3)" &&
	! test_cmp kid1 kid2 >/dev/null
'

test_expect_success 'disable version 2: its state is disabled, the others usable' '
	v2=$(sed "s,.*/,," kid2) &&
	ssefs key set "k1/$v2" --enabled false &&
	ssefs --json key show k1 >s.json &&
	test "$(jq -r ".versions[1].state" s.json)" = disabled &&
	test "$(jq -r ".versions[1].enabled" s.json)" = false &&
	test "$(jq -r ".versions[0].state" s.json)" = usable &&
	ssefs --json key show "k1/$v2" >one.json &&
	test "$(jq ".versions | length" one.json)" = 1 &&
	test "$(jq -r ".versions[0].state" one.json)" = disabled
'

test_expect_success 're-enable it' '
	v2=$(sed "s,.*/,," kid2) &&
	ssefs key set "k1/$v2" --enabled true &&
	test "$(ssefs --json key show k1 | jq -r ".versions[1].state")" = usable
'

test_expect_success 'set without a version acts on the whole key' '
	ssefs key set k1 --enabled false &&
	ssefs --json key show k1 >s.json &&
	test "$(jq -r .enabled s.json)" = false &&
	test "$(jq -r "[.versions[].state] | unique | join(\",\")" s.json)" = disabled &&
	ssefs key set k1 --enabled true &&
	test "$(ssefs --json key show k1 | jq -r "[.versions[].state] | unique | join(\",\")")" = usable
'

test_expect_success 'expires and not-before give their states' '
	v1=$(sed "s,.*/,," kid1) &&
	ssefs key set "k1/$v1" --expires 2001-01-01 &&
	test "$(ssefs --json key show k1 | jq -r ".versions[0].state")" = expired &&
	ssefs key set "k1/$v1" --expires never --not-before 2999-01-01T00:00:00Z &&
	ssefs --json key show k1 >s.json &&
	test "$(jq -r ".versions[0].state" s.json)" = not-yet-valid &&
	test "$(jq -r ".versions[0].notBefore" s.json)" = 2999-01-01T00:00:00Z &&
	test "$(jq -r ".versions[0].expires" s.json)" = null &&
	ssefs key set "k1/$v1" --not-before never &&
	test "$(ssefs --json key show k1 | jq -r ".versions[0].state")" = usable
'

test_expect_success 'set on a missing key or version fails naming it' '
	test_expect_code 1 ssefs key set nokey --enabled false 2>err &&
	grep -q "^ssefs: key nokey: no such key$" err &&
	test_expect_code 1 ssefs key set k1/0123456789abcdef0123456789abcdef --enabled false 2>err &&
	grep -q "^ssefs: key k1/0123456789abcdef0123456789abcdef: no such key or version$" err &&
	test_expect_code 2 ssefs key set k1 --enabled maybe
'

test_expect_success 'key expiring: exit 3 when a version expires within the window' '
	ssefs key create e1 --size 2048 >/dev/null &&
	ssefs key expiring --within 30d >out &&
	test ! -s out &&
	soon=$(date -u -d "+10 days" +%Y-%m-%dT%H:%M:%SZ) &&
	ssefs key create e2 --size 2048 --expires "$soon" >kide2 &&
	test_expect_code 3 ssefs key expiring >out &&
	grep -q "^$(cat kide2)  expires $soon$" out &&
	ssefs key expiring --within 5d &&
	test_expect_code 3 ssefs --json key expiring --within 11d >e.json &&
	test "$(jq -r ".[0].kid" e.json)" = "$(cat kide2)"
'

test_expect_success 'policy is stored and shown' '
	ssefs key policy k1 --rotate-after 90d --notify-before 7d &&
	ssefs --json key show k1 >p.json &&
	test "$(jq -r .policy.rotateAfter p.json)" = 7776000 &&
	test "$(jq -r .policy.notifyBefore p.json)" = 604800 &&
	ssefs key show k1 | grep -q "^policy:   rotate-after 90d notify-before 7d$"
'

test_expect_success 'key expiring without --within: each key'"'"'s notify-before' '
	ssefs key policy e2 --notify-before 5d &&
	ssefs key expiring >out &&
	test ! -s out &&
	ssefs key policy e2 --notify-before 60d &&
	test_expect_code 3 ssefs key expiring >out &&
	grep -q "^$(cat kide2)  expires" out &&
	ssefs key expiring --within 5d &&
	ssefs key policy e2 --notify-before 0 &&
	test_expect_code 3 ssefs key expiring
'

test_expect_success 'list shows every key' '
	ssefs --json key list >l.json &&
	test "$(jq -r "[.[].name] | join(\",\")" l.json)" = "e1,e2,k1" &&
	ssefs key list | grep -q "^k1 "
'

test_expect_success 'delete: state deleted, name reserved, purge refused under protection' '
	ssefs key delete k1 &&
	ssefs --json key show k1 >d.json &&
	test "$(jq -r .deleted d.json)" = true &&
	test "$(jq -r .deletedDate d.json)" != null &&
	test "$(jq -r .scheduledPurgeDate d.json)" != null &&
	test "$(jq -r "[.versions[].state] | unique | join(\",\")" d.json)" = deleted &&
	test_expect_code 1 ssefs key create k1 2>err &&
	grep -q "^ssefs: key k1: name is held by a deleted key" err &&
	test_expect_code 1 ssefs key rotate k1 2>err &&
	test_expect_code 1 ssefs key purge k1 2>err &&
	grep -q "^ssefs: key k1: purge protection is on" err
'

test_expect_success 'recover brings it back' '
	ssefs key recover k1 &&
	ssefs --json key show k1 >d.json &&
	test "$(jq -r .deleted d.json)" = false &&
	test "$(jq -r .versions[0].state d.json)" = usable &&
	test_expect_code 1 ssefs key recover k1 2>err &&
	grep -q "not deleted" err
'

test_expect_success 'purge protection once on cannot be switched off' '
	ssefs key delete k1 &&
	test_expect_code 1 ssefs vault set --purge-protection off 2>err &&
	test "$(wc -l <err)" = 1 &&
	grep -q "^ssefs: vault .*: purge protection is on and cannot be switched off (once on, it stays on, as in Azure Key Vault)$" err &&
	test_expect_code 1 ssefs key purge k1 2>err &&
	grep -q "^ssefs: key k1: purge protection is on" err &&
	test -e "$SSEFS_VAULT/keys/k1" &&
	ssefs vault audit | tail -n 2 >a &&
	grep -q "\"op\":\"set purge-protection=off\".*\"result\":\"error: Operation not permitted\"" a &&
	ssefs key recover k1
'

test_expect_success 'with protection off (chosen at init) purge removes it at once' '
	ssefs --vault nopp vault init --name nopp --purge-protection off >/dev/null &&
	ssefs --vault nopp key create k1 --size 2048 >/dev/null &&
	ssefs --vault nopp key delete k1 &&
	ssefs --vault nopp key purge k1 &&
	test_expect_code 1 ssefs --vault nopp key show k1 2>err &&
	grep -q "^ssefs: key k1: no such key$" err &&
	test ! -e nopp/keys/k1 &&
	ssefs --vault nopp vault set --purge-protection on &&
	test_expect_code 1 ssefs --vault nopp vault set --purge-protection off
'

test_expect_success 'import: an RSA PEM key, PKCS#1 or PKCS#8; others refused' '
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out p8.pem 2>/dev/null &&
	ssefs key import imp8 --pem p8.pem >ikid &&
	grep -q "^vault://test/keys/imp8/" ikid &&
	openssl rsa -in p8.pem -traditional -out p1.pem 2>/dev/null &&
	grep -q "BEGIN RSA PRIVATE KEY" p1.pem &&
	ssefs key import imp1 --pem p1.pem &&
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem 2>/dev/null &&
	test_expect_code 1 ssefs key import ec --pem ec.pem 2>err &&
	grep -q "^ssefs: ec.pem: not an RSA 2048, 3072 or 4096 private key$" err &&
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out small.pem 2>/dev/null &&
	test_expect_code 1 ssefs key import small --pem small.pem 2>err &&
	grep -q "not an RSA 2048" err &&
	test_expect_code 2 ssefs key import nopem
'

test_expect_success 'every change is in the audit log, and the chain holds' '
	ssefs vault audit >log &&
	for op in create rotate set delete recover purge policy import; do
		jq -r .op log | grep -q "^$op$" || return 1
	done &&
	! grep -q "PRIVATE" log &&
	ssefs vault audit --verify
'

test_expect_success 'help and usage errors' '
	ssefs key --help | grep -q "^usage: ssefs key create" &&
	test_expect_code 2 ssefs key frob 2>err &&
	grep -q "^ssefs: key: unknown subcommand" err &&
	test_expect_code 2 ssefs key rotate
'

# key_show_says REF WHAT: usage error, one line naming REF and the part
key_show_says () {
	test_expect_code 2 ssefs key show "$1" 2>err &&
	test "$(wc -l <err)" = 1 &&
	{ grep -qF "ssefs: key show: $1: " err && grep -qF "$2" err; } ||
	{ cat err >&2; return 1; }
}

test_expect_success 'a malformed key reference says which part is wrong' '
	v=$(ssefs --json key show k1 | jq -r ".versions[0].version") &&
	key_show_says k1/xyz "VERSION \"xyz\" has '"'x'"' at position 1, not a lowercase hex digit; a version is 32 lowercase hex digits" &&
	key_show_says k1/ "VERSION after '"'/'"' is empty" &&
	key_show_says /$v "NAME is empty" &&
	key_show_says "k1/${v}0" "has 33 digits" &&
	key_show_says "k1/$(echo $v | tr a-f A-F)" "not a lowercase hex digit" &&
	key_show_says "k1/$v/x" "more than NAME/VERSION" &&
	key_show_says "bad name/$v" "NAME \"bad name\" has '"' '"' at position 4" &&
	key_show_says vault://test/keys/k1 "a kid is vault://VAULT/keys/NAME/VERSION" &&
	test_expect_code 2 ssefs key set k1/12 --enabled true 2>err &&
	grep -q "^ssefs: key set: k1/12: VERSION \"12\" has 2 digits" err &&
	test_expect_code 2 ssefs des create dbad --key k1/zz 2>err &&
	grep -q "^ssefs: --key: k1/zz: VERSION \"zz\"" err &&
	: a well-formed version the key lacks is another matter &&
	test_expect_code 1 ssefs key show k1/0123456789abcdef0123456789abcdef 2>err &&
	grep -q "no such version" err
'

test_done
