#!/bin/bash

test_description='vault init, permissions, passphrase, backup/restore, audit'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

pv () { SSEFS_VAULT="$TRASH_DIRECTORY/pv" "$SSEFS_BIN" "$@"; }

test_expect_success 'init creates a 0700 vault and a 0600 key file beside it' '
	ssefs vault init --name test &&
	test "$(stat -c %a "$SSEFS_VAULT")" = 700 &&
	test "$(stat -c %a "$SSEFS_VAULT.key")" = 600 &&
	test "$(stat -c %s "$SSEFS_VAULT.key")" = 32 &&
	test -f "$SSEFS_VAULT/vault.meta"
'

test_expect_success 'init refuses an existing vault' '
	test_expect_code 1 ssefs vault init --name test 2>err &&
	grep -q "^ssefs: vault .*: already exists$" err
'

test_expect_success 'init refuses a bad name' '
	test_must_fail env SSEFS_VAULT="$TRASH_DIRECTORY/v2" \
		"$SSEFS_BIN" vault init --name Bad_Name 2>err &&
	grep -q "^ssefs: .*bad name .Bad_Name." err &&
	! test -e "$TRASH_DIRECTORY/v2/vault.meta"
'

test_expect_success 'a 0644 key file is refused, naming the file' '
	chmod 644 "$SSEFS_VAULT.key" &&
	test_when_finished "chmod 600 \"$SSEFS_VAULT.key\"" &&
	test_expect_code 1 ssefs key list 2>err &&
	grep -q "^ssefs: $SSEFS_VAULT.key: permissions 0644 are too open (want 0600)$" err
'

test_expect_success 'a 0755 vault directory is refused, naming it' '
	chmod 755 "$SSEFS_VAULT" &&
	test_when_finished "chmod 700 \"$SSEFS_VAULT\"" &&
	test_expect_code 1 ssefs key list 2>err &&
	grep -q "^ssefs: $SSEFS_VAULT: permissions 0755 are too open (want 0700)$" err
'

test_expect_success 'a wrong key file is refused and changes nothing' '
	cp "$SSEFS_VAULT.key" good.key &&
	test_when_finished "cp good.key \"$SSEFS_VAULT.key\"" &&
	head -c 32 /dev/urandom >"$SSEFS_VAULT.key" &&
	cp "$SSEFS_VAULT/vault.meta" meta.before &&
	test_expect_code 1 ssefs key create x 2>err &&
	grep -q "^ssefs: vault $SSEFS_VAULT: wrong passphrase or key file$" err &&
	test_cmp meta.before "$SSEFS_VAULT/vault.meta"
'

test_expect_success 'passphrase vault: right passphrase works' '
	printf "correct horse\n" >pw && chmod 600 pw &&
	pv vault init --name pv --passphrase-file pw &&
	! test -e "$TRASH_DIRECTORY/pv.key" &&
	grep -q "^kdf argon2id" "$TRASH_DIRECTORY/pv/vault.meta" &&
	pv --passphrase-file pw key create pk --size 2048 >kid &&
	grep -q "^vault://pv/keys/pk/[0-9a-f]\{32\}$" kid
'

test_expect_success 'passphrase vault: a wrong passphrase changes nothing' '
	printf "wrong\n" >bad && chmod 600 bad &&
	(cd pv && find . -type f | sort | xargs sha256sum) >before &&
	test_expect_code 1 pv --passphrase-file bad key create x 2>err &&
	grep -q "^ssefs: vault .*/pv: wrong passphrase or key file$" err &&
	test_expect_code 1 pv --passphrase-file bad key list &&
	SSEFS_PASSPHRASE_FILE=bad test_expect_code 1 pv key list &&
	SSEFS_PASSPHRASE_FILE=pw pv key list >out && grep -q "^pk " out &&
	(cd pv && find . -type f | sort | xargs sha256sum) >after &&
	test_cmp before after
'

test_expect_success JQ 'backup and restore keep every key' '
	ssefs key create b1 --size 2048 >/dev/null &&
	ssefs --json key list >list1 &&
	ssefs vault backup "$TRASH_DIRECTORY/bak" &&
	! test -e "$TRASH_DIRECTORY/bak/vault.key" &&
	cp "$SSEFS_VAULT.key" "$TRASH_DIRECTORY/restored.key" &&
	SSEFS_VAULT="$TRASH_DIRECTORY/restored" ssefs vault restore \
		"$TRASH_DIRECTORY/bak" &&
	SSEFS_VAULT="$TRASH_DIRECTORY/restored" ssefs --json key list >list2 &&
	jq -r ".[].kid" list1 >k1 && jq -r ".[].kid" list2 >k2 &&
	test_cmp k1 k2 &&
	SSEFS_VAULT="$TRASH_DIRECTORY/restored" ssefs vault audit --verify
'

test_expect_success 'restore refuses an existing directory' '
	test_expect_code 1 ssefs vault restore "$TRASH_DIRECTORY/bak" 2>err &&
	grep -q "already exists" err
'

test_expect_success 'rotate-platform-key adds a version' '
	ssefs vault rotate-platform-key >kid &&
	grep -q "^vault://test/platform/[0-9a-f]\{32\}$" kid &&
	test $(ls "$SSEFS_VAULT/platform" | wc -l) = 2
'

test_expect_success JQ 'rotate-platform-key --json prints {"kid"}' '
	ssefs --json vault rotate-platform-key >j &&
	jq -r .kid j | grep -q "^vault://test/platform/[0-9a-f]\{32\}$" &&
	ssefs --json vault show >s &&
	test "$(jq -r .platformKid s)" = "$(jq -r .kid j)"
'

test_expect_success 'audit --verify passes, --since filters' '
	ssefs vault audit --verify >out &&
	grep -q "audit log intact" out &&
	ssefs vault audit >all &&
	test $(wc -l <all) -ge 4 &&
	ssefs vault audit --since 2000-01-01T00:00:00Z >since &&
	test_cmp all since &&
	ssefs vault audit --since 2999-01-01T00:00:00Z >none &&
	! test -s none &&
	! grep -q "BEGIN" all
'

test_expect_success 'audit --verify names an edited line' '
	cp "$SSEFS_VAULT/audit.log" saved &&
	test_when_finished "cp saved \"$SSEFS_VAULT/audit.log\"" &&
	sed -i "2s/\"op\":\"[a-z-]*\"/\"op\":\"tampered\"/" \
		"$SSEFS_VAULT/audit.log" &&
	test_expect_code 1 ssefs vault audit --verify 2>err &&
	grep -q "audit.log line 2: edited, removed or reordered" err
'

test_expect_success 'audit --verify notices a deleted line and a cut-off tail' '
	cp "$SSEFS_VAULT/audit.log" saved &&
	test_when_finished "cp saved \"$SSEFS_VAULT/audit.log\"" &&
	sed -i 3d "$SSEFS_VAULT/audit.log" &&
	test_expect_code 1 ssefs vault audit --verify 2>err &&
	grep -q "audit.log line 3: edited, removed or reordered" err &&
	cp saved "$SSEFS_VAULT/audit.log" &&
	sed -i \$d "$SSEFS_VAULT/audit.log" &&
	test_expect_code 1 ssefs vault audit --verify 2>err &&
	grep -q "cut off" err
'

test_expect_success 'the audit log rotates and the chain continues' '
	SSEFS_AUDIT_ROTATE_BYTES=500 ssefs key create r1 --size 2048 &&
	SSEFS_AUDIT_ROTATE_BYTES=500 ssefs key rotate r1 &&
	SSEFS_AUDIT_ROTATE_BYTES=500 ssefs key rotate r1 &&
	test -f "$SSEFS_VAULT/audit.log.1" &&
	test -f "$SSEFS_VAULT/audit.log.2" &&
	ssefs vault audit --verify &&
	ssefs vault audit >all && test $(wc -l <all) -ge 7
'

test_expect_success 'the audit log holds no key material' '
	! grep -qi "PRIVATE\|BEGIN" "$SSEFS_VAULT"/audit.log* &&
	key=$(od -An -tx1 "$SSEFS_VAULT.key" | tr -d " \n") &&
	! grep -q "$key" "$SSEFS_VAULT"/audit.log*
'

test_expect_success 'vault settings are stored and shown' '
	ssefs vault set --purge-protection off &&
	ssefs --json vault show >j &&
	grep -q "\"purgeProtection\": false" j &&
	grep -q "\"retentionDays\": 90" j &&
	ssefs vault set --purge-protection on --retention-days 7 &&
	ssefs --json vault show >j &&
	grep -q "\"purgeProtection\": true" j &&
	grep -q "\"retentionDays\": 7" j &&
	test_expect_code 2 ssefs vault set --retention-days 3 2>err &&
	grep -q "^ssefs: --retention-days: want 7 to 90" err
'

test_done
