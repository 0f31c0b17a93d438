#!/bin/bash

test_description='host cache: what an earlier mount cached does not outlive it'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
command -v python3 >/dev/null || { skip_all='needs python3'; test_done; }

HC="$TRASH_DIRECTORY/hc"
CACHE="$HC/hostcache.ssefs"
OPTS="host_cache=$HC,caching=ReadOnly,cache_size=8M"

test_expect_success 'setup: vault, store, a disk holding a recognisable text' '
	ssefs_setup_vault &&
	mkdir store &&
	ssefs disk create store/d0.vhd --size 16M >/dev/null &&
	python3 -c "
import sys
with open(sys.argv[1], \"wb\") as f:
    for i in range(4 * 1048576 // 32):
        f.write(b\"SSEFS-T5001-PLAIN-CANARY-%06d\n\" % i)
" canary &&
	ssefs_mount store mnt "$OPTS" &&
	dd if=canary of=mnt/d0.vhd bs=1M conv=notrunc status=none &&
	ssefs_umount mnt
'

test_expect_success 'encryption at host off: a crash leaves plaintext in the cache' '
	ssefs_mount store mnt "$OPTS,encryption_at_host=off" &&
	exec 8<mnt/d0.vhd &&
	echo 3 >/proc/sys/vm/drop_caches &&
	cmp -n 4194304 canary mnt/d0.vhd &&
	kill -9 "$(cat store/.ssefs.lock)" &&
	exec 8<&- &&
	sleep 0.3 &&
	fusermount3 -uz mnt &&
	grep -a -q -F SSEFS-T5001-PLAIN-CANARY "$CACHE"
'

test_expect_success 'the next mount, encryption at host on, does not keep that plaintext' '
	ssefs_mount store mnt "$OPTS" &&
	ssefs status mnt >st &&
	grep "^host cache: $CACHE, ciphertext" st &&
	! grep -a -q -F SSEFS-T5001-PLAIN-CANARY "$CACHE" &&
	ssefs_umount mnt
'

test_done
