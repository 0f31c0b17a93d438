#!/bin/bash
# run-all: lock loop	(loop devices: one script at a time)

test_description='host cache: ReadOnly and ReadWrite caching, encryption at host, replay after a crash'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
command -v python3 >/dev/null || { skip_all='needs python3'; test_done; }

HC="$TRASH_DIRECTORY/hc"
CACHE="$HC/hostcache.ssefs"
MIB=1048576

# canary_file PATH MIB: MIB MiB of a recognisable text pattern
canary_file () {
	python3 -c '
import sys
line = b"SSEFS-HOST-CACHE-CANARY-%08d\n"
n = int(sys.argv[2]) * 1048576 // 32
with open(sys.argv[1], "wb") as f:
    for i in range(n):
        f.write(line % i)
' "$1" "$2"
}

# write_and_kill DISK DATA PID [fsync]: write DATA at offset 0 of DISK with
# the file kept open (so no close flushes it), optionally fsync, then
# SIGKILL the daemon before the file is closed.
write_and_kill () {
	python3 - "$@" <<-\EOF
	import os, sys, signal
	fd = os.open(sys.argv[1], os.O_RDWR)
	data = open(sys.argv[2], "rb").read()
	os.pwrite(fd, data, 0)
	if len(sys.argv) > 4:
	    os.fsync(fd)
	os.kill(int(sys.argv[3]), signal.SIGKILL)
	EOF
}

# same_prefix A B BYTES
same_prefix () {
	cmp -n "$3" "$1" "$2"
}

# crash_cleanup MNT: after a kill -9, drop the dead mount.
crash_cleanup () {
	sleep 0.3 &&
	{ fusermount3 -uz "$1" 2>/dev/null || umount -l "$1"; } &&
	! mountpoint -q "$1"
}

test_expect_success 'setup: vault, store, a disk, test data' '
	ssefs_setup_vault &&
	mkdir store &&
	ssefs disk create store/d0.vhd --size 64M >/dev/null &&
	canary_file canary 8 &&
	random_file random 8
'

test_expect_success 'caching=ReadOnly: reads come from the cache while the disk is open' '
	ssefs_mount store mnt "host_cache=$HC,caching=ReadOnly" &&
	test -f "$CACHE" &&
	test "$(stat -c %a "$HC")" = 700 &&
	test "$(stat -c %a "$CACHE")" = 600 &&
	dd if=canary of=mnt/d0.vhd bs=1M conv=notrunc status=none &&
	exec 8<mnt/d0.vhd &&
	same_prefix canary mnt/d0.vhd $((8 * MIB)) &&
	echo 3 >/proc/sys/vm/drop_caches &&
	same_prefix canary mnt/d0.vhd $((8 * MIB)) &&
	ssefs --json status mnt >st.json &&
	python3 -c "
import json, sys
s = json.load(open(\"st.json\"))[\"hostCacheStats\"]
print(s)
assert s[\"hits\"] >= 2048, s
assert s[\"dirty\"] == 0 and not s[\"plaintext\"], s
" &&
	exec 8<&- &&
	ssefs status mnt | grep "^host cache: $CACHE, ciphertext"
'

# hits JSON-STATUS-FILE: the host cache's hit count
hits () {
	python3 -c "import json; print(json.load(open(\"$1\"))[\"hostCacheStats\"][\"hits\"])"
}

test_expect_success 'ReadOnly: what a disk cached serves its next open, unless the file changed' '
	cat mnt/d0.vhd >/dev/null &&
	ssefs --json status mnt >s1.json &&
	same_prefix canary mnt/d0.vhd $((8 * MIB)) &&
	ssefs --json status mnt >s2.json &&
	echo "hits: $(hits s1.json) then $(hits s2.json)" &&
	test $(hits s2.json) -ge $(( $(hits s1.json) + 2048 )) &&
	# the backing file is put back to an older copy behind the mount,
	# with the same inode, size and even mtime: nothing stale may be
	# served (only its ctime tells)
	cp store/d0.vhd old.vhd &&
	dd if=random of=mnt/d0.vhd bs=1M conv=notrunc status=none &&
	same_prefix random mnt/d0.vhd $((8 * MIB)) &&
	mtime=$(stat -c %.9Y store/d0.vhd) &&
	cp old.vhd store/d0.vhd &&
	touch -m -d "@$mtime" store/d0.vhd &&
	test "$(stat -c %.9Y store/d0.vhd)" = "$mtime" &&
	same_prefix canary mnt/d0.vhd $((8 * MIB))
'

test_expect_success 'encryption at host on: the cache holds no plaintext' '
	no_canary "$CACHE" SSEFS-HOST-CACHE-CANARY &&
	ssefs_umount mnt &&
	no_canary "$CACHE" SSEFS-HOST-CACHE-CANARY
'

test_expect_success 'encryption at host off: the cache holds plaintext and status says so' '
	ssefs_mount store mnt "host_cache=$HC,caching=ReadOnly,encryption_at_host=off" &&
	exec 8<mnt/d0.vhd &&
	same_prefix canary mnt/d0.vhd $((8 * MIB)) &&
	! no_canary "$CACHE" SSEFS-HOST-CACHE-CANARY &&
	ssefs status mnt >st &&
	grep "^host cache: $CACHE, PLAINTEXT" st &&
	grep "^encryption at host: off" st &&
	exec 8<&- &&
	ssefs_umount mnt
'

test_expect_success 'caching=ReadWrite: data reaches the store by unmount' '
	ssefs_mount store mnt "host_cache=$HC,caching=ReadWrite,writeback_delay=1h" &&
	dd if=random of=mnt/d0.vhd bs=1M conv=notrunc status=none &&
	same_prefix random mnt/d0.vhd $((8 * MIB)) &&
	ssefs_umount mnt &&
	ssefs disk export store/d0.vhd out.raw &&
	same_prefix random out.raw $((8 * MIB))
'

test_expect_success 'ReadWrite, kill -9 before any write-back: the next mount replays' '
	random_file r2 8 &&
	ssefs_mount store mnt "host_cache=$HC,caching=ReadWrite,writeback_delay=1h" &&
	write_and_kill mnt/d0.vhd r2 $(cat store/.ssefs.lock) &&
	crash_cleanup mnt &&
	# the store file lacks what the cache holds: export and snapshot,
	# which read the file, refuse rather than give the older data
	test_expect_code 1 ssefs disk export store/d0.vhd before.raw 2>err &&
	test "$(wc -l <err)" = 1 &&
	grep "^ssefs: disk store/d0.vhd: the host cache $HC may hold writes not yet in the store $TRASH_DIRECTORY/store (a mount with caching=ReadWrite did not end cleanly): mount the store with -o host_cache=$HC,caching=ReadWrite once to write them back$" err &&
	! test -e before.raw &&
	test_expect_code 1 ssefs disk snapshot store/d0.vhd snap.vhd 2>err &&
	grep -q "may hold writes not yet in the store" err &&
	! test -e snap.vhd &&
	ssefs_mount store mnt "host_cache=$HC,caching=ReadWrite,writeback_delay=1h" &&
	# while a mount serves the store, a closed disk has nothing waiting
	ssefs disk export store/d0.vhd during.raw &&
	same_prefix r2 during.raw $((8 * MIB)) &&
	grep "warning: disk d0.vhd: wrote back 2048 sectors from the host cache" mnt.log &&
	same_prefix r2 mnt/d0.vhd $((8 * MIB)) &&
	ssefs_umount mnt &&
	ssefs disk export store/d0.vhd after.raw &&
	same_prefix r2 after.raw $((8 * MIB))
'

test_expect_success 'ReadWrite with encryption at host off: replay encrypts on the way' '
	random_file r3 4 &&
	ssefs_mount store mnt "host_cache=$HC,caching=ReadWrite,encryption_at_host=off,writeback_delay=1h" &&
	write_and_kill mnt/d0.vhd r3 $(cat store/.ssefs.lock) &&
	crash_cleanup mnt &&
	ssefs_mount store mnt "host_cache=$HC,caching=ReadWrite,writeback_delay=1h" &&
	grep "wrote back 1024 sectors" mnt.log &&
	ssefs_umount mnt &&
	ssefs disk export store/d0.vhd after.raw &&
	same_prefix r3 after.raw $((4 * MIB))
'

test_expect_success 'a torn slot is never replayed; the others are' '
	random_file r4 1 &&
	# 4 MiB of slots: the 1 MiB written stays under half of them, so no
	# early write-back can clear entries before the kill
	ssefs_mount store mnt "host_cache=$HC,caching=ReadWrite,cache_size=4M,writeback_delay=1h" &&
	write_and_kill mnt/d0.vhd r4 $(cat store/.ssefs.lock) &&
	crash_cleanup mnt &&
	nslots=$(python3 -c "
import struct
sb = open(\"$CACHE\", \"rb\").read(40)
print(struct.unpack(\"<Q\", sb[16:24])[0])") &&
	test "$nslots" = 1024 &&
	data_off=$((4096 + 65536)) &&
	# the sector in the first used slot gets one byte flipped
	python3 -c "
import struct
f = open(\"$CACHE\", \"r+b\")
for i in range(1024):
    f.seek(4096 + 64 * i)
    e = f.read(64)
    if struct.unpack(\"<I\", e[32:36])[0] & 1:
        sector = struct.unpack(\"<Q\", e[16:24])[0]
        f.seek($data_off + 4096 * i + 100)
        b = f.read(1)
        f.seek($data_off + 4096 * i + 100)
        f.write(bytes([b[0] ^ 0xff]))
        open(\"torn.sector\", \"w\").write(str(sector))
        break
" &&
	sector=$(cat torn.sector) &&
	# the store file as the crash left it (export refuses while the
	# marker names a cache to replay: set it aside for this one read)
	mv store/.ssefs-hostcache marker &&
	ssefs disk export store/d0.vhd before.raw &&
	mv marker store/.ssefs-hostcache &&
	ssefs_mount store mnt "host_cache=$HC,caching=ReadWrite,cache_size=4M,writeback_delay=1h" &&
	grep "wrote back 255 sectors" mnt.log &&
	grep "warning: disk d0.vhd: 1 host cache entry failed its check (torn by the crash, or altered) and was ignored" mnt.log &&
	ssefs_umount mnt &&
	ssefs disk export store/d0.vhd after.raw &&
	python3 -c "
s = $sector * 4096
a = open(\"after.raw\", \"rb\").read(1048576)
b = open(\"before.raw\", \"rb\").read(1048576)
r = open(\"r4\", \"rb\").read()
assert a[s:s+4096] == b[s:s+4096], \"torn sector was replayed\"
assert a[:s] == r[:s] and a[s+4096:] == r[s+4096:], \"others lost\"
"
'

test_expect_success 'what fsync acknowledged is in the store, even if the cache is lost' '
	random_file r5 4 &&
	ssefs_mount store mnt "host_cache=$HC,caching=ReadWrite,writeback_delay=1h" &&
	write_and_kill mnt/d0.vhd r5 $(cat store/.ssefs.lock) fsync &&
	crash_cleanup mnt &&
	rm -f "$CACHE" &&
	ssefs disk export store/d0.vhd after.raw &&
	same_prefix r5 after.raw $((4 * MIB))
'

test_expect_success 'a cache that holds data of another store is refused' '
	ssefs_mount store mnt "host_cache=$HC,caching=ReadWrite,writeback_delay=1h" &&
	write_and_kill mnt/d0.vhd r5 $(cat store/.ssefs.lock) &&
	crash_cleanup mnt &&
	mkdir store2 mnt2 &&
	test_expect_code 1 ssefs mount -f store2 mnt2 -o "host_cache=$HC,caching=ReadOnly" 2>err &&
	cat err &&
	test "$(wc -l <err)" = 1 &&
	grep -q "^ssefs: host cache: $CACHE holds data not yet written to store $TRASH_DIRECTORY/store: mount that store" err &&
	ssefs_mount store mnt "host_cache=$HC,caching=ReadOnly" &&
	grep "wrote back 1024 sectors" mnt.log &&
	ssefs_umount mnt
'

test_expect_success 'a second mount cannot share the host cache directory' '
	mkdir -p store2 mnt2 &&
	ssefs_mount store mnt "host_cache=$HC,caching=ReadOnly" &&
	test_expect_code 1 ssefs mount -f store2 mnt2 -o "host_cache=$HC" 2>err &&
	grep -q "^ssefs: -o host_cache=$HC: in use by another mount (pid [0-9]*)$" err &&
	test_expect_code 1 ssefs mount -f store2 mnt2 -o "host_cache=$TRASH_DIRECTORY/store2/c" 2>err &&
	grep -q "^ssefs: -o host_cache=.*/store2/c: must be outside the store and the mount point$" err &&
	! mountpoint -q mnt2 &&
	ssefs_umount mnt
'

test_expect_success 'after a crash, a mount that would not replay the cache is refused' '
	random_file r6 2 &&
	ssefs_mount store mnt "host_cache=$HC,caching=ReadWrite,writeback_delay=1h" &&
	test "$(cat store/.ssefs-hostcache)" = "$HC" &&
	! ls -a mnt | grep -q ssefs-hostcache &&
	write_and_kill mnt/d0.vhd r6 $(cat store/.ssefs.lock) &&
	crash_cleanup mnt &&
	test_expect_code 1 ssefs mount -f store mnt 2>err &&
	cat err &&
	test "$(wc -l <err)" = 1 &&
	grep -q "^ssefs: store $TRASH_DIRECTORY/store: host cache $HC may hold data not yet written to this store" err &&
	! mountpoint -q mnt &&
	mkdir -p hc2 &&
	test_expect_code 1 ssefs mount -f store mnt -o "host_cache=$TRASH_DIRECTORY/hc2,caching=ReadWrite" 2>err &&
	grep -q "may hold data not yet written" err &&
	ssefs_mount store mnt "host_cache=$HC,caching=ReadOnly" &&
	grep "wrote back 512 sectors" mnt.log &&
	ssefs_umount mnt &&
	! test -e store/.ssefs-hostcache &&
	ssefs_mount store mnt &&
	same_prefix r6 mnt/d0.vhd $((2 * MIB)) &&
	ssefs_umount mnt
'

test_expect_success LOOP 'ext4 on a disk through a tiny ReadWrite cache, checked without it' '
	ssefs disk create store/fs.vhd --size 64M >/dev/null &&
	ssefs_mount store mnt "host_cache=$HC,caching=ReadWrite,cache_size=64K" &&
	size=$(( $(stat -c %s mnt/fs.vhd) - 512 )) &&
	loop=$(losetup --find --show --sizelimit $size mnt/fs.vhd) &&
	test_when_finished "losetup -d $loop 2>/dev/null; umount vol 2>/dev/null; true" &&
	mkfs.ext4 -q -F $loop &&
	mkdir -p vol && mount $loop vol &&
	cp random canary r2 r3 vol/ &&
	(cd vol && md5sum random canary r2 r3) >sums &&
	umount vol && losetup -d $loop &&
	ssefs status mnt | grep "^host cache: .*64 KiB\|^host cache: " &&
	ssefs_umount mnt &&
	ssefs_mount store mnt &&
	loop=$(losetup --find --show --read-only --sizelimit $size mnt/fs.vhd) &&
	mount -o ro $loop vol &&
	(cd vol && md5sum -c ../sums) &&
	umount vol && losetup -d $loop &&
	ssefs_umount mnt
'

test_done
