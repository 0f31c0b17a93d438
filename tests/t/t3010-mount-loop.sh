#!/bin/bash
# run-all: lock loop	(loop devices: one script at a time)

test_description='a file system inside a plaintext .vhd: loop device, ext4, remount'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq LOOP,QEMU || { skip_all='needs root, loop devices and qemu-img'; test_done; }

canary="ssefs-loop-canary-$$-$(date +%s)"

# attach MNT/DISK: a loop device over the data part (the footer excluded)
attach () {
	local size
	size=$(stat -c %s "$1") &&
	LOOP=$(losetup --find --show --sizelimit $((size - 512)) "$1") &&
	test_atexit "losetup -d $LOOP 2>/dev/null"
}

test_expect_success 'setup: vault, mount, a 128 MiB disk, a tree with a canary' '
	ssefs_setup_vault &&
	mkdir store mnt fs &&
	ssefs_mount store mnt &&
	make_vhd mnt/d0.vhd 128M &&
	mkdir -p tree/a/b tree/c &&
	for i in $(test_seq 20); do
		printf "%s file %d\n" "$canary" "$i" >tree/a/f$i.txt || return 1
	done &&
	head -c 3000000 /dev/urandom >tree/a/b/random.bin &&
	cp -r /usr/share/doc/fuse3 tree/c/ 2>/dev/null || cp -r /etc/default tree/c/
'

test_expect_success 'losetup + mkfs.ext4 + mount on MNT/d0.vhd, copy the tree in' '
	attach mnt/d0.vhd &&
	test "$(blockdev --getsize64 $LOOP)" = 134217728 &&
	mkfs.ext4 -q -F "$LOOP" &&
	mount "$LOOP" fs &&
	test_atexit "umount fs 2>/dev/null" &&
	cp -r tree fs/ &&
	diff -r tree fs/tree
'

test_expect_success 'unmount all: ext4, loop, ssefs; the store holds no canary' '
	umount fs &&
	losetup -d "$LOOP" &&
	ssefs_umount mnt &&
	! mountpoint -q mnt &&
	no_canary store/d0.vhd "$canary" &&
	no_canary store/d0.vhd "ssefs-loop-canary"
'

test_expect_success 'the footer is intact: qemu-img and vhdiinfo still see a fixed VHD' '
	ssefs_mount store mnt &&
	qemu-img info -f vpc mnt/d0.vhd | grep -q "virtual size: 128 MiB" &&
	{ ! test_have_prereq VHDI || vhdiinfo mnt/d0.vhd | grep -q Fixed; }
'

test_expect_success 'remount: the tree reads back equal' '
	attach mnt/d0.vhd &&
	mount -o ro "$LOOP" fs &&
	diff -r tree fs/tree &&
	umount fs &&
	losetup -d "$LOOP"
'

test_expect_success 'discards from the file system free space in the store' '
	attach mnt/d0.vhd &&
	mount "$LOOP" fs &&
	head -c 20000000 /dev/urandom >fs/big &&
	sync &&
	before=$(stat -c %b store/d0.vhd) &&
	rm fs/big &&
	sync &&
	fstrim fs &&
	sync &&
	after=$(stat -c %b store/d0.vhd) &&
	echo "blocks before $before after $after" &&
	test $((before - after)) -gt 20000 &&
	umount fs &&
	losetup -d "$LOOP" &&
	ssefs_umount mnt
'

test_done
