#!/bin/bash

test_description='a full file system under the store or the vault: one clear error, nothing lost'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq ROOT || { skip_all='needs root for small tmpfs mounts'; test_done; }

# fill DIR: a file that takes every block left
fill () {
	dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null
	test "$(df --output=avail -B1 "$1" | tail -1)" -lt 8192
}

test_expect_success 'setup: mount points for small tmpfs file systems' '
	mkdir small-store small-vault
'

# each test mounts its own tmpfs, so that one test's leftovers do not
# decide another's
with_tmpfs () {	# DIR SIZE
	mount -t tmpfs -o size=$2,mode=0700 tmpfs "$1"
}

test_expect_success 'writes to a disk fail with ENOSPC; what was fsynced before stays' '
	with_tmpfs small-store 24M &&
	test_when_finished "fusermount3 -uz mnt 2>/dev/null; umount small-store" &&
	ssefs_setup_vault &&
	ssefs disk create small-store/d0.vhd --size 64M >/dev/null &&
	random_file r8 8 &&
	ssefs_mount small-store mnt &&
	dd if=r8 of=mnt/d0.vhd bs=1M conv=notrunc,fsync status=none &&
	test_must_fail dd if=/dev/urandom of=mnt/d0.vhd bs=1M seek=8 count=32 \
		conv=notrunc,fsync 2>err &&
	cat err &&
	grep -q "No space left on device" err &&
	ssefs_umount mnt &&
	ssefs disk verify small-store/d0.vhd >out &&
	grep -q "^result: *ok" out &&
	ssefs_mount small-store mnt &&
	cmp -n $((8 * 1048576)) r8 mnt/d0.vhd &&
	ssefs_umount mnt
'

test_expect_success 'disk create on a full store: one line, exit 1, no file left' '
	with_tmpfs small-store 24M &&
	test_when_finished "umount small-store" &&
	fill small-store &&
	test_expect_code 1 ssefs disk create small-store/e.vhd --size 1M 2>err &&
	cat err &&
	test "$(wc -l <err)" = 1 &&
	grep -q "^ssefs: disk small-store/e.vhd: cannot create: No space left on device$" err &&
	test "$(ls -A small-store)" = filler
'

test_expect_success 'key create and key rotate on a full vault: clear errors, vault intact' '
	with_tmpfs small-vault 4M &&
	test_when_finished "umount small-vault" &&
	export SSEFS_VAULT="$TRASH_DIRECTORY/small-vault/v" &&
	ssefs vault init --name full >/dev/null &&
	ssefs key create k1 >/dev/null &&
	fill small-vault &&
	test_expect_code 1 ssefs key create k2 2>err &&
	test "$(cat err)" = "ssefs: key k2: No space left on device" &&
	test_expect_code 1 ssefs key rotate k1 2>err &&
	test "$(cat err)" = "ssefs: key k1: No space left on device" &&
	ssefs key list >list &&
	grep -q "^k1 " list &&
	! grep -q "^k2 " list &&
	ssefs vault audit --verify &&
	rm small-vault/filler &&
	ssefs key create k2 >/dev/null &&
	ssefs key rotate k1 >/dev/null &&
	ssefs vault audit --verify
'

test_done
