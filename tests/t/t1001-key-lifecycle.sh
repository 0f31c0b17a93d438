#!/bin/bash

test_description='key lifecycle: create, rotate, set, delete, recover, purge'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_expect_success 'setup' '
	ssefs_setup_vault
'

test_expect_success 'create prints the kid; default size is 3072' '
	ssefs key create k1 >kid &&
	grep -q "^vault://test/keys/k1/[0-9a-f]\{32\}$" kid &&
	ssefs key show k1 >out &&
	grep -q "^size: *3072$" out
'

test_expect_success JQ 'rotate twice: three versions, the newest is current' '
	ssefs key rotate k1 >v2 &&
	ssefs key rotate k1 >v3 &&
	ssefs --json key show k1 >j &&
	test "$(jq ".versions | length" j)" = 3 &&
	test "$(jq -r .kid j)" = "$(cat v3)" &&
	test "$(jq -r ".versions[0].kid" j)" = "$(cat kid)" &&
	test "$(jq -r ".versions[1].kid" j)" = "$(cat v2)"
'

test_expect_success JQ 'disable v2: its state is disabled, others usable' '
	v2=$(sed "s|.*/||" v2) &&
	ssefs key set k1/$v2 --enabled false &&
	ssefs --json key show k1 >j &&
	test "$(jq -r ".versions[1].state" j)" = disabled &&
	test "$(jq -r ".versions[1].enabled" j)" = false &&
	test "$(jq -r ".versions[0].state" j)" = usable &&
	test "$(jq -r ".versions[2].state" j)" = usable &&
	ssefs key set k1/$v2 --enabled true &&
	ssefs --json key show k1 >j &&
	test "$(jq -r ".versions[1].state" j)" = usable
'

test_expect_success JQ 'set on the key as a whole affects all versions' '
	ssefs key set k1 --enabled false &&
	ssefs --json key show k1 >j &&
	test "$(jq -r .enabled j)" = false &&
	test "$(jq -r "[.versions[].state] | unique | .[]" j)" = disabled &&
	ssefs key set k1 --enabled true &&
	ssefs --json key show k1 >j &&
	test "$(jq -r "[.versions[].state] | unique | .[]" j)" = usable
'

test_expect_success JQ 'expiry and not-before give their states' '
	ssefs key set k1/$(sed "s|.*/||" kid) --expires 2001-01-01T00:00:00Z &&
	ssefs key set k1/$(sed "s|.*/||" v3) --not-before 2999-01-01 &&
	ssefs --json key show k1 >j &&
	test "$(jq -r ".versions[0].state" j)" = expired &&
	test "$(jq -r ".versions[0].expires" j)" = 2001-01-01T00:00:00Z &&
	test "$(jq -r ".versions[2].state" j)" = not-yet-valid &&
	ssefs key set k1 --expires never --not-before never &&
	ssefs --json key show k1 >j &&
	test "$(jq -r "[.versions[].state] | unique | .[]" j)" = usable &&
	test "$(jq -r ".versions[0].expires" j)" = null
'

test_expect_success 'key expiring exits 3 within the window, 0 outside' '
	ssefs key create soon --size 2048 --expires "$(date -u -d "+10 days" +%Y-%m-%dT%H:%M:%SZ)" &&
	test_expect_code 3 ssefs key expiring >out &&
	grep -q "^vault://test/keys/soon/" out &&
	test_expect_code 0 ssefs key expiring --within 5d >out &&
	! test -s out
'

test_expect_success JQ 'policy is stored and shown' '
	ssefs key policy k1 --rotate-after 90d --notify-before 7d &&
	ssefs --json key show k1 >j &&
	test "$(jq -r .policy.rotateAfter j)" = 7776000 &&
	test "$(jq -r .policy.notifyBefore j)" = 604800
'

test_expect_success JQ 'delete: deleted state, name reserved' '
	ssefs key delete k1 &&
	ssefs --json key show k1 >j &&
	test "$(jq -r .deleted j)" = true &&
	test "$(jq -r .scheduledPurgeDate j)" != null &&
	test "$(jq -r "[.versions[].state] | unique | .[]" j)" = deleted &&
	test_expect_code 1 ssefs key create k1 2>err &&
	grep -q "^ssefs: key k1: name is held by a deleted key" err
'

test_expect_success JQ 'recover brings it back' '
	ssefs key recover k1 &&
	ssefs --json key show k1 >j &&
	test "$(jq -r .deleted j)" = false &&
	test "$(jq -r .versions[0].state j)" = usable
'

test_expect_success 'purge is refused under purge protection' '
	ssefs key delete k1 &&
	test_expect_code 1 ssefs key purge k1 2>err &&
	grep -q "^ssefs: key k1: purge protection is on" err &&
	ssefs key show k1 >/dev/null
'

test_expect_success 'purge is allowed at once with protection off' '
	ssefs vault set --purge-protection off &&
	ssefs key purge k1 &&
	test_expect_code 1 ssefs key show k1 2>err &&
	grep -q "^ssefs: key k1: no such key$" err &&
	! ls "$SSEFS_VAULT/keys" | grep -q "^k1\." &&
	ssefs key create k1 --size 2048
'

test_expect_success 'import a PKCS#1 and a PKCS#8 RSA key; refuse others' '
	openssl genrsa -traditional -out p1.pem 2048 2>/dev/null &&
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out p8.pem 2>/dev/null &&
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem 2>/dev/null &&
	openssl genrsa -out small.pem 1024 2>/dev/null &&
	ssefs key import i1 --pem p1.pem &&
	ssefs key import i8 --pem p8.pem &&
	test_expect_code 1 ssefs key import ie --pem ec.pem 2>err &&
	grep -q "^ssefs: ec.pem: not an RSA 2048, 3072 or 4096 private key$" err &&
	test_expect_code 1 ssefs key import is --pem small.pem 2>err &&
	grep -q "^ssefs: small.pem: not an RSA 2048, 3072 or 4096 private key$" err &&
	echo junk >junk.pem &&
	test_expect_code 1 ssefs key import ij --pem junk.pem 2>err &&
	grep -q "^ssefs: junk.pem: not a PEM private key" err
'

test_expect_success 'no private key material in the vault files in the clear' '
	! grep -rq "PRIVATE KEY" "$SSEFS_VAULT"
'

test_expect_success 'unknown names and bad usage' '
	test_expect_code 1 ssefs key rotate nope 2>err &&
	grep -q "^ssefs: key nope: no such key$" err &&
	test_expect_code 2 ssefs key create x --size 1024 &&
	test_expect_code 2 ssefs key frob &&
	test_expect_code 2 ssefs key set k1 --enabled maybe
'

test_expect_success JQ 'key list --json is an array of keys' '
	ssefs --json key list >j &&
	jq -r ".[].name" j >names &&
	printf "i1\ni8\nk1\nsoon\n" >expect &&
	test_cmp expect names
'

test_expect_success 'every change is in a verified audit log' '
	ssefs vault audit --verify &&
	ssefs vault audit >log &&
	for op in create rotate set delete recover purge policy import; do
		grep -q "\"op\":\"$op\"" log || return 1
	done
'

test_done
