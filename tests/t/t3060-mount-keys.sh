#!/bin/bash

test_description='customer keys through the mount: disk create --key, -o key=, -o des='

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }

test_expect_success 'setup: a vault, a customer key, a disk made by disk create --key' '
	ssefs_setup_vault &&
	ssefs key create k1 --size 2048 >/dev/null &&
	mkdir store mnt &&
	ssefs disk create store/cmk.vhd --size 16M --key k1 &&
	ssefs_mount store mnt key=k1
'

test_expect_success 'the disk shows with its plaintext size and customer kid' '
	test "$(stat -c %s mnt/cmk.vhd)" = $((16 * 1048576 + 512)) &&
	getfattr -n user.ssefs.encryption_type --only-values mnt/cmk.vhd >out &&
	test "$(cat out)" = EncryptionAtRestWithCustomerKey &&
	getfattr -n user.ssefs.kid --only-values mnt/cmk.vhd >out &&
	grep -q "^vault://test/keys/k1/[0-9a-f]\{32\}$" out
'

test_expect_success QEMU 'its footer (written by disk create) reads as a fixed VHD' '
	qemu-img info -f vpc mnt/cmk.vhd | grep -q "virtual size: 16 MiB"
'

test_expect_success 'data written through the mount is read back after a remount' '
	head -c 1000000 /dev/urandom >data &&
	dd if=data of=mnt/cmk.vhd bs=4096 seek=1 conv=notrunc,fsync 2>/dev/null &&
	ssefs_umount mnt &&
	ssefs_mount store mnt key=k1 &&
	dd if=mnt/cmk.vhd bs=4096 skip=1 count=245 2>/dev/null | head -c 1000000 >back &&
	cmp data back
'

test_expect_success 'a disk the mount has open is refused by disk export' '
	exec 6<mnt/cmk.vhd &&
	test_must_fail ssefs disk export store/cmk.vhd out.vhd 2>err &&
	exec 6<&- &&
	grep -q "in use by a mount" err &&
	! test -e out.vhd
'

test_expect_success 'a file copied in with -o key=k1 becomes a customer-key disk' '
	cp data mnt/new.vhd &&
	cmp data mnt/new.vhd &&
	getfattr -n user.ssefs.encryption_type --only-values mnt/new.vhd >out &&
	test "$(cat out)" = EncryptionAtRestWithCustomerKey &&
	ssefs disk show store/new.vhd >show 2>&1 &&
	grep -q "keys/k1/" show
'

test_expect_success 'status shows the default for new disks and the key of each disk' '
	ssefs status mnt >st &&
	grep -q "^new disks: *key k1$" st &&
	grep -A3 "^cmk.vhd$" st | grep -q "kid: *vault://test/keys/k1/"
'

test_expect_success 'an unknown DES for new disks is refused before mounting' '
	ssefs_umount mnt &&
	test_expect_code 1 ssefs mount -f store mnt -o des=nosuch 2>err &&
	grep -q "^ssefs: des nosuch: " err &&
	! mountpoint -q mnt
'

test_done
