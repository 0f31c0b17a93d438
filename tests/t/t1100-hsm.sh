#!/bin/bash

test_description='hsm keys: RSA keys generated in a PKCS#11 token (SoftHSM2)
that wrap, unwrap, rotate and revoke like software keys, and never leave it'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

for m in /usr/lib/softhsm/libsofthsm2.so \
	 /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
	[ -r "$m" ] && { HSM_MODULE=$m; break; }
done
if [ -z "$HSM_MODULE" ] || ! command -v softhsm2-util >/dev/null; then
	echo "# SKIPPED: SoftHSM2 is not installed (apt-get install softhsm2)" >&2
	skip_all='SKIPPED: no SoftHSM2 (softhsm2-util, libsofthsm2.so)'
	test_done
fi
command -v pkcs11-tool >/dev/null && test_set_prereq PKCS11TOOL

# A token of this script's own, in the trash directory.
SOFTHSM2_CONF=$TRASH_DIRECTORY/softhsm2.conf
export SOFTHSM2_CONF
unset SSEFS_HSM_PIN_FILE
PIN=hsm-pin-8675309

# p11 ARGS...: pkcs11-tool logged in to our token
p11 () {
	pkcs11-tool --module "$HSM_MODULE" --token-label tk1 --login \
		--pin "$PIN" "$@"
}

test_expect_success 'setup: a SoftHSM2 token and a vault' '
	mkdir tokens &&
	printf "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n" \
		"$TRASH_DIRECTORY/tokens" >softhsm2.conf &&
	softhsm2-util --init-token --free --label tk1 --pin "$PIN" \
		--so-pin 12345678 >/dev/null &&
	printf "%s\n" "$PIN" >pin && chmod 600 pin &&
	# purge protection off from the start: the last test purges
	ssefs_setup_vault --purge-protection off
'

test_expect_success 'an hsm key needs a token first' '
	test_expect_code 1 ssefs key create h0 --protection hsm 2>err &&
	grep "^ssefs: key h0: no PKCS#11 token is configured" err &&
	test_expect_code 2 ssefs key create h0 --protection cloud 2>err &&
	grep "^ssefs: --protection: want software or hsm" err
'

test_expect_success 'vault set refuses a token that does not log in' '
	printf "wrong\n" >bad && chmod 600 bad &&
	test_expect_code 1 ssefs vault set --hsm-module "$HSM_MODULE" \
		--hsm-token tk1 --hsm-pin-file bad 2>err &&
	grep "^ssefs: vault .*: token tk1: wrong pin" err &&
	test_expect_code 1 ssefs vault set --hsm-module "$HSM_MODULE" \
		--hsm-token nosuch --hsm-pin-file pin 2>err &&
	grep "token nosuch: no token labelled" err &&
	chmod 644 pin &&
	test_expect_code 1 ssefs vault set --hsm-module "$HSM_MODULE" \
		--hsm-token tk1 --hsm-pin-file pin 2>err &&
	grep "pin file .*/pin: permissions 0644 are too open" err &&
	chmod 600 pin &&
	test_expect_code 2 ssefs vault set --hsm-module "$HSM_MODULE" 2>err &&
	grep "needs --hsm-module, --hsm-token and --hsm-pin-file" err &&
	ssefs --json vault show >show.json &&
	jq -e ".hsm == null" show.json
'

test_expect_success 'vault set records the token; vault show shows it' '
	ssefs vault set --hsm-module "$HSM_MODULE" --hsm-token tk1 \
		--hsm-pin-file pin &&
	ssefs --json vault show >show.json &&
	jq -e ".hsm.module == \"$HSM_MODULE\" and .hsm.token == \"tk1\" and
	       .hsm.pinFile == \"$TRASH_DIRECTORY/pin\"" show.json &&
	ssefs vault show >show.txt &&
	grep "^hsm token: *tk1$" show.txt
'

test_expect_success 'key create --protection hsm makes the key pair in the token' '
	ssefs key create h1 --protection hsm --size 2048 >kid1 &&
	ssefs key create s1 --size 2048 >/dev/null &&
	ssefs --json key show h1 >h1.json &&
	jq -e ".protection == \"hsm\" and .size == 2048" h1.json &&
	test "$(jq -r .kid h1.json)" = "$(cat kid1)" &&
	ssefs --json key show s1 | jq -e ".protection == \"software\"" &&
	ssefs --json key list | jq -e "map(.protection) == [\"hsm\", \"software\"]" &&
	ssefs key list >list.txt &&
	grep "^h1 .* hsm " list.txt &&
	grep "^s1 .* software " list.txt
'

# (check_hsm proves it with C_GetAttributeValue(CKA_PRIVATE_EXPONENT);
# pkcs11-tool will not even try to read a private key.)
test_expect_success PKCS11TOOL 'the private key is sensitive and never extractable' '
	p11 --list-objects --type privkey >objs 2>/dev/null &&
	grep -F "label:      $(cat kid1)" objs &&
	grep "Access: *sensitive, always sensitive, never extractable" objs &&
	grep "Usage: *decrypt$" objs &&
	id=$(sed -n "s/^ *ID: *//p" objs | head -n 1) &&
	test -n "$id" &&
	p11 --read-object --type pubkey --id "$id" -o pub.der 2>/dev/null &&
	openssl pkey -pubin -inform DER -in pub.der -noout -text >pub.txt &&
	grep "Public-Key: (2048 bit)" pub.txt
'

test_expect_success 'the vault holds no private key of an hsm key, nor the PIN' '
	ls vault/keys/h1/*.sealed >sealed &&
	test "$(wc -l <sealed)" = 1 &&
	sz=$(wc -c <"$(cat sealed)") &&
	ssz=$(wc -c <"$(ls vault/keys/s1/*.sealed)") &&
	test "$sz" -lt 400 && test "$ssz" -gt 1000 &&
	! grep -r -F "$PIN" vault &&
	ssefs vault audit >audit.txt &&
	grep -F "\"set hsm-module\"" audit.txt &&
	! grep -F "$PIN" audit.txt
'

test_expect_success 'wrong PIN at use: one line naming the key and the token' '
	SSEFS_HSM_PIN_FILE=bad test_expect_code 1 ssefs key create h2 \
		--protection hsm 2>err &&
	grep "^ssefs: key h2: token tk1: wrong pin" err &&
	test "$(wc -l <err)" = 1 &&
	test_expect_code 1 ssefs key show h2
'

test_expect_success 'key import --protection hsm is refused' '
	openssl genrsa -out k.pem 2048 2>/dev/null &&
	test_expect_code 2 ssefs key import i1 --pem k.pem --protection hsm 2>err &&
	grep "cannot become an hsm key" err
'

test_expect_success 'a DES and a disk on the hsm key; the disk opens' '
	ssefs des create des1 --key h1 --auto-rotate >/dev/null &&
	mkdir store &&
	ssefs disk create store/d.vhd --size 16M --des des1 >/dev/null &&
	kid_is "$(cat kid1)" &&
	ssefs disk verify store/d.vhd
'

test_expect_success FUSE,JQ 'mount, write, read back through the token' '
	ssefs_mount store mnt "key_check_interval=1s,revoke_grace=0,rotate_interval=1s" &&
	head -c 1M /dev/urandom >want &&
	dd if=want of=mnt/d.vhd bs=1M conv=notrunc,fsync 2>/dev/null &&
	exec 7<mnt/d.vhd &&
	read_first_mib got && cmp got want &&
	test "$(disk_state)" = ok
'

test_expect_success FUSE,JQ 'key rotate makes the new version in the token; the disk moves to it' '
	ssefs key rotate h1 >kid2 &&
	ssefs --json key show h1 | jq -e ".versions | length == 2" &&
	ssefs rotate store >rot.out &&
	wait_for kid_is "$(cat kid2)" &&
	read_first_mib got && cmp got want
'

test_expect_success FUSE,JQ,PKCS11TOOL 'both versions live in the token' '
	p11 --list-objects --type privkey >objs 2>/dev/null &&
	grep -F "label:      $(cat kid1)" objs &&
	grep -F "label:      $(cat kid2)" objs
'

test_expect_success FUSE,JQ 'disable the key: I/O stops; enable it: I/O resumes' '
	ssefs key set h1 --enabled false &&
	wait_for revoked &&
	ssefs key set h1 --enabled true &&
	wait_for resumed
'

test_expect_success FUSE,JQ 'a remount unwraps in the token again' '
	exec 7<&- &&
	ssefs_umount mnt &&
	ssefs_mount store mnt "key_check_interval=1s,revoke_grace=0" &&
	read_first_mib got && cmp got want &&
	ssefs_umount mnt
'

test_expect_success FUSE 'a mount whose PIN is wrong cannot open the disk' '
	SSEFS_HSM_PIN_FILE=bad ssefs_mount store mnt &&
	test_must_fail dd if=mnt/d.vhd of=/dev/null bs=4096 count=1 2>err &&
	grep "Permission denied" err &&
	ssefs_umount mnt &&
	grep "key vault://test/keys/h1/[0-9a-f]*: token tk1: wrong pin" mnt.log &&
	ssefs vault audit | grep "\"op\":\"unwrap\"" | tail -n 1 >last &&
	grep "\"op\":\"unwrap\".*\"result\":\"error: Permission denied\"" last
'

test_expect_success 'disk commands name the token when it refuses' '
	SSEFS_HSM_PIN_FILE=bad test_expect_code 1 ssefs disk export \
		store/d.vhd never.vhd 2>err &&
	cat err &&
	grep "^ssefs: .*token tk1: wrong pin (from .*/bad)" err &&
	test "$(wc -l <err)" = 1 &&
	! test -e never.vhd
'

test_expect_success 'backup and restore: the restored vault uses the same token' '
	ssefs vault backup bk &&
	! grep -a -F "$PIN" bk &&
	cp vault.key restored.key &&
	ssefs --vault "$TRASH_DIRECTORY/restored" vault restore bk >/dev/null &&
	ssefs --vault "$TRASH_DIRECTORY/restored" disk export store/d.vhd out.vhd &&
	head -c 1M out.vhd | cmp - want
'

test_expect_success '--hsm-module none is refused while hsm keys exist' '
	test_expect_code 1 ssefs vault set --hsm-module none 2>err &&
	grep "hsm keys exist" err
'

test_expect_success 'purge destroys the token objects; then the token can go' '
	if test_have_prereq PKCS11TOOL
	then
		p11 --list-objects >objs 2>/dev/null &&
		test "$(grep -c -F "vault://test/keys/h1/" objs)" = 4
	fi &&
	ssefs key delete h1 &&
	ssefs key purge h1 &&
	test_expect_code 1 ssefs key show h1 &&
	if test_have_prereq PKCS11TOOL
	then
		p11 --list-objects >objs 2>/dev/null &&
		! grep -F "vault://test/keys/h1/" objs
	fi &&
	ssefs vault set --hsm-module none &&
	ssefs --json vault show | jq -e ".hsm == null"
'

test_done
