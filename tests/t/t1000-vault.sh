#!/bin/bash

test_description='vault: init, permissions, passphrase, backup/restore, audit'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_expect_success 'init makes a 0700 vault and a 0600 key file beside it' '
	ssefs vault init --name test >out &&
	grep -q "initialised vault test" out &&
	test "$(stat -c %a "$SSEFS_VAULT")" = 700 &&
	test "$(stat -c %a "$SSEFS_VAULT.key")" = 600 &&
	test -f "$SSEFS_VAULT/vault.meta" &&
	ssefs --json vault show >show.json &&
	test "$(jq -r .name show.json)" = test &&
	test "$(jq -r .purgeProtection show.json)" = true &&
	test "$(jq -r .retentionDays show.json)" = 90 &&
	jq -r .platformKid show.json | grep -q "^vault://test/platform/[0-9a-f]\{32\}$"
'

test_expect_success 'init refuses an existing vault' '
	test_expect_code 1 ssefs vault init 2>err &&
	grep -q "^ssefs: vault .*: already exists$" err
'

test_expect_success 'init refuses a bad name' '
	test_expect_code 2 ssefs --vault "$TRASH_DIRECTORY/bad" vault init --name Bad_Name 2>err &&
	grep -q "^ssefs: --name Bad_Name: a vault name is" err &&
	test ! -e "$TRASH_DIRECTORY/bad"
'

test_expect_success 'a 0644 key file is refused naming the file' '
	chmod 0644 "$SSEFS_VAULT.key" &&
	test_expect_code 1 ssefs key list 2>err &&
	chmod 0600 "$SSEFS_VAULT.key" &&
	grep -q "^ssefs: $SSEFS_VAULT.key: permissions 0644 are too open (want 0600)$" err
'

test_expect_success 'a 0755 vault directory is refused naming it' '
	chmod 0755 "$SSEFS_VAULT" &&
	test_expect_code 1 ssefs key list 2>err &&
	chmod 0700 "$SSEFS_VAULT" &&
	grep -q "^ssefs: $SSEFS_VAULT: permissions 0755 are too open (want 0700)$" err &&
	ssefs key list
'

test_expect_success 'a passphrase vault: a wrong passphrase changes nothing' '
	P="$TRASH_DIRECTORY/pv" &&
	printf "secret words\n" >good && printf "secret wordz\n" >bad &&
	ssefs --vault "$P" vault init --name pv --passphrase-file good &&
	test ! -e "$P.key" &&
	SSEFS_PASSPHRASE_FILE=good ssefs --vault "$P" key create k1 --size 2048 &&
	(cd "$P" && find . -type f | sort | xargs sha256sum) >before &&
	test_expect_code 1 ssefs --vault "$P" --passphrase-file bad key create k2 2>err &&
	grep -q "^ssefs: vault $P: wrong passphrase or key file$" err &&
	test_expect_code 1 ssefs --vault "$P" --passphrase-file bad key set k1 --enabled false &&
	(cd "$P" && find . -type f | sort | xargs sha256sum) >after &&
	test_cmp before after &&
	ssefs --vault "$P" --passphrase-file good --json key show k1 >k1.json &&
	test "$(jq -r .enabled k1.json)" = true
'

test_expect_success 'a key file given at init is remembered' '
	K="$TRASH_DIRECTORY/keys/master.key" &&
	mkdir -p "$TRASH_DIRECTORY/keys" &&
	ssefs --vault "$TRASH_DIRECTORY/kv" vault init --name kv --keyfile "$K" &&
	test "$(stat -c %a "$K")" = 600 &&
	test ! -e "$TRASH_DIRECTORY/kv.key" &&
	ssefs --vault "$TRASH_DIRECTORY/kv" key create k --size 2048 >/dev/null &&
	chmod 0640 "$K" &&
	test_expect_code 1 ssefs --vault "$TRASH_DIRECTORY/kv" key list 2>err &&
	chmod 0600 "$K" &&
	grep -q "^ssefs: $K: permissions 0640 are too open (want 0600)$" err
'

test_expect_success 'rotate-platform-key adds a version' '
	old=$(ssefs --json vault show | jq -r .platformKid) &&
	new=$(ssefs vault rotate-platform-key) &&
	test "$new" != "$old" &&
	test "$(ssefs --json vault show | jq -r .platformKid)" = "$new" &&
	test -f "$SSEFS_VAULT/platform/${old##*/}.sealed"
'

test_expect_success 'backup and restore into a new directory keep every key' '
	ssefs key create b1 --size 2048 >kid &&
	ssefs vault backup "$TRASH_DIRECTORY/vault.bak" &&
	test "$(stat -c %a "$TRASH_DIRECTORY/vault.bak")" = 600 &&
	test_expect_code 1 ssefs vault backup "$TRASH_DIRECTORY/vault.bak" 2>err &&
	grep -q "already exists" err &&
	! grep -q "$(od -An -tx1 "$SSEFS_VAULT.key" | tr -d " \n" | cut -c1-16)" "$TRASH_DIRECTORY/vault.bak" &&
	R="$TRASH_DIRECTORY/restored/vault" &&
	cp "$SSEFS_VAULT.key" "$TRASH_DIRECTORY/master.key" &&
	mkdir -p "$TRASH_DIRECTORY/restored" &&
	cp "$SSEFS_VAULT.key" "$R.key" &&
	ssefs --vault "$R" vault restore "$TRASH_DIRECTORY/vault.bak" &&
	ssefs --vault "$R" --json key show b1 >r.json &&
	test "$(jq -r .kid r.json)" = "$(cat kid)" &&
	ssefs --vault "$R" vault audit --verify &&
	test_expect_code 1 ssefs --vault "$R" vault restore "$TRASH_DIRECTORY/vault.bak" 2>err &&
	grep -q "already exists" err
'

test_expect_success 'a restored vault unwraps the DEKs of disks made before the backup' '
	D="$TRASH_DIRECTORY/disks" && mkdir -p "$D" &&
	ssefs key create dk --size 2048 >/dev/null &&
	ssefs disk create "$D/c.vhd" --size 4M --key dk >/dev/null &&
	ssefs disk create "$D/p.vhd" --size 4M >/dev/null &&
	ssefs vault backup "$D/vault.bak" &&
	ssefs disk export "$D/c.vhd" "$D/c1.raw" &&
	ssefs disk export "$D/p.vhd" "$D/p1.raw" &&
	R2="$D/restored/vault" && mkdir -p "$D/restored" &&
	cp "$SSEFS_VAULT.key" "$R2.key" &&
	ssefs --vault "$R2" vault restore "$D/vault.bak" &&
	ssefs --vault "$R2" disk export "$D/c.vhd" "$D/c2.raw" &&
	ssefs --vault "$R2" disk export "$D/p.vhd" "$D/p2.raw" &&
	cmp "$D/c1.raw" "$D/c2.raw" &&
	cmp "$D/p1.raw" "$D/p2.raw"
'

test_expect_success 'restore refuses a file that is not a backup' '
	echo nonsense >junk &&
	test_expect_code 1 ssefs --vault "$TRASH_DIRECTORY/r2" vault restore junk 2>err &&
	grep -q "^ssefs: junk: not an ssefs vault backup" err &&
	test ! -e "$TRASH_DIRECTORY/r2"
'

test_expect_success 'audit: every operation is a JSON line without key material' '
	ssefs vault audit >log &&
	jq -c . log >/dev/null &&
	jq -r .op log | grep -q "^init$" &&
	jq -r .op log | grep -q "^create$" &&
	jq -r .op log | grep -q "^backup$" &&
	jq -r .caller log | grep -q "^uid=$(id -u)($(id -un)) pid=[0-9]* comm=ssefs$" &&
	! grep -q "PRIVATE" log
'

test_expect_success 'audit --since filters by time' '
	ssefs vault audit --since 2000-01-01 >all &&
	ssefs vault audit --since 2999-01-01 >none &&
	test -s all && test ! -s none
'

test_expect_success 'audit --verify passes, then fails after an edit' '
	ssefs vault audit --verify >out &&
	grep -q "audit log intact" out &&
	cp "$SSEFS_VAULT/audit.log" saved.log &&
	sed -i "2s/\"op\":\"[a-z-]*\"/\"op\":\"forged\"/" "$SSEFS_VAULT/audit.log" &&
	test_expect_code 1 ssefs vault audit --verify 2>err &&
	grep -q "^ssefs: vault .*: audit log: audit.log line 2: " err &&
	cp saved.log "$SSEFS_VAULT/audit.log" &&
	head -n 3 saved.log >"$SSEFS_VAULT/audit.log" &&
	test_expect_code 1 ssefs vault audit --verify 2>err &&
	grep -q "cut off" err &&
	cp saved.log "$SSEFS_VAULT/audit.log" &&
	ssefs vault audit --verify
'

test_expect_success 'audit: records carry their position; the head is in audit.head' '
	ssefs vault audit >log &&
	n=$(wc -l <log) &&
	tail -n 1 log | jq -e ".seq == $n" >/dev/null &&
	test "$(cut -d" " -f1 "$SSEFS_VAULT/audit.head" | sed "s/^0*//")" = "$n"
'

test_expect_success 'audit: records past the metadata checkpoint verify; a cut among them is noticed' '
	cp "$SSEFS_VAULT/vault.meta" meta.before &&
	ssefs vault backup b1.bak && ssefs vault backup b2.bak &&
	test_cmp meta.before "$SSEFS_VAULT/vault.meta" &&
	ssefs vault audit --verify &&
	cp "$SSEFS_VAULT/audit.log" saved.log &&
	sed "\$d" saved.log >"$SSEFS_VAULT/audit.log" &&
	test_expect_code 1 ssefs vault audit --verify 2>err &&
	grep -q "audit.head names record .*cut off" err &&
	cp saved.log "$SSEFS_VAULT/audit.log" &&
	ssefs vault audit --verify
'

test_expect_success 'audit: a torn last record (a crash mid-append) is cut away by the next one' '
	cp "$SSEFS_VAULT/audit.log" saved.log &&
	printf "{\"time\":\"2027-01-01T00:00:00Z\",\"op\":\"unw" >>"$SSEFS_VAULT/audit.log" &&
	test_expect_code 1 ssefs vault audit --verify 2>err &&
	grep -q "cut off" err &&
	ssefs vault backup b3.bak &&
	ssefs vault audit --verify &&
	! grep -q "\"op\":\"unw\$" "$SSEFS_VAULT/audit.log"
'

test_expect_success 'audit: concurrent audit-only records from several processes keep one chain' '
	for i in 1 2 3 4 5 6 7 8; do
		ssefs vault backup c$i.bak &
	done &&
	wait &&
	ssefs vault audit --verify >out &&
	ssefs vault audit | grep -c "\"op\":\"backup\"" >nb &&
	test "$(cat nb)" -ge 11
'

test_expect_success 'audit log rotation keeps one chain' '
	for i in 1 2 3 4 5 6; do
		SSEFS_AUDIT_ROTATE_BYTES=700 ssefs key policy b1 --rotate-after ${i}d || return 1
	done &&
	test -f "$SSEFS_VAULT/audit.log.1" &&
	ssefs vault audit --verify
'

test_expect_success 'vault set: purge protection and retention' '
	test_expect_code 1 ssefs vault set --purge-protection off --retention-days 8 2>err &&
	grep -q "^ssefs: vault .*: purge protection is on and cannot be switched off" err &&
	ssefs --json vault show >s.json &&
	test "$(jq -r .purgeProtection s.json)" = true &&
	test "$(jq -r .retentionDays s.json)" = 90 &&
	ssefs vault set --retention-days 7 &&
	ssefs --vault nopp vault init --purge-protection off >/dev/null &&
	ssefs --vault nopp --json vault show >s.json &&
	test "$(jq -r .purgeProtection s.json)" = false &&
	test_expect_code 2 ssefs --vault nopp2 vault init --purge-protection maybe &&
	test ! -e nopp2 &&
	ssefs --json vault show >s.json &&
	test "$(jq -r .retentionDays s.json)" = 7 &&
	test_expect_code 2 ssefs vault set --retention-days 3 &&
	test_expect_code 2 ssefs vault set --purge-protection maybe &&
	ssefs vault set --purge-protection on
'

test_expect_success 'vault set: a shorter retention does not bring a deleted key'"'"'s purge nearer' '
	ssefs vault set --retention-days 30 &&
	ssefs key create rt1 --size 2048 >/dev/null &&
	ssefs key delete rt1 >/dev/null &&
	test_expect_code 1 ssefs vault set --retention-days 7 2>err &&
	test "$(wc -l <err)" = 1 &&
	grep -q "^ssefs: vault .*: --retention-days 7: a deleted key waits under purge protection" err &&
	ssefs --json vault show >s.json &&
	test "$(jq -r .retentionDays s.json)" = 30 &&
	ssefs vault audit | grep "set retention-days" | grep -q rt1 &&
	ssefs vault set --retention-days 60 &&
	ssefs key recover rt1 >/dev/null &&
	ssefs vault set --retention-days 7 &&
	ssefs --vault nopp key create rt2 --size 2048 >/dev/null &&
	ssefs --vault nopp key delete rt2 >/dev/null &&
	ssefs --vault nopp vault set --retention-days 7 &&
	ssefs vault set --retention-days 90
'

test_expect_success 'concurrent commands are serialised: nothing is lost' '
	for i in 1 2 3 4 5 6; do
		ssefs key create c$i --size 2048 >/dev/null &
	done &&
	for i in 1 2 3 4 5 6; do
		ssefs key policy b1 --notify-before ${i}d &
	done &&
	wait &&
	ssefs --json key list >l.json &&
	for i in 1 2 3 4 5 6; do
		jq -e ".[] | select(.name == \"c$i\")" l.json >/dev/null || return 1
	done &&
	ssefs vault audit --verify
'

test_expect_success 'a missing vault is named' '
	test_expect_code 1 ssefs --vault "$TRASH_DIRECTORY/nothere" key list 2>err &&
	grep -q "^ssefs: vault $TRASH_DIRECTORY/nothere: no vault here" err
'

test_expect_success JQ 'rotate-platform-key --json prints {"kid"}' '
	ssefs --json vault rotate-platform-key >j &&
	jq -r .kid j | grep -q "^vault://[a-z0-9-]*/platform/[0-9a-f]\{32\}$" &&
	test "$(ssefs --json vault show | jq -r .platformKid)" = "$(jq -r .kid j)"
'

test_done
