#!/bin/bash
# run-all: lock loop	(loop devices, and the fuse module's enable_uring)

test_description='FUSE over io_uring (-o io_uring): the transport status
shows, data written and read through the rings (direct and buffered, 4 KiB
to 1 MiB, two writers) verifies, ext4 on an attached disk survives fsck, a
revoked key stops the disk and a re-enabled one resumes it, the daemon
exits cleanly, and the switches refuse what they cannot do'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq LOOP,JQ || { skip_all='needs root, loop devices and jq'; test_done; }
URING=/sys/module/fuse/parameters/enable_uring
test -w "$URING" || {
	skip_all="this kernel has no FUSE over io_uring ($URING: Linux 6.14+)"
	test_done
}
command -v fio >/dev/null || { skip_all='needs fio'; test_done; }

was=$(cat "$URING")
# put the machine's setting back, whatever happens
test_atexit "echo $was >$URING"
echo Y >"$URING"

transport () {
	ssefs --json status "$1" | jq -r .fuseTransport
}

detach_all () {
	umount fs 2>/dev/null
	detach_loops_under "$PWD/mnt"
}

# verify_e OUT: e.vhd still holds what the buffered fio test wrote
verify_e () {
	fio --name=b --filename=mnt/e.vhd --size=32M --rw=read --bs=128k \
		--verify=crc32c --verify_fatal=1 --verify_only \
		--ioengine=psync >"$1" 2>&1 || { cat "$1" >&2; false; }
}

test_expect_success 'setup: a disk under a customer key, a mount over io_uring' '
	ssefs_setup_vault &&
	ssefs key create k1 --size 2048 >/dev/null &&
	mkdir store fs &&
	ssefs disk create store/d.vhd --size 256M --key k1 >/dev/null &&
	ssefs disk create store/e.vhd --size 128M --key k1 >/dev/null &&
	ssefs_mount store mnt "key_check_interval=1s,revoke_grace=0" &&
	test_atexit detach_all &&
	test "$(transport mnt)" = io_uring &&
	ssefs status mnt >st &&
	grep "^transport:  io_uring ([0-9]* threads, [0-9]* requests)$" st
'

test_expect_success 'the rings carry the requests (the count grows)' '
	n1=$(ssefs status mnt | sed -n "s/.*threads, \([0-9]*\) requests.*/\1/p") &&
	dd if=mnt/d.vhd of=/dev/null bs=4k count=64 iflag=direct 2>/dev/null &&
	n2=$(ssefs status mnt | sed -n "s/.*threads, \([0-9]*\) requests.*/\1/p") &&
	test "$n2" -ge $((n1 + 64))
'

test_expect_success 'fio verify through the rings: direct 4K-1M, two writers' '
	fio --name=v --filename=mnt/d.vhd --size=64M --offset=0 \
		--rw=randwrite --bsrange=4k-1m --direct=1 --numjobs=2 \
		--offset_increment=96M --verify=crc32c --verify_fatal=1 \
		--do_verify=1 --ioengine=psync >fio.out 2>&1 ||
	{ cat fio.out >&2; false; }
'

test_expect_success 'fio verify through the rings: buffered, then re-read cold' '
	fio --name=b --filename=mnt/e.vhd --size=32M --rw=write --bs=128k \
		--verify=crc32c --verify_fatal=1 --do_verify=0 \
		--end_fsync=1 --ioengine=psync >fio2.out 2>&1 &&
	echo 3 >/proc/sys/vm/drop_caches &&
	fio --name=b --filename=mnt/e.vhd --size=32M --rw=read --bs=128k \
		--verify=crc32c --verify_fatal=1 --verify_only \
		--ioengine=psync >>fio2.out 2>&1 ||
	{ cat fio2.out >&2; false; }
'

test_expect_success 'ext4 on an attached disk: files in, detach, fsck clean' '
	random_file want 8 &&
	dev=$(ssefs disk attach mnt/d.vhd) &&
	mkfs.ext4 -q "$dev" &&
	mount "$dev" fs &&
	cp want fs/want &&
	umount fs &&
	fsck.ext4 -fn "$dev" >fsck.out 2>&1 &&
	mount -o ro "$dev" fs &&
	cmp want fs/want &&
	umount fs &&
	ssefs disk detach "$dev"
'

test_expect_success 'a disabled key stops the disk over the rings; re-enabled, it resumes' '
	head -c 1048576 mnt/d.vhd >want1 &&
	ssefs key set k1 --enabled false >/dev/null &&
	wait_for eval "! head -c 4096 mnt/d.vhd >/dev/null 2>err" &&
	grep -q "Key has been revoked" err &&
	ssefs key set k1 --enabled true >/dev/null &&
	wait_for eval "head -c 1048576 mnt/d.vhd >got1 2>/dev/null" &&
	cmp want1 got1
'

test_expect_success 'unmount with the rings busy a moment before: the daemon exits 0' '
	dd if=mnt/d.vhd of=/dev/null bs=1M count=16 2>/dev/null &&
	ssefs_umount mnt
'

test_expect_success 'the data is there after a remount over /dev/fuse (-o io_uring=off)' '
	ssefs_mount store mnt io_uring=off &&
	test "$(transport mnt)" = /dev/fuse &&
	ssefs status mnt >st &&
	grep "^transport:  /dev/fuse$" st &&
	grep "io_uring=off" st &&
	verify_e fio3.out &&
	ssefs_umount mnt
'

test_expect_success 'SIGTERM with a file open: the daemon ends and unmounts' '
	ssefs_mount store mnt &&
	test "$(transport mnt)" = io_uring &&
	pid=$(cat store/.ssefs.lock) &&
	exec 9<mnt/d.vhd &&
	kill -TERM "$pid" &&
	wait_gone "$pid" &&
	exec 9<&- &&
	! mountpoint -q mnt &&
	ssefs_mount store mnt &&
	verify_e fio4.out &&
	ssefs_umount mnt
'

test_expect_success 'kill -9 in the middle of writes over the rings: fsynced data stays' '
	ssefs_mount store mnt &&
	test "$(transport mnt)" = io_uring &&
	pid=$(cat store/.ssefs.lock) &&
	{ fio --name=w --filename=mnt/d.vhd --rw=randwrite --bs=4k \
	      --offset=128M --size=64M --ioengine=psync --direct=1 \
	      --numjobs=2 --time_based --runtime=30 >/dev/null 2>&1 &
	  f=$!; } &&
	sleep 2 &&
	kill -9 "$pid" &&
	{ wait $f; true; } &&
	wait_gone "$pid" &&
	ssefs_umount_lazy mnt &&
	ssefs_mount store mnt &&
	verify_e fio5.out &&
	ssefs_umount mnt
'

test_expect_success 'enable_uring N: auto falls back to /dev/fuse, on is refused in one line' '
	echo N >"$URING" &&
	mkdir mnt2 &&
	ssefs_mount store mnt &&
	test "$(transport mnt)" = /dev/fuse &&
	ssefs_umount mnt &&
	test_must_fail ssefs mount store mnt2 -o io_uring=on 2>err &&
	test "$(wc -l <err)" = 1 &&
	grep "^ssefs: -o io_uring=on: the kernel does not offer FUSE over io_uring" err &&
	! mountpoint -q mnt2 &&
	test_must_fail ssefs mount store mnt2 -o io_uring=maybe 2>err &&
	grep "io_uring=maybe: must be auto, on or off" err
'

test_done
