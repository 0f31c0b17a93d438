#!/bin/bash
# run-all: lock loop	(loop devices: one script at a time)

test_description='rotation under load: ext4 on a mounted disk keeps
verifying while its key is rotated 20 times'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq LOOP,FIO || { skip_all='needs root, loop devices and fio'; test_done; }

FIOJOB="--name=v --filename=fs/data --size=48M --bs=4k --ioengine=psync
	--verify=crc32c --verify_fatal=1 --randseed=42"

test_expect_success 'setup: a set, a disk, a mount, ext4 on a loop device' '
	ssefs_setup_vault &&
	ssefs key create k1 --size 2048 >kid1 &&
	ssefs des create des1 --key k1 --auto-rotate >/dev/null &&
	mkdir store mnt fs &&
	ssefs disk create store/d.vhd --size 128M --des des1 >/dev/null &&
	ssefs_mount store mnt "key_check_interval=1s,revoke_grace=1h" &&
	size=$(stat -c %s mnt/d.vhd) &&
	LOOPDEV=$(losetup --find --show --sizelimit $((size - 512)) mnt/d.vhd) &&
	test_atexit "umount -l $TRASH_DIRECTORY/fs 2>/dev/null; losetup -d $LOOPDEV 2>/dev/null" &&
	echo "$LOOPDEV" >loopdev &&
	mkfs.ext4 -q -F "$LOOPDEV" &&
	mount "$LOOPDEV" fs
'

test_expect_success 'fio verify runs while ssefs rotate moves the key 20 times' '
	fio $FIOJOB --rw=randwrite --do_verify=1 --loops=3 \
		--output=fio.out >/dev/null 2>&1 &
	fio_pid=$! &&
	for i in $(test_seq 20); do
		ssefs key rotate k1 >kidn &&
		ssefs rotate store >/dev/null || { kill $fio_pid; return 1; }
	done &&
	wait $fio_pid &&
	grep -q "err= 0" fio.out &&
	! grep -qi "verify.*fail\|bad magic\|crc32c" fio.out
'

test_expect_success 'the header ends on the newest version, both copies' '
	ssefs --json disk show store/d.vhd >show.json &&
	test "$(jq -r ".layers[0].kid" show.json)" = "$(cat kidn)" &&
	test "$(jq -r ".copies[0].state" show.json)" = ok &&
	test "$(jq -r ".copies[1].state" show.json)" = ok &&
	head -c 8192 store/d.vhd >hdr &&
	! grep -a -q "$(cat kid1)" hdr
'

test_expect_success 'the first version disabled, I/O goes on and still verifies' '
	ssefs key set "k1/$(cut -d/ -f6 kid1)" --enabled false &&
	sleep 2 &&
	fio $FIOJOB --rw=read --verify_only=1 --output=fio2.out >/dev/null 2>&1 &&
	grep -q "err= 0" fio2.out &&
	dd if=/dev/urandom of=fs/more bs=1M count=4 conv=fsync 2>/dev/null &&
	test "$(ssefs --json status mnt | jq -r ".disks[0].state")" = ok
'

test_expect_success 'everything unmounts; the data verifies after a remount' '
	umount fs &&
	losetup -d "$(cat loopdev)" &&
	# the kernel lets go of the file after losetup -d returns
	wait_for eval "test -z \"\$(losetup -j mnt/d.vhd)\"" &&
	ssefs_umount mnt &&
	ssefs_mount store mnt &&
	size=$(stat -c %s mnt/d.vhd) &&
	LOOPDEV=$(losetup --find --show --sizelimit $((size - 512)) mnt/d.vhd) &&
	echo "$LOOPDEV" >loopdev &&
	mount "$LOOPDEV" fs &&
	fio $FIOJOB --rw=read --verify_only=1 --output=fio3.out >/dev/null 2>&1 &&
	grep -q "err= 0" fio3.out &&
	umount fs && losetup -d "$LOOPDEV" && ssefs_umount mnt
'

test_done
