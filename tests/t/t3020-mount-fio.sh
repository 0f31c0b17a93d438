#!/bin/bash

test_description='fio with verify=crc32c through the mount, again after a remount'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq FIO,QEMU || { skip_all='needs fio and qemu-img'; test_done; }

# fio_job NAME FILE RW BS SIZE [OFFSET] [extra...]: one verifying job
fio_args () {
	local name=$1 file=$2 rw=$3 bs=$4 size=$5 off=${6:-0}
	shift 6
	echo "--name=$name --filename=$file --rw=$rw --bs=$bs --size=$size" \
	     "--offset=$off --ioengine=psync --verify=crc32c --verify_fatal=1" \
	     "--randrepeat=1 --randseed=$((off / 4096 + ${#name})) --end_fsync=1 $*"
}

test_expect_success 'setup: vault, mount, three 64 MiB disks' '
	ssefs_setup_vault &&
	mkdir store mnt &&
	ssefs_mount store mnt &&
	make_vhd mnt/d0.vhd 64M &&
	make_vhd mnt/d1.vhd 64M &&
	make_vhd mnt/d2.vhd 64M &&
	cp mnt/d0.vhd footer-ref
'

test_expect_success 'random 4 KiB writes, verified (O_DIRECT: the daemon serves the reads)' '
	fio $(fio_args r4k mnt/d0.vhd randwrite 4k 8M 0 --direct=1) >fio.out 2>&1 ||
		{ cat fio.out; false; }
'

test_expect_success 'sequential 1 MiB writes, verified (buffered, page cache)' '
	fio $(fio_args s1m mnt/d0.vhd write 1M 32M 33554432) >fio.out 2>&1 ||
		{ cat fio.out; false; }
'

test_expect_success 'several fio jobs at once on different disks' '
	fio $(fio_args a mnt/d1.vhd randwrite 4k 8M 0 --direct=1) \
	    $(fio_args b mnt/d2.vhd write 1M 32M 0) \
	    $(fio_args c mnt/d1.vhd write 256k 32M 33554432) >fio.out 2>&1 ||
		{ cat fio.out; false; }
'

test_expect_success 'several fio jobs at once on one disk' '
	fio $(fio_args p0 mnt/d2.vhd randwrite 4k 4M 50331648 --direct=1) \
	    $(fio_args p1 mnt/d2.vhd randwrite 8k 2M 58720256) \
	    $(fio_args p2 mnt/d2.vhd write 1M 4M 62914560) >fio.out 2>&1 ||
		{ cat fio.out; false; }
'

test_expect_success 'the VHD footers survived' '
	for d in d0 d1 d2; do
		tail -c 512 mnt/$d.vhd >f.$d &&
		qemu-img info -f vpc mnt/$d.vhd | grep -q "virtual size: 64 MiB" ||
		return 1
	done
'

test_expect_success 'after a remount everything verifies again (verify_only)' '
	ssefs_umount mnt &&
	ssefs_mount store mnt &&
	fio $(fio_args r4k mnt/d0.vhd randwrite 4k 8M 0 --direct=1 --verify_only) \
	    $(fio_args s1m mnt/d0.vhd write 1M 32M 33554432 --verify_only) \
	    $(fio_args a mnt/d1.vhd randwrite 4k 8M 0 --verify_only) \
	    $(fio_args c mnt/d1.vhd write 256k 32M 33554432 --verify_only) \
	    $(fio_args b mnt/d2.vhd write 1M 32M 0 --verify_only) \
	    $(fio_args p0 mnt/d2.vhd randwrite 4k 4M 50331648 --verify_only) \
	    $(fio_args p1 mnt/d2.vhd randwrite 8k 2M 58720256 --verify_only) \
	    $(fio_args p2 mnt/d2.vhd write 1M 4M 62914560 --verify_only) \
	    >fio.out 2>&1 || { cat fio.out; false; }
'

test_expect_success 'a broken disk is caught: flipping a ciphertext sector fails verify' '
	ssefs_umount mnt &&
	printf "\377\377\377\377" |
		dd of=store/d0.vhd bs=1 seek=$((8192 + 4096 * 10 + 7)) conv=notrunc 2>/dev/null &&
	ssefs_mount store mnt &&
	test_must_fail fio $(fio_args r4k mnt/d0.vhd randwrite 4k 8M 0 --direct=1 --verify_only) >fio.out 2>&1 &&
	ssefs_umount mnt
'

test_done
