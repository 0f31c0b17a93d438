#!/bin/bash

test_description='a store with a damaged disk: the others mount, status names it'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }

test_expect_success 'setup: three disks, then both header copies of one damaged' '
	ssefs_setup_vault &&
	mkdir store mnt &&
	ssefs_mount store mnt &&
	for d in good1 bad good2; do
		head -c 1048576 /dev/urandom >$d.src &&
		cp $d.src mnt/$d.vhd || return 1
	done &&
	ssefs_umount mnt &&
	# keep the magic of each copy, scramble the rest of both copies
	head -c 4000 /dev/urandom | dd of=store/bad.vhd bs=1 seek=64 conv=notrunc 2>/dev/null &&
	head -c 4000 /dev/urandom | dd of=store/bad.vhd bs=1 seek=$((4096 + 64)) conv=notrunc 2>/dev/null
'

test_expect_success 'the store mounts; the good disks read back' '
	ssefs_mount store mnt &&
	cmp good1.src mnt/good1.vhd &&
	cmp good2.src mnt/good2.vhd
'

test_expect_success 'the damaged disk is shown and its open fails with EBADMSG' '
	ls mnt >out &&
	grep -q "^bad.vhd$" out &&
	test_must_fail cat mnt/bad.vhd >/dev/null 2>err &&
	grep -q "Bad message" err
'

test_expect_success 'status names the damaged disk' '
	ssefs status mnt >st &&
	grep -A1 "^bad.vhd$" st | grep -q "error: *no valid header" &&
	grep -q "2 disks, 0 open, 1 damaged" st
'

test_expect_success JQ 'status --json names it too' '
	ssefs --json status mnt >st.json &&
	jq -e ".badCount == 1 and .diskCount == 2" st.json &&
	jq -e ".disks | map(select(.path == \"bad.vhd\"))[0] | .valid == false and (.error | test(\"no valid header\"))" st.json
'

test_expect_success 'the header checks come before any key: one torn copy is still fine' '
	ssefs_umount mnt &&
	head -c 1000 /dev/urandom | dd of=store/good1.vhd bs=1 seek=4200 conv=notrunc 2>/dev/null &&
	ssefs_mount store mnt &&
	cmp good1.src mnt/good1.vhd &&
	ssefs_umount mnt
'

test_done
