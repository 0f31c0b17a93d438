#!/bin/bash

test_description='caching=ReadWrite on a blob store (Azurite): a full host cache does not stall random writes, writes back in large Put Pages, and lets streams through'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh
. "$TEST_DIRECTORY"/lib-azurite.sh

azurite_need_tools
test_have_prereq AZURITE || { skip_all='no Azurite (make deps)'; test_done; }
test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
command -v jq >/dev/null || { skip_all='needs jq'; test_done; }
command -v python3 >/dev/null || { skip_all='needs python3'; test_done; }

MIB=1048576
# 8 MiB of slots: 2048 sectors of 4 KiB (the disks' sector size), half of
# the 16 MiB the first write puts in the cache, so it is full when the
# random writes start.  On main before the fix, write-back went in runs
# of 64 sectors and writes the full cache could not take one Put Page per
# sector: 16 KiB per request where the check below wants 256 KiB.
OPTS="host_cache=$TRASH_DIRECTORY/hc,caching=ReadWrite,cache_size=8M"

json () {	# JQ: a number from status --json of mnt
	ssefs --json status mnt | jq -r "$1"
}

blob_counts () {	# FILE: "requests bytesOut" of the blob store
	json '"\(.blobStore.requests) \(.blobStore.bytesOut)"' >"$1"
}

# fill FILE: FILE's first 16 MiB over mnt/d0.vhd, even MiBs first, then
# odd ones: no two writes in a row are consecutive, so nothing counts as a
# stream (a stream past 4 MiB goes straight to a blob store) and the
# first 8 MiB fill the cache
fill () {
	for i in 0 2 4 6 8 10 12 14 1 3 5 7 9 11 13 15; do
		timeout 60 dd if="$1" of=mnt/d0.vhd bs=1M skip=$i seek=$i count=1 \
			conv=notrunc status=none || return 1
	done
}

# avg_put BEFORE AFTER: bytes per blob request between two blob_counts
avg_put () {
	read -r q0 b0 <"$1" && read -r q1 b1 <"$2" &&
	echo $(( (b1 - b0) / (q1 - q0 > 0 ? q1 - q0 : 1) ))
}

# rw.py FILE MODEL COUNT: COUNT writes of 4 KiB of random bytes at random
# 4 KiB offsets of FILE's first 16 MiB from 4 threads (each its own
# offsets, so the result is known), no fsync; MODEL (the first 16 MiB,
# as FILE had them) is updated to what FILE must hold after
cat >rw.py <<-\EOF
import os, random, sys, threading
path, model, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
img = bytearray(open(model, "rb").read())
fd = os.open(path, os.O_RDWR)
def run(k):
    rnd = random.Random(k)
    for _ in range(count // 4):
        blk = rnd.randrange(len(img) // 16384) * 4 + k
        data = os.urandom(4096)
        os.pwrite(fd, data, blk * 4096)
        img[blk * 4096:(blk + 1) * 4096] = data
ts = [threading.Thread(target=run, args=(k,)) for k in range(4)]
for t in ts: t.start()
for t in ts: t.join()
os.close(fd)
open(model, "wb").write(img)
EOF

# umount_bounded: unmount mnt; its daemon has 120 s to write back and end
umount_bounded () {
	fusermount3 -u mnt &&
	timeout 120 tail --pid="$SSEFS_PID" -f /dev/null
}

test_expect_success 'setup: vault, Azurite, a 32 MiB disk in a container and in a directory' '
	ssefs_setup_vault &&
	azurite_start &&
	"$AZB_TOOL" "$AZURITE_URL/con" mkcontainer &&
	C=$AZURITE_URL/con &&
	ssefs disk create "$C/d0.vhd" --size 32M >/dev/null &&
	mkdir hc store &&
	ssefs disk create store/d0.vhd --size 32M >/dev/null &&
	random_file seq 16
'

test_expect_success 'a full cache: sequential write-back goes in large Put Pages' '
	ssefs_mount "$C" mnt "$OPTS" &&
	blob_counts c0 &&
	fill seq &&
	test "$(json .hostCacheStats.used)" = 2048 &&
	timeout 120 dd if=seq of=mnt/d0.vhd bs=1M count=1 conv=notrunc,fsync status=none &&
	test "$(json .hostCacheStats.dirty)" = 0 &&
	blob_counts c1 &&
	echo "bytes per request: $(avg_put c0 c1)" &&
	test "$(avg_put c0 c1)" -ge $((256 * 1024))
'

test_expect_success 'a full cache: 4 KiB random writes finish in bounded time, one request each at most' '
	fill seq &&
	cp seq model &&
	blob_counts c2 &&
	start=$(date +%s%N) &&
	timeout 120 python3 rw.py mnt/d0.vhd model 4000 &&
	echo "4000 random writes: $(( ($(date +%s%N) - start) / 1000000 )) ms" &&
	blob_counts c3 &&
	json .hostCacheStats &&
	echo "bytes per request: $(avg_put c2 c3)" &&
	test "$(avg_put c2 c3)" -ge 4096 &&
	timeout 120 dd if=seq of=mnt/d0.vhd bs=4k count=1 conv=notrunc,fsync status=none &&
	dd if=seq of=model bs=4k count=1 conv=notrunc status=none &&
	cmp -n $((16 * MIB)) model mnt/d0.vhd
'

test_expect_success 'the data reads back after unmount and remount' '
	umount_bounded &&
	ssefs_mount "$C" mnt "$OPTS" &&
	cmp -n $((16 * MIB)) model mnt/d0.vhd &&
	umount_bounded
'

test_expect_success 'a stream past 4 MiB goes straight to the store, and reads back' '
	ssefs disk create "$C/d1.vhd" --size 32M >/dev/null &&
	ssefs_mount "$C" mnt "$OPTS" &&
	u0=$(json .hostCacheStats.used) &&
	w0=$(json .hostCacheStats.writtenThrough) &&
	timeout 120 dd if=seq of=mnt/d1.vhd bs=1M conv=notrunc,fsync status=none &&
	u1=$(json .hostCacheStats.used) &&
	w1=$(json .hostCacheStats.writtenThrough) &&
	echo "slots used $u0 -> $u1, sectors written through $w0 -> $w1" &&
	test $((u1 - u0)) -le 1280 &&
	test $((w1 - w0)) -ge $((11 * 256)) &&
	cmp -n $((16 * MIB)) seq mnt/d1.vhd &&
	umount_bounded &&
	ssefs_mount "$C" mnt "$OPTS" &&
	cmp -n $((16 * MIB)) seq mnt/d1.vhd &&
	umount_bounded
'

# sparse.py FILE MODEL N: every 4th 4 KiB sector of FILE's first N MiB,
# in a random order, with random bytes: no two in a row are consecutive,
# so they go to the cache; MODEL (FILE's content before) is updated
cat >sparse.py <<-\EOF
import os, random, sys
path, model, n = sys.argv[1], sys.argv[2], int(sys.argv[3]) * 256
img = bytearray(open(model, "rb").read())
fd = os.open(path, os.O_RDWR)
blks = list(range(0, n, 4))
random.shuffle(blks)
for b in blks:
    data = os.urandom(4096)
    os.pwrite(fd, data, b * 4096)
    img[b * 4096:(b + 1) * 4096] = data
os.close(fd)
open(model, "wb").write(img)
EOF

# writeback_delay=60s: nothing goes back before the fsync, however long
# sparse.py takes (on a loaded machine the first sectors otherwise reach
# their 1 s delay while it still writes, and fewer than 1024 are dirty)
test_expect_success 'scattered dirty sectors go back in spans, the sectors between read from the store' '
	ssefs disk create "$C/d2.vhd" --size 32M >/dev/null &&
	ssefs_mount "$C" mnt "host_cache=$TRASH_DIRECTORY/hc2,caching=ReadWrite,cache_size=64M,writeback_delay=60s" &&
	timeout 60 dd if=seq of=mnt/d2.vhd bs=1M conv=notrunc,fsync status=none &&
	cp seq model2 &&
	timeout 120 python3 sparse.py mnt/d2.vhd model2 16 &&
	test "$(json .hostCacheStats.dirty)" -ge 1024 &&
	blob_counts s0 &&
	timeout 120 dd if=/dev/null of=mnt/d2.vhd conv=notrunc,fsync status=none &&
	blob_counts s1 &&
	test "$(json .hostCacheStats.dirty)" = 0 &&
	read -r q0 b0 <s0 && read -r q1 b1 <s1 &&
	echo "1024 scattered sectors written back in $((q1 - q0)) requests" &&
	test $((q1 - q0)) -le 128 &&
	cmp -n $((16 * MIB)) model2 mnt/d2.vhd
'

test_expect_success 'a stream over the spans while they go back: the stream is what stays' '
	cp seq model2 &&
	timeout 120 python3 sparse.py mnt/d2.vhd model2 16 &&
	random_file seq2 16 &&
	{ timeout 120 dd if=/dev/null of=mnt/d2.vhd conv=notrunc,fsync status=none & } &&
	flusher=$! &&
	timeout 120 dd if=seq2 of=mnt/d2.vhd bs=1M conv=notrunc,fsync status=none &&
	wait $flusher &&
	cmp -n $((16 * MIB)) seq2 mnt/d2.vhd &&
	umount_bounded &&
	ssefs_mount "$C" mnt &&
	cmp -n $((16 * MIB)) seq2 mnt/d2.vhd &&
	ssefs_umount mnt
'

test_expect_success 'the same on a directory store' '
	ssefs_mount store mnt "$OPTS" &&
	timeout 60 dd if=seq of=mnt/d0.vhd bs=1M conv=notrunc status=none &&
	cp seq model &&
	start=$(date +%s%N) &&
	timeout 120 python3 rw.py mnt/d0.vhd model 4000 &&
	echo "4000 random writes: $(( ($(date +%s%N) - start) / 1000000 )) ms" &&
	json .hostCacheStats &&
	umount_bounded &&
	ssefs_mount store mnt "$OPTS" &&
	cmp -n $((16 * MIB)) model mnt/d0.vhd &&
	umount_bounded
'

test_done
