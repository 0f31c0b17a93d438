#!/bin/bash
# run-all: lock users	(useradd/userdel: one script at a time)

test_description='a mount by an ordinary user: only that user sees it, unless allow_other'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

USERS_TAG=t3090
. "$TEST_DIRECTORY"/lib-users.sh

test_expect_success 'setup: two users; the owner makes a vault, a store, a disk' '
	users_add &&
	mkdir "$W/store" "$W/mnt" &&
	chown $OWNER "$W" "$W/store" "$W/mnt" &&
	as $OWNER vault init --name t3090 >/dev/null &&
	test "$(stat -c %U:%a "$W/vault.key")" = "$OWNER:600" &&
	as $OWNER disk create "$W/store/d0.vhd" --size 8M >/dev/null
'

test_expect_success 'the owner mounts without root, reads and writes' '
	as $OWNER mount "$W/store" "$W/mnt" &&
	mounted &&
	runuser -u $OWNER -- sh -c "head -c 4096 /dev/urandom >$W/blk &&
		dd if=$W/blk of=$W/mnt/d0.vhd bs=4096 conv=notrunc status=none &&
		cmp -n 4096 $W/blk $W/mnt/d0.vhd" &&
	as $OWNER status "$W/mnt" | grep -q "^daemon:     pid"
'

test_expect_success 'another user and root see nothing of it' '
	! runuser -u $OTHER -- ls "$W/mnt" 2>err &&
	grep -q "Permission denied" err &&
	! runuser -u $OTHER -- cat "$W/mnt/d0.vhd" >/dev/null 2>&1 &&
	! ls "$W/mnt/d0.vhd" 2>/dev/null &&
	! stat "$W/mnt" 2>/dev/null &&
	test_expect_code 1 runuser -u $OTHER -- "$BIN" status "$W/mnt" 2>err &&
	cat err
'

test_expect_success 'the owner unmounts; the data is in the store' '
	runuser -u $OWNER -- fusermount3 -u "$W/mnt" &&
	for i in $(test_seq 50); do pgrep -u $OWNER ssefs >/dev/null || break; sleep 0.1; done &&
	! mounted &&
	as $OWNER disk export "$W/store/d0.vhd" "$W/out.raw" &&
	cmp -n 4096 "$W/blk" "$W/out.raw"
'

test_expect_success 'allow_other without user_allow_other: refused by fusermount3 in one line, no mount' '
	if grep -q "^user_allow_other" /etc/fuse.conf; then
		echo "# /etc/fuse.conf allows it here: not checked"
	else
		test_expect_code 1 as $OWNER mount -f "$W/store" "$W/mnt" \
			-o allow_other 2>err &&
		cat err &&
		test "$(wc -l <err)" = 1 &&
		grep -q "^ssefs: $W/mnt: cannot mount: .*user_allow_other" err &&
		! mounted
	fi
'

test_done
