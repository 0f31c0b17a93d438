#!/bin/bash

test_description='a store of 1000 disks mounts at once; keys only at first open'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }

unwraps () {
	ssefs vault audit | grep -c "\"op\":\"unwrap\"" || true
}

test_expect_success 'setup: 1000 disks in a store (links to one made by disk create)' '
	ssefs_setup_vault &&
	mkdir store mnt &&
	ssefs disk create store/d0000.vhd --size 1M >/dev/null &&
	python3 -c "import os
for i in range(1, 1000):
    os.link(\"store/d0000.vhd\", \"store/d%04d.vhd\" % i)" &&
	test "$(ls store | wc -l)" = 1000
'

test_expect_success 'the mount is ready in seconds and unwraps no key' '
	before=$(unwraps) &&
	start=$(date +%s%N) &&
	ssefs_mount store mnt &&
	ms=$(( ($(date +%s%N) - start) / 1000000 )) &&
	echo "mounted 1000 disks in $ms ms" &&
	test "$ms" -lt 5000 &&
	test "$(ls mnt | wc -l)" = 1000 &&
	test "$(stat -c %s mnt/d0500.vhd)" = $((1048576 + 512)) &&
	test "$(unwraps)" = "$before"
'

test_expect_success 'the first open of a disk unwraps its key, one disk only' '
	before=$(unwraps) &&
	head -c 100 mnt/d0777.vhd >/dev/null &&
	test "$(unwraps)" = $((before + 1))
'

test_expect_success 'status lists all 1000' '
	ssefs status mnt | tail -1 >last &&
	grep -q "^1000 disks, 0 open, 0 damaged$" last &&
	ssefs_umount mnt
'

test_done
