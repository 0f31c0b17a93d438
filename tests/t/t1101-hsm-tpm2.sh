#!/bin/bash

test_description='hsm keys on a TPM-backed PKCS#11 token (tpm2-pkcs11 on
swtpm), which does RSA-OAEP-256 in the token itself'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

TPM_MODULE=/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so
missing=
for c in swtpm tpm2-abrmd dbus-daemon tpm2_ptool; do
	command -v $c >/dev/null || missing="$missing $c"
done
[ -r "$TPM_MODULE" ] || missing="$missing libtpm2-pkcs11-1"
ls /usr/lib/*/libtss2-tcti-tabrmd.so* >/dev/null 2>&1 ||
	missing="$missing libtss2-tcti-tabrmd0"
if [ -n "$missing" ]; then
	echo "# SKIPPED: no TPM PKCS#11 stack (missing:$missing)" >&2
	skip_all="SKIPPED: no swtpm + tpm2-pkcs11 (missing:$missing)"
	test_done
fi
command -v pkcs11-tool >/dev/null && test_set_prereq PKCS11TOOL
UNIT=$TEST_DIRECTORY/../../build/unit-tests
case "$SSEFS_BIN" in
*build-san/*) UNIT=$TEST_DIRECTORY/../../build-san/unit-tests ;;
esac
[ -x "$UNIT" ] && test_set_prereq UNIT

# A port pair below the ephemeral range, from the pid, so parallel runs
# do not meet; start_tpm moves on if it is taken.
PORT=$(( 20000 + ($$ % 6000) * 2 ))
PIN=tpm-pin-4711
export TPM2_PKCS11_TCTI=tabrmd:bus_type=session
export TPM2TOOLS_TCTI=tabrmd:bus_type=session
export TPM2_PKCS11_STORE=$TRASH_DIRECTORY/p11store
export TPM2_PKCS11_LOG_LEVEL=0
unset SSEFS_HSM_PIN_FILE

# start_tpm: swtpm, a private session bus and tpm2-abrmd, each stopped at
# exit; waits until the TPM answers.
start_tpm () {
	mkdir tpmstate p11store || return 1
	for try in 1 2 3; do
		swtpm socket --tpm2 --server type=tcp,port=$PORT \
			--ctrl type=tcp,port=$((PORT + 1)) \
			--tpmstate dir="$PWD/tpmstate" \
			--flags not-need-init,startup-clear \
			</dev/null >swtpm.log 2>&1 3>&- 4>&- &
		test_atexit "kill $! 2>/dev/null"
		sleep 0.3
		kill -0 $! 2>/dev/null && break
		cat swtpm.log >&2
		PORT=$((PORT + 2))
	done
	dbus-daemon --session --print-address=1 --print-pid=2 --fork \
		</dev/null >dbus.addr 2>dbus.pid 3>&- 4>&- || return 1
	test_atexit "kill $(cat dbus.pid) 2>/dev/null"
	DBUS_SESSION_BUS_ADDRESS=$(cat dbus.addr)
	export DBUS_SESSION_BUS_ADDRESS
	sleep 0.3
	tpm2-abrmd --session --tcti=swtpm:port=$PORT --allow-root \
		</dev/null >abrmd.log 2>&1 3>&- 4>&- &
	test_atexit "kill $! 2>/dev/null"
	for i in $(test_seq 50); do
		tpm2_ptool init --path "$TPM2_PKCS11_STORE" >init.out 2>&1 &&
			return 0
		sleep 0.2
	done
	cat init.out >&2
	return 1
}

test_expect_success 'setup: swtpm, a session bus, tpm2-abrmd, a token' '
	start_tpm &&
	grep "^id: 1" init.out &&
	tpm2_ptool addtoken --pid=1 --label=tpmtk --userpin="$PIN" \
		--sopin=12345678 --path "$TPM2_PKCS11_STORE" &&
	printf "%s\n" "$PIN" >pin && chmod 600 pin &&
	# purge protection off from the start: the last test purges
	ssefs_setup_vault --purge-protection off
'

test_expect_success 'the token is recorded after a login' '
	ssefs vault set --hsm-module "$TPM_MODULE" --hsm-token tpmtk \
		--hsm-pin-file pin &&
	ssefs --json vault show | jq -e ".hsm.token == \"tpmtk\""
'

test_expect_success UNIT 'the token does RSA-OAEP-256 itself (no raw fallback)' '
	SSEFS_TEST_P11_MODULE=$TPM_MODULE SSEFS_TEST_P11_TOKEN=tpmtk \
	SSEFS_TEST_P11_PIN_FILE=$PWD/pin SSEFS_TEST_P11_OAEP=1 \
	CK_RUN_SUITE=hsm "$UNIT" >unit.out 2>&1 &&
	grep "external token: OAEP-256 in the token" unit.out &&
	grep "Failures: 0, Errors: 0" unit.out
'

test_expect_success 'an hsm key in the TPM: a disk imported, exported, re-wrapped' '
	ssefs key create t1 --protection hsm --size 2048 >kid1 &&
	ssefs --json key show t1 | jq -e ".protection == \"hsm\"" &&
	head -c 2M /dev/urandom >raw.img &&
	mkdir store &&
	ssefs disk import raw.img store/d.vhd --key t1 >/dev/null &&
	ssefs disk verify store/d.vhd &&
	ssefs disk export store/d.vhd out.vhd &&
	head -c 2M out.vhd | cmp - raw.img &&
	ssefs key rotate t1 >kid2 &&
	ssefs disk rewrap store/d.vhd &&
	test "$(ssefs --json disk show store/d.vhd | jq -r ".layers[0].kid")" = "$(cat kid2)" &&
	rm out.vhd &&
	ssefs disk export store/d.vhd out.vhd &&
	head -c 2M out.vhd | cmp - raw.img
'

test_expect_success PKCS11TOOL 'the private keys are in the TPM token, not extractable' '
	pkcs11-tool --module "$TPM_MODULE" --token-label tpmtk --login \
		--pin "$PIN" --list-objects --type privkey >objs 2>/dev/null &&
	grep -F "label:      $(cat kid1)" objs &&
	grep -F "label:      $(cat kid2)" objs &&
	grep "never extractable" objs
'

test_expect_success 'purge removes them from the token' '
	rm -f store/d.vhd &&
	ssefs key delete t1 && ssefs key purge t1 &&
	if test_have_prereq PKCS11TOOL
	then
		pkcs11-tool --module "$TPM_MODULE" --token-label tpmtk \
			--login --pin "$PIN" --list-objects >objs 2>/dev/null &&
		! grep -F "vault://test/keys/t1/" objs
	fi
'

test_done
