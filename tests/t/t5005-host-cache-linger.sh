#!/bin/bash

test_description='caching=ReadWrite: close(2) does not wait for the write-back; the disk lingers, open, until its cache has written it back'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh
. "$TEST_DIRECTORY"/lib-azurite.sh

azurite_need_tools
test_have_prereq AZURITE || { skip_all='no Azurite (make deps)'; test_done; }
test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
command -v jq >/dev/null || { skip_all='needs jq'; test_done; }
command -v fio >/dev/null || { skip_all='needs fio'; test_done; }

MIB=1048576
RW="host_cache=$TRASH_DIRECTORY/hc,caching=ReadWrite,cache_size=512M"

disk () {	# JQ: a field of d0.vhd in status --json of mnt
	ssefs --json status mnt |
		jq -r ".disks[] | select(.path == \"d0.vhd\") | $1"
}

# The kernel sends RELEASE after close(2) has returned, so a state that
# follows a last close is waited for (wait_for: 15 s), not read at once.
lingers () { test "$(disk .lingering)" = true; }
closed () { test "$(disk .open)" = false; }

# wait_closed SECONDS: the lingering d0.vhd is written back and closed
wait_closed () {
	for i in $(test_seq "$1"); do
		closed && return 0
		sleep 1
	done
	echo "d0.vhd still open: $(disk '"\(.lingering) \(.dirtySectors)"')"
	return 1
}

# fio_rw SECONDS [SIZE]: 4 KiB random writes into the first SIZE (256M)
# of mnt/d0.vhd, no fsync; prints the wall time of the whole run, close
# included
fio_rw () {
	start=$(date +%s%N) &&
	fio --name=rw --filename=mnt/d0.vhd --rw=randwrite --bs=4k \
		--size="${2:-256M}" --ioengine=psync --direct=1 --time_based \
		--runtime="$1" --randrepeat=0 --output=fio.out &&
	wall=$(( ($(date +%s%N) - start) / 1000000 )) &&
	echo "fio ${1}s: $(grep -o "IOPS=[^,]*" fio.out), wall ${wall} ms"
}

# kill9: the daemon of mnt dies at once; its mount is detached
kill9 () {
	kill -KILL "$SSEFS_PID" &&
	timeout 10 tail --pid="$SSEFS_PID" -f /dev/null
	fusermount3 -uz mnt
}

test_expect_success 'setup: vault, Azurite, a 256 MiB disk in a container and in a directory' '
	ssefs_setup_vault &&
	azurite_start &&
	"$AZB_TOOL" "$AZURITE_URL/con" mkcontainer &&
	C=$AZURITE_URL/con &&
	ssefs disk create "$C/d0.vhd" --size 256M >/dev/null &&
	mkdir hc store &&
	ssefs disk create store/d0.vhd --size 256M >/dev/null
'

test_expect_success 'blob store: fio 4k randwrite returns from close within seconds' '
	ssefs_mount "$C" mnt "$RW" &&
	timeout 20 bash -c "$(declare -f fio_rw); fio_rw 5" &&
	echo "after close: $(disk "\"open=\(.open) lingering=\(.lingering) dirty=\(.dirtySectors)\"")"
'

# the write-back goes on meanwhile: by the time the read below closes the
# disk, it may have ended (on a loaded machine, whose fio made fewer dirty
# sectors and whose read is slow), and then that close closes it
lingers_or_clean () {
	lingers ||
	{ closed &&
	  test "$(ssefs --json status mnt | jq .hostCacheStats.dirty)" = 0; }
}

test_expect_success 'blob store: the lingering disk opens again, sharing its volume' '
	lingers &&
	test "$(disk .dirtySectors)" -gt 0 &&
	dd if=mnt/d0.vhd of=expect bs=1M count=256 status=none &&
	wait_for lingers_or_clean &&
	echo "after the read: $(disk "\"open=\(.open) lingering=\(.lingering) dirty=\(.dirtySectors)\"")"
'

test_expect_success 'blob store: written back, it closes; the blob has the data' '
	wait_closed 600 &&
	test "$(ssefs --json status mnt | jq .hostCacheStats.dirty)" = 0 &&
	kill9 &&
	ssefs_mount "$C" mnt &&
	cmp -n $((256 * MIB)) expect mnt/d0.vhd &&
	ssefs_umount mnt
'

# (random writes into 32 MiB of the disk, for a second: each run of
# dirty sectors is one Put Page to Azurite at the unmount, and a few
# thousand show the write-back as well as tens of thousands do)
test_expect_success 'blob store: unmount writes a lingering disk back' '
	ssefs_mount "$C" mnt "$RW,writeback_delay=1h" &&
	timeout 20 bash -c "$(declare -f fio_rw); fio_rw 1 32M" &&
	wait_for lingers &&
	test "$(disk .dirtySectors)" -gt 0 &&
	dd if=mnt/d0.vhd of=expect bs=1M count=256 status=none &&
	fusermount3 -u mnt &&
	timeout 600 tail --pid="$SSEFS_PID" -f /dev/null &&
	ssefs_mount "$C" mnt &&
	cmp -n $((256 * MIB)) expect mnt/d0.vhd &&
	ssefs_umount mnt
'

test_expect_success 'directory store: a clean disk closes at its last close, a dirty one lingers and export refuses it' '
	ssefs_mount store mnt "$RW,writeback_delay=1h" &&
	random_file a 8 &&
	dd if=a of=mnt/d0.vhd bs=1M conv=notrunc,fsync status=none &&
	wait_for closed &&
	random_file b 8 &&
	dd if=b of=mnt/d0.vhd bs=1M seek=8 conv=notrunc status=none &&
	echo "after close: $(disk "\"lingering=\(.lingering) dirty=\(.dirtySectors)\"")" &&
	wait_for lingers &&
	test "$(disk .dirtySectors)" -gt 0 &&
	test_must_fail ssefs disk export store/d0.vhd exported.vhd 2>err &&
	cat err
'

test_expect_success 'directory store: kill -9 while lingering loses nothing; replayed at the next mount' '
	kill9 &&
	ssefs_mount store mnt "$RW" &&
	cmp -n $((8 * MIB)) a mnt/d0.vhd &&
	cmp -i $((8 * MIB)):0 -n $((8 * MIB)) mnt/d0.vhd b &&
	ssefs_umount mnt &&
	ssefs_mount store mnt &&
	cmp -n $((8 * MIB)) a mnt/d0.vhd &&
	cmp -i $((8 * MIB)):0 -n $((8 * MIB)) mnt/d0.vhd b &&
	ssefs_umount mnt
'

test_expect_success 'directory store: SIGTERM writes a lingering disk back and closes it' '
	ssefs_mount store mnt "$RW,writeback_delay=1h" &&
	random_file c 8 &&
	dd if=c of=mnt/d0.vhd bs=1M seek=16 conv=notrunc status=none &&
	wait_for lingers &&
	pid=$SSEFS_PID &&
	kill -TERM "$(cat store/.ssefs.lock)" &&
	{ wait "$pid"; rc=$?; } &&
	test "$rc" = 0 &&
	! mountpoint -q mnt &&
	ssefs_mount store mnt &&
	cmp -i $((16 * MIB)):0 -n $((8 * MIB)) mnt/d0.vhd c &&
	ssefs_umount mnt
'

test_expect_success 'directory store: revocation of a lingering disk writes it back, wipes its keys and closes it' '
	ssefs key create k2 --size 2048 >/dev/null &&
	ssefs disk create store/r.vhd --size 16M --key k2 >/dev/null &&
	ssefs_mount store mnt "$RW,writeback_delay=1h,key_check_interval=1s,revoke_grace=0" &&
	random_file d 8 &&
	dd if=d of=mnt/r.vhd bs=1M conv=notrunc status=none &&
	test "$(ssefs --json status mnt | jq -r ".disks[] | select(.path == \"r.vhd\") | .lingering")" = true &&
	ssefs key set k2 --enabled false >/dev/null &&
	for i in $(test_seq 30); do
		test "$(ssefs --json status mnt | jq -r ".disks[] | select(.path == \"r.vhd\") | .open")" = false && break
		sleep 1
	done &&
	test "$(ssefs --json status mnt | jq -r ".disks[] | select(.path == \"r.vhd\") | .open")" = false &&
	test_must_fail dd if=mnt/r.vhd of=/dev/null bs=4k count=1 2>err &&
	grep "Key has been revoked" err &&
	ssefs key set k2 --enabled true >/dev/null &&
	ssefs_umount mnt &&
	ssefs_mount store mnt &&
	cmp -n $((8 * MIB)) d mnt/r.vhd &&
	ssefs_umount mnt
'

test_done
