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

test_expect_success 'unmount' '
	ssefs_umount mnt
'

test_done
