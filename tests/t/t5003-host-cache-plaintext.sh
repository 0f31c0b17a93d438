#!/bin/bash

test_description='encryption at host off: no plaintext outlives a clean unmount'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq LOOP || { skip_all='needs root and loop devices'; test_done; }
command -v python3 >/dev/null || { skip_all='needs python3'; test_done; }
command -v mkfs.ext4 >/dev/null || { skip_all='needs mkfs.ext4'; test_done; }

# the host cache folder is an ext4 file system of its own, so that the
# device under it (the image file) can be searched after an unmount
HC="$TRASH_DIRECTORY/hc"
IMG="$TRASH_DIRECTORY/hc.img"
CANARY="SSEFS-T5003-CANARY-$$-$(date +%s)"

hc_up () {
	mount -o loop "$IMG" "$HC"
}

hc_down () {
	umount "$HC"
}

# hits: how many times the canary is in the host cache folder and in the
# device under it (the folder unmounted for that)
hits () {
	local n
	n=$(count_string "$CANARY" "$HC") &&
	hc_down &&
	n=$((n + $(count_string "$CANARY" "$IMG"))) &&
	hc_up &&
	echo "$n"
}

test_expect_success 'setup: vault, store, a disk, 1024 sectors of a canary' '
	ssefs_setup_vault &&
	mkdir store "$HC" &&
	ssefs disk create store/d0.vhd --size 16M >/dev/null &&
	python3 -c "
import sys
with open(sys.argv[2], \"wb\") as f:
    for i in range(1024):
        f.write((sys.argv[1] + \"-%04d\\n\" % i).encode().ljust(4096, b\".\"))
" "$CANARY" canary &&
	truncate -s 64M "$IMG" &&
	mkfs.ext4 -q -F "$IMG" &&
	hc_up &&
	test_atexit "umount -l \"$HC\" 2>/dev/null"
'

for mode in ReadWrite ReadOnly
do
	test_expect_success "caching=$mode, encryption at host off: a clean unmount leaves no plaintext" '
		opts="host_cache=$HC,caching='$mode',cache_size=8M" &&
		ssefs_mount store mnt "$opts,encryption_at_host=off,temp_disk=8M" &&
		dd if=canary of=mnt/d0.vhd bs=1M conv=notrunc,fsync status=none &&
		dd if=canary of=mnt/temp.vhd bs=1M conv=notrunc,fsync status=none &&
		echo 3 >/proc/sys/vm/drop_caches &&
		cmp -n 4194304 canary mnt/d0.vhd &&
		# the test means something: the plaintext is there meanwhile
		test "$(count_string "$CANARY" "$HC/hostcache.ssefs")" -ge 1024 &&
		grep -q -a -F "$CANARY" "$HC/temp-disk.vhd" &&
		ssefs_umount mnt &&
		! test -e "$HC/hostcache.ssefs" &&
		! test -e "$HC/temp-disk.vhd" &&
		{ grep -r -a -c -F "$CANARY" "$HC" >folder; test $? = 1; } &&
		! grep -v ":0$" folder &&
		ssefs_mount store mnt "$opts" &&
		cmp -n 4194304 canary mnt/d0.vhd &&
		ssefs_umount mnt
	'
done

test_expect_success 'and the device under the host cache holds none of the cache'"'"'s' '
	opts="host_cache=$HC,caching=ReadWrite,cache_size=8M" &&
	hc_down && mkfs.ext4 -q -F "$IMG" && hc_up &&
	ssefs_mount store mnt "$opts,encryption_at_host=off" &&
	dd if=canary of=mnt/d0.vhd bs=1M conv=notrunc,fsync status=none &&
	echo 3 >/proc/sys/vm/drop_caches &&
	cmp -n 4194304 canary mnt/d0.vhd &&
	ssefs_umount mnt &&
	test "$(hits)" = 0
'

test_expect_success 'a crash leaves the plaintext cache; the next mount overwrites it at start' '
	opts="host_cache=$HC,caching=ReadOnly,cache_size=8M" &&
	ssefs_mount store mnt "$opts,encryption_at_host=off" &&
	exec 8<mnt/d0.vhd &&
	echo 3 >/proc/sys/vm/drop_caches &&
	cmp -n 4194304 canary mnt/d0.vhd &&
	kill -9 "$(cat store/.ssefs.lock)" &&
	exec 8<&- &&
	sleep 0.3 &&
	fusermount3 -uz mnt &&
	test "$(count_string "$CANARY" "$HC/hostcache.ssefs")" -ge 1024 &&
	# (encryption at host on now: no sector of the earlier mount stays)
	ssefs_mount store mnt "$opts" &&
	ssefs status mnt >st &&
	grep "^host cache: $HC/hostcache.ssefs, ciphertext" st &&
	test "$(count_string "$CANARY" "$HC/hostcache.ssefs")" = 0 &&
	ssefs_umount mnt &&
	test "$(hits)" = 0
'

test_done
