#!/bin/bash

test_description='read-ahead on a blob store (Azurite): a stream is read in 8 MiB Gets, and writes ahead of it are seen'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh
. "$TEST_DIRECTORY"/lib-azurite.sh
AZURITE_DEBUG=1	# the tests count requests in azurite/debug.log

azurite_need_tools
test_have_prereq AZURITE || { skip_all='no Azurite (make deps)'; test_done; }
test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }

MIB=1048576

# gets N: how many ranged Gets of exactly N bytes Azurite has served
gets () {
	grep -c "downloadPageBlob() NormalizedDownloadRange=.* RequiredContentLength=$1\$" \
		azurite/debug.log || test $? = 1
}

# io CMD...: one process holds the disk open twice with O_DIRECT (no page
# cache: every read reaches the daemon; and an open reads the disk's
# header, which is not what these tests are about), and runs each CMD in
# turn: "r SKIP COUNT" appends COUNT MiB from MiB SKIP on to ./got,
# "w FILE BS SEEK" writes FILE at block SEEK of BS bytes
io () {
	python3 - "$@" <<-\EOF
	import mmap, os, sys
	rfd = os.open("mnt/d.vhd", os.O_RDONLY | os.O_DIRECT)
	wfd = os.open("mnt/d.vhd", os.O_WRONLY | os.O_DIRECT)
	buf = mmap.mmap(-1, 1 << 20)
	a = sys.argv[1:]
	with open("got", "ab") as got:
	    while a:
	        if a[0] == "r":
	            for i in range(int(a[2])):
	                n = os.preadv(rfd, [buf], (int(a[1]) + i) << 20)
	                assert n == 1 << 20, n
	                got.write(buf[:n])
	            a = a[3:]
	        else:
	            data = open(a[1], "rb").read()
	            bs = int(a[2])
	            w = mmap.mmap(-1, len(data))
	            w.write(data)
	            assert os.pwritev(wfd, [w], bs * int(a[3])) == len(data)
	            a = a[4:]
	EOF
}

test_expect_success 'setup: vault, Azurite, a 48 MiB disk, mounted' '
	ssefs_setup_vault &&
	azurite_start &&
	"$AZB_TOOL" "$AZURITE_URL/con" mkcontainer &&
	C=$AZURITE_URL/con &&
	ssefs disk create "$C/d.vhd" --size 48M >/dev/null &&
	mkdir mnt &&
	ssefs_mount "$C" mnt &&
	head -c $((48 * MIB)) /dev/urandom >data &&
	io w data 1048576 0
'

test_expect_success 'a stream of 1 MiB reads: equal, and read in 8 MiB Gets' '
	before=$(gets 8388608) &&
	rm -f got &&
	io r 0 48 &&
	test_cmp data got &&
	after=$(gets 8388608) &&
	test "$after" -ge $((before + 4)) &&
	# reads that jump about are not read ahead
	io r 3 1 r 27 1 r 11 1 r 33 1 r 19 1 &&
	test "$(gets 8388608)" = "$after"
'

test_expect_success 'writes ahead of a streaming reader: the reader sees them' '
	cp data want &&
	set -- r 0 6 &&
	for at in 7 10 15 20; do
		head -c $MIB /dev/urandom >patch$at &&
		dd if=patch$at of=want bs=1M seek=$at conv=notrunc \
			status=none &&
		set -- "$@" w patch$at 1048576 $at || return 1
	done &&
	rm -f got &&
	io "$@" r 6 42 &&
	test_cmp want got &&
	test "$(gets 8388608)" -gt "$after"
'

test_expect_success 'a write inside the window being read, then the rest' '
	head -c 4096 /dev/urandom >patch &&
	dd if=patch of=want bs=4096 seek=$((3 * 256 + 5)) conv=notrunc \
		status=none &&
	rm -f got &&
	io r 0 2 w patch 4096 $((3 * 256 + 5)) r 2 46 &&
	test_cmp want got
'

test_expect_success 'unmount, remount: the store holds what was read' '
	ssefs_umount mnt &&
	ssefs_mount "$C" mnt &&
	rm -f got &&
	io r 0 48 &&
	test_cmp want got &&
	ssefs_umount mnt
'

test_expect_success 'stop Azurite' '
	azurite_stop
'

test_done
