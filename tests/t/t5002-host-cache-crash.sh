#!/bin/bash

test_description='kill -9 of the daemon during writes through a ReadWrite host cache: what was fsynced survives'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq FIO,QEMU || { skip_all='needs fio and qemu-img'; test_done; }

# a small cache, so that writes also go through while it is full
CRASH_OPTS="host_cache=$TRASH_DIRECTORY/hc,caching=ReadWrite,cache_size=4M"
. "$TEST_DIRECTORY"/lib-crash.sh

test_expect_success 'the cache has nothing left to replay after the remount' '
	ssefs_mount store mnt "$CRASH_OPTS" &&
	ssefs --json status mnt >st.json &&
	python3 -c "
import json
s = json.load(open(\"st.json\"))[\"hostCacheStats\"]
print(s)
assert s[\"waitingForReplay\"] == 0, s
" &&
	ssefs_umount mnt
'

test_done
