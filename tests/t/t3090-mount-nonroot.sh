#!/bin/bash

test_description='a mount by an ordinary user: only that user sees it, unless allow_other'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq ROOT || { skip_all='needs root to make the test users'; test_done; }
command -v useradd >/dev/null && command -v runuser >/dev/null ||
	{ skip_all='needs useradd and runuser'; test_done; }
[ -u "$(command -v fusermount3)" ] ||
	{ skip_all='fusermount3 is not setuid: users cannot mount'; test_done; }

OWNER=ssefs-t3090-a
OTHER=ssefs-t3090-b
W=$(mktemp -d /tmp/ssefs-t3090.XXXXXX)
chmod 755 "$W"
# the users run a copy: the checkout may sit in a directory only root can
# enter (a clone in a mktemp -d directory is 0700)
cp "$SSEFS_BIN" "$W/ssefs" && chmod 755 "$W/ssefs"
BIN=$W/ssefs

cleanup_users () {
	fusermount3 -uz "$W/mnt" 2>/dev/null
	pkill -u $OWNER 2>/dev/null
	sleep 0.2
	userdel $OWNER 2>/dev/null
	userdel $OTHER 2>/dev/null
	rm -rf "$W"
}
test_atexit cleanup_users

# mounted: is W/mnt in the mount table (root cannot even stat it)
mounted () {
	grep -q " $W/mnt fuse.ssefs " /proc/mounts
}

# as USER CMD...: run the binary as USER, with the owner's vault
as () {
	local u=$1
	shift
	runuser -u "$u" -- env SSEFS_VAULT="$W/vault" HOME="$W" "$BIN" "$@"
}

test_expect_success 'setup: two users; the owner makes a vault, a store, a disk' '
	useradd -M -d "$W" -s /bin/sh $OWNER &&
	useradd -M -d "$W" -s /bin/sh $OTHER &&
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
