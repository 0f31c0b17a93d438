#!/bin/bash

test_description='kill -9 of key rotate: the next vault open clears what was left'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq JQ || { skip_all='needs jq'; test_done; }
strace -f -o /dev/null -e inject=fsync:delay_enter=1 true 2>/dev/null &&
	command -v pgrep >/dev/null && test_set_prereq STRACE

# vault_files: every file in the vault but the orphans folder, by name
vault_files () {
	(cd "$SSEFS_VAULT" && find . -path ./orphans -prune -o -type f -print | sort)
}

# consistent: each listed version has its file, each version file is
# listed, no temporary file is left, and every version unwraps
consistent () {
	ssefs --json key show k1 >k1.json &&
	jq -r ".versions[].version" k1.json | sort >listed &&
	(cd "$SSEFS_VAULT/keys/k1" && ls | sed -n "s/\.sealed$//p" | sort) >files &&
	test_cmp listed files &&
	! vault_files | grep -q "\.tmp-" &&
	test "$(ls -A "$SSEFS_VAULT/platform" | grep -c -v "^[0-9a-f]\{32\}\.sealed$")" = 0
}

test_expect_success 'setup: a vault, a key, a disk under it' '
	ssefs_setup_vault &&
	ssefs key create k1 --size 2048 >/dev/null &&
	mkdir store &&
	ssefs disk create store/d.vhd --size 4M --key k1 >/dev/null
'

test_expect_success 'a version file no metadata lists, and temporary files: cleared at open' '
	v1=$(ls "$SSEFS_VAULT/keys/k1") &&
	cp "$SSEFS_VAULT/keys/k1/$v1" "$SSEFS_VAULT/keys/k1/0123456789abcdef0123456789abcdef.sealed" &&
	mkdir "$SSEFS_VAULT/keys/k9" &&
	cp "$SSEFS_VAULT/keys/k1/$v1" "$SSEFS_VAULT/keys/k9/fedcba9876543210fedcba9876543210.sealed" &&
	echo x >"$SSEFS_VAULT/keys/k1/.00112233445566778899aabbccddeeff.sealed.tmp-0badcafe" &&
	echo x >"$SSEFS_VAULT/.vault.meta.tmp-12345678" &&
	echo keep >"$SSEFS_VAULT/keys/k1/notes.txt" &&
	touch -d "1 minute ago" "$SSEFS_VAULT/keys/k1/.00112233445566778899aabbccddeeff.sealed.tmp-0badcafe" \
		"$SSEFS_VAULT/.vault.meta.tmp-12345678" &&
	ssefs key list >/dev/null &&
	test ! -e "$SSEFS_VAULT/keys/k1/.00112233445566778899aabbccddeeff.sealed.tmp-0badcafe" &&
	test ! -e "$SSEFS_VAULT/.vault.meta.tmp-12345678" &&
	test ! -e "$SSEFS_VAULT/keys/k1/0123456789abcdef0123456789abcdef.sealed" &&
	test ! -e "$SSEFS_VAULT/keys/k9" &&
	test -f "$SSEFS_VAULT/orphans/keys.k1.0123456789abcdef0123456789abcdef.sealed" &&
	test -f "$SSEFS_VAULT/orphans/keys.k9.fedcba9876543210fedcba9876543210.sealed" &&
	# not of the vault'"'"'s making: left alone
	test -f "$SSEFS_VAULT/keys/k1/notes.txt" &&
	rm "$SSEFS_VAULT/keys/k1/notes.txt" &&
	ssefs vault audit >log &&
	test "$(jq -r "select(.op == \"orphan-quarantined\") | .kid" log | sort | tr "\n" " ")" = \
		"vault://test/keys/k1/0123456789abcdef0123456789abcdef vault://test/keys/k9/fedcba9876543210fedcba9876543210 " &&
	ssefs vault audit --verify &&
	consistent
'

test_expect_success 'kill -9 of key rotate at random moments, 20 times' '
	for n in $(test_seq 20); do
		if test_have_prereq STRACE
		then
			# slow syncs (a busy disk) widen the moments between
			# the version file and the metadata that lists it
			strace -f -o /dev/null -e trace=fsync,fdatasync \
				-e inject=fsync,fdatasync:delay_enter=100000 \
				"$SSEFS_BIN" key rotate k1 >/dev/null 2>&1 &
			pid=$!
			sleep 0.$((RANDOM % 90))
			kill -9 $(pgrep -P $pid) 2>/dev/null
		else
			"$SSEFS_BIN" key rotate k1 >/dev/null 2>&1 &
			pid=$!
			sleep 0.$((RANDOM % 40))
			kill -9 $pid 2>/dev/null
		fi
		wait $pid	# 137 when killed, 0 when it was done
	done
	echo "after the kills: $(vault_files | wc -l) files, $(vault_files | grep -c "\.tmp-") temporary" &&
	ssefs key list >/dev/null &&
	echo "after one open: $(vault_files | wc -l) files, $(ls "$SSEFS_VAULT/orphans" | wc -l) orphans" &&
	consistent &&
	# meta, lock, audit log and head, platform key; one file a version
	test "$(vault_files | wc -l)" = $((5 + $(jq ".versions | length" k1.json))) &&
	ssefs vault audit --verify &&
	ssefs key rotate k1 >kid &&
	ssefs disk rewrap store/d.vhd --key k1 >/dev/null &&
	test "$(ssefs --json disk show store/d.vhd | jq -r ".layers[0].kid")" = "$(cat kid)" &&
	ssefs disk verify store/d.vhd >/dev/null &&
	consistent
'

test_expect_success 'an open while another holds the lock leaves everything as it is' '
	v1=$(ls "$SSEFS_VAULT/keys/k1" | head -1) &&
	cp "$SSEFS_VAULT/keys/k1/$v1" "$SSEFS_VAULT/keys/k1/00000000000000000000000000000000.sealed" &&
	flock -s "$SSEFS_VAULT/vault.lock" -c "touch held; sleep 2" &
	for i in $(test_seq 50); do test -e held && break; sleep 0.1; done &&
	test -e held &&
	ssefs key list >/dev/null &&
	wait &&
	test -f "$SSEFS_VAULT/keys/k1/00000000000000000000000000000000.sealed" &&
	ssefs key list >/dev/null &&
	test ! -e "$SSEFS_VAULT/keys/k1/00000000000000000000000000000000.sealed"
'

test_done
