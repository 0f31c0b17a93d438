#!/bin/bash

test_description='data path: one FUSE request per write, no setuid/setgid on disks'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq QEMU || { skip_all='needs qemu-img'; test_done; }

# The daemon runs with libfuse's -o debug, which logs every request into
# mnt.log: that is how the requests are counted.
test_expect_success 'setup: vault, mount (with request logging), one disk' '
	ssefs_setup_vault &&
	mkdir store &&
	ssefs_mount store mnt debug &&
	make_vhd mnt/d0.vhd 8M
'

# Without FUSE_HANDLE_KILLPRIV_V2 (fuse/fuseio.c) the kernel sends
# getxattr("security.capability") before every write(2): 64 here.
test_expect_success '64 writes ask security.capability at most once' '
	before=$(wc -l <mnt.log) &&
	dd if=/dev/urandom of=mnt/d0.vhd bs=4096 count=64 conv=notrunc \
		status=none &&
	sync mnt/d0.vhd &&
	n=$(tail -n +$((before + 1)) mnt.log |
	    { grep -c "getxattr.*security\.capability" || :; }) &&
	echo "security.capability requests: $n" &&
	test "$n" -le 1
'

test_expect_success 'the 64 writes reached the daemon and read back' '
	test "$(grep -c "opcode: WRITE" mnt.log)" -ge 64 &&
	dd if=mnt/d0.vhd bs=4096 count=64 status=none | wc -c >n &&
	echo 262144 >expect &&
	test_cmp expect n
'

test_expect_success 'chmod drops setuid and setgid on a disk' '
	chmod 6755 mnt/d0.vhd &&
	echo 755 >expect &&
	stat -c %a mnt/d0.vhd >actual &&
	test_cmp expect actual &&
	stat -c %a store/d0.vhd >actual &&
	test_cmp expect actual
'

test_expect_success 'a setuid backing file shows without setuid' '
	chmod 4755 store/d0.vhd &&
	sleep 1.2 &&
	stat -c %a mnt/d0.vhd >actual &&
	echo 755 >expect &&
	test_cmp expect actual
'

test_expect_success 'a disk created setgid through the mount is not' '
	(umask 022 && qemu-img create -q -f vpc \
		-o subformat=fixed,force_size=on mnt/d1.vhd 1M) &&
	chmod 2644 mnt/d1.vhd &&
	test "$(stat -c %a mnt/d1.vhd)" = 644
'

test_expect_success 'directories keep setgid' '
	mkdir mnt/dir &&
	chmod 2755 mnt/dir &&
	echo 2755 >expect &&
	stat -c %a mnt/dir >actual &&
	test_cmp expect actual
'

# nullpath_ok: I/O, ftruncate, fsync and fchmod on an open file come
# without a path; after unlink there is none at all.  (fstat and fchmod
# right after unlink fail with ESTALE, with or without nullpath_ok: the
# kernel asks for them without the file handle.)
test_expect_success 'an open, unlinked disk still reads, writes, truncates' '
	(umask 022 && qemu-img create -q -f vpc \
		-o subformat=fixed,force_size=on mnt/gone.vhd 1M) &&
	python3 - mnt/gone.vhd <<-\PY &&
	import os, sys
	fd = os.open(sys.argv[1], os.O_RDWR)
	os.fchmod(fd, 0o640)
	assert os.fstat(fd).st_mode & 0o7777 == 0o640
	os.pwrite(fd, b"x" * 8192, 4096)
	os.unlink(sys.argv[1])
	os.pwrite(fd, b"y" * 100, 10000)
	want = b"x" * 5904 + b"y" * 100 + b"x" * 2188
	assert os.pread(fd, 8192, 4096) == want
	os.ftruncate(fd, 2 * 1048576)
	assert os.fstat(fd).st_size == 2 * 1048576
	os.fsync(fd)
	assert os.pread(fd, 8192, 4096) == want
	os.close(fd)
	PY
	! test -e mnt/gone.vhd &&
	! test -e store/gone.vhd
'

# An O_DIRECT open is answered with FOPEN_DIRECT_IO and (fuse/fuseio.c)
# FOPEN_PARALLEL_DIRECT_WRITES: the kernel then lets the direct writes of
# one disk reach the daemon at the same time instead of one after the
# other under the inode lock.  Seen in the debug log: a WRITE request that
# arrives before the reply to an earlier one.
test_expect_success 'O_DIRECT writers of one disk reach the daemon in parallel' '
	make_vhd mnt/pw.vhd 16M &&
	before=$(wc -l <mnt.log) &&
	fio --name=pw --filename=mnt/pw.vhd --direct=1 --rw=randwrite \
		--bs=4k --size=8M --numjobs=4 --ioengine=psync \
		--time_based --runtime=2 --norandommap --randrepeat=0 \
		--group_reporting >fio.out &&
	tail -n +$((before + 1)) mnt.log |
	awk "/opcode: WRITE/ { sub(\",\", \"\", \$2); w[\$2] = 1; n++;
			      if (n > max) max = n }
	     /^ *unique: [0-9]+, (success|error)/ { sub(\",\", \"\", \$2);
			      if (\$2 in w) { delete w[\$2]; n-- } }
	     END { print max + 0 }" >most &&
	echo "most WRITE requests in flight at once: $(cat most)" &&
	test "$(cat most)" -ge 2
'

test_expect_success 'concurrent O_DIRECT writers of one disk: the data is right' '
	fio --name=dv --filename=mnt/pw.vhd --direct=1 --rw=randwrite \
		--bs=4k --size=2M --offset_increment=2M --numjobs=4 \
		--ioengine=psync --verify=crc32c --verify_fatal=1 \
		--group_reporting >fio.out &&
	fio --name=dva --filename=mnt/pw.vhd --direct=1 --rw=randwrite \
		--bs=64k --size=4M --offset=8M --offset_increment=4M \
		--numjobs=2 --ioengine=libaio --iodepth=16 --verify=crc32c \
		--verify_fatal=1 --group_reporting >fio.out &&
	test_must_fail grep -i "verify.*fail\|bad magic" fio.out
'

# More large writes at once than the cipher layer has whole-request buffers
# (two in the daemon): the others encrypt and write in 128 KiB slices, and
# the volume's 64 KiB stripes let writes of disjoint ranges run together,
# also when a request straddles stripes (640 KiB).  fio checks each block
# as written and again, read through the daemon from the store, later.
test_expect_success 'large O_DIRECT writers at once: the data is right' '
	make_vhd mnt/lw.vhd 48M &&
	for bs in 1M 640k; do
		set -- --name=lw --filename=mnt/lw.vhd --direct=1 --rw=write \
			--bs=$bs --size=10M --offset_increment=10M \
			--numjobs=4 --ioengine=libaio --iodepth=4 \
			--verify=crc32c --verify_fatal=1 --group_reporting &&
		fio "$@" >fio.out &&
		fio "$@" --verify_only >>fio.out || return 1
	done &&
	test_must_fail grep -i "verify.*fail\|bad magic" fio.out
'

# The page cache stays for every other open: a shared mmap of a normal
# open, and (FUSE_DIRECT_IO_ALLOW_MMAP) of an O_DIRECT one, see the same
# bytes as O_DIRECT reads and writes.
test_expect_success 'mmap of a normal and of an O_DIRECT open, mixed with O_DIRECT I/O' '
	python3 - mnt/pw.vhd <<-\PY
	import mmap, os, sys
	fd = os.open(sys.argv[1], os.O_RDWR)
	m = mmap.mmap(fd, 65536, mmap.MAP_SHARED)
	m[0:5] = b"hello"
	m.flush()
	dfd = os.open(sys.argv[1], os.O_RDWR | os.O_DIRECT)
	buf = mmap.mmap(-1, 4096)
	assert os.preadv(dfd, [buf], 0) == 4096 and buf[0:5] == b"hello"
	buf[0:5] = b"world"
	assert os.pwritev(dfd, [buf], 8192) == 4096
	dm = mmap.mmap(dfd, 65536, mmap.MAP_SHARED)
	assert dm[8192:8197] == b"world", dm[8192:8197]
	dm[16384:16389] = b"again"
	dm.flush()
	assert os.preadv(dfd, [buf], 16384) == 4096 and buf[0:5] == b"again"
	m.close(); dm.close(); os.close(fd); os.close(dfd)
	PY
'

# CREATE with O_DIRECT gets the same reply flags; its writes grow the disk
# (past the end: the kernel serialises those itself).
test_expect_success 'a disk created with O_DIRECT, written and read back' '
	head -c 65536 /dev/urandom >want &&
	dd if=want of=mnt/odc.vhd bs=4096 oflag=direct status=none &&
	test "$(stat -c %s mnt/odc.vhd)" = 65536 &&
	dd if=mnt/odc.vhd of=got bs=4096 iflag=direct status=none &&
	test_cmp want got
'

test_expect_success 'unmount' '
	ssefs_umount mnt
'

test_done
