#!/bin/bash

test_description='caching=ReadWrite with the host cache on a full file system: writes go through to the store'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq ROOT || { skip_all='needs root for a small tmpfs'; test_done; }
command -v python3 >/dev/null || { skip_all='needs python3'; test_done; }

# The host cache lives on a 16 MiB tmpfs; its cache file (8 MiB of slots)
# is sparse, so filling the tmpfs leaves most slots without room.  The
# store is in the trash directory, which has room.
HC="$TRASH_DIRECTORY/hc"
MIB=1048576

# fill DIR: a file that takes every block left
fill () {
	dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null
	test "$(df --output=avail -B1 "$1" | tail -1)" -lt 8192
}

cache_stats () {	# KEY: a number from status --json's hostCacheStats
	ssefs --json status mnt >st.json &&
	python3 -c "
import json, sys
print(json.load(open(\"st.json\"))[\"hostCacheStats\"][sys.argv[1]])
" "$1"
}

# pwrite_open FIFO DISK DATA OFFSET...: write DATA at each OFFSET with the
# disk kept open (no close, no fsync flushes anything), punch a hole of a
# MiB where an offset is given as -OFFSET, say "written", then wait, the
# disk still open, until FIFO is closed by its writer
pwrite_open () {
	python3 - "$@" <<-\EOF
	import os, sys
	hold = open(sys.argv[1], "rb")
	fd = os.open(sys.argv[2], os.O_RDWR)
	data = open(sys.argv[3], "rb").read()
	for a in sys.argv[4:]:
	    if a.startswith("-"):
	        # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
	        import ctypes
	        libc = ctypes.CDLL(None, use_errno=True)
	        libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int,
	                                   ctypes.c_long, ctypes.c_long]
	        if libc.fallocate(fd, 3, int(a[1:]), 1048576) < 0:
	            sys.exit("fallocate: " + os.strerror(ctypes.get_errno()))
	    else:
	        os.pwrite(fd, data, int(a))
	print("written", flush=True)
	hold.read()
	EOF
}

test_expect_success 'setup: vault, store, a disk, a small tmpfs for the host cache' '
	ssefs_setup_vault &&
	mkdir store "$HC" &&
	ssefs disk create store/d0.vhd --size 64M >/dev/null &&
	random_file r16 16 &&
	random_file w1 1 &&
	random_file w2 1 &&
	mount -t tmpfs -o size=16M,mode=0700 tmpfs "$HC" &&
	test_atexit "umount -l \"$HC\" 2>/dev/null"
'

test_expect_success 'host cache file system full: fsynced writes succeed and read back after a remount' '
	ssefs_mount store mnt "host_cache=$HC,caching=ReadWrite,cache_size=8M" &&
	test_when_finished "ssefs_umount_lazy mnt $SSEFS_PID" &&
	fill "$HC" &&
	test_when_finished "rm -f \"$HC/filler\"" &&
	dd if=r16 of=mnt/d0.vhd bs=1M conv=notrunc,fsync status=none &&
	cmp -n $((16 * MIB)) r16 mnt/d0.vhd &&
	test "$(cache_stats writtenThrough)" -gt 0 &&
	test "$(cache_stats lastWriteError)" = "No space left on device" &&
	ssefs status mnt >st &&
	grep "^host cache: .* written through (last cache write error: No space left on device)$" st &&
	ssefs_umount mnt &&
	ssefs disk verify store/d0.vhd >out &&
	grep -q "^result: *ok" out &&
	ssefs_mount store mnt &&
	cmp -n $((16 * MIB)) r16 mnt/d0.vhd &&
	ssefs_umount mnt
'

test_expect_success 'kill -9 after writes that went through: the replay brings back no older copy' '
	# writes are kept in the cache an hour: only the replay writes the
	# older copies back
	opts="host_cache=$HC,caching=ReadWrite,cache_size=8M,writeback_delay=1h" &&
	ssefs_mount store mnt "$opts" &&
	test_when_finished "ssefs_umount_lazy mnt; sleep 0.5" &&
	pid=$(cat store/.ssefs.lock) &&
	# w1 at 0 and 2M, cached (dirty); 2M is then discarded, so its older
	# copy is dropped from the cache but its entry still says dirty
	mkfifo hold1 &&
	{ pwrite_open hold1 mnt/d0.vhd w1 0 $((2 * MIB)) -$((2 * MIB)) >out1 & } &&
	test_when_finished "kill $! 2>/dev/null; exec 7>&-" &&
	exec 7>hold1 &&
	wait_for grep -q written out1 &&
	test "$(cache_stats dirty)" -ge 256 &&
	fill "$HC" &&
	test_when_finished "rm -f \"$HC/filler\"" &&
	# w2 at 2M and 4M: no room, straight to the store; then kill -9
	mkfifo hold2 &&
	{ pwrite_open hold2 mnt/d0.vhd w2 $((2 * MIB)) $((4 * MIB)) >out2 & } &&
	test_when_finished "kill $! 2>/dev/null; exec 6>&-" &&
	exec 6>hold2 &&
	wait_for grep -q written out2 &&
	test "$(cache_stats writtenThrough)" -ge 512 &&
	kill -9 "$pid" &&
	exec 7>&- 6>&- &&
	wait &&
	sleep 0.3 &&
	fusermount3 -uz mnt &&
	rm -f "$HC/filler" &&
	ssefs_mount store mnt "$opts" &&
	grep "wrote back [1-9][0-9]* sectors from the host cache" mnt.log &&
	cmp -n $MIB w1 mnt/d0.vhd &&
	cmp -n $MIB w2 mnt/d0.vhd 0 $((2 * MIB)) &&
	cmp -n $MIB w2 mnt/d0.vhd 0 $((4 * MIB)) &&
	ssefs_umount mnt
'

test_expect_success 'a host cache file system full before the mount: one line naming the cache' '
	fill "$HC" &&
	test_when_finished "rm -f \"$HC/filler\"" &&
	test_expect_code 1 ssefs mount -f store mnt -o "host_cache=$HC,caching=ReadWrite,cache_size=8M" 2>err &&
	cat err &&
	test "$(wc -l <err)" = 1 &&
	grep "^ssefs: host cache: $HC/hostcache.ssefs: cannot create it: No space left on device$" err
'

test_done
