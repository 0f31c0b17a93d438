#!/bin/bash

test_description='revocation: a disabled, deleted or expired key stops I/O;
a usable key again resumes it without a remount'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }

test_expect_success 'setup: a key, a set, a disk, a mount with a 2 s grace' '
	ssefs_setup_vault &&
	ssefs key create k1 --size 2048 >kid1 &&
	ssefs des create des1 --key k1 --auto-rotate >/dev/null &&
	mkdir store mnt &&
	ssefs disk create store/d.vhd --size 16M --des des1 >/dev/null &&
	ssefs_mount store mnt "key_check_interval=1s,revoke_grace=2s" &&
	head -c 1M /dev/urandom >want &&
	dd if=want of=mnt/d.vhd bs=1M conv=notrunc,fsync 2>/dev/null &&
	exec 7<mnt/d.vhd &&
	read_first_mib got && cmp got want &&
	test "$(disk_state)" = ok
'

test_expect_success 'disable the key: reads fail with EKEYREVOKED, status says so' '
	ssefs key set k1 --enabled false &&
	wait_for revoked &&
	ssefs --json status mnt >st.json &&
	jq -e ".disks[] | select(.path == \"d.vhd\") | .stateDetail | test(\"disabled\")" st.json &&
	! dd if=mnt/d.vhd of=/dev/null bs=4096 count=1 2>/dev/null &&
	test_must_fail python3 -c "open(\"mnt/d.vhd\", \"rb\")" 2>err &&
	grep -q "Key has been revoked" err
'

test_expect_success 'no plaintext is served from the page cache meanwhile' '
	! cat mnt/d.vhd >/dev/null 2>&1 &&
	! dd if=mnt/d.vhd of=/dev/null bs=1M count=1 iflag=nocache 2>/dev/null
'

test_expect_success 're-enable: the same data, without a remount' '
	ssefs key set k1 --enabled true &&
	wait_for resumed
'

test_expect_success 'delete, then recover' '
	ssefs key delete k1 &&
	wait_for revoked &&
	ssefs key recover k1 &&
	wait_for resumed
'

test_expect_success 'an expiry set in the past, then lifted' '
	v=$(cut -d/ -f6 kid1) &&
	ssefs key set "k1/$v" --expires 2020-01-01 &&
	wait_for revoked &&
	ssefs key set "k1/$v" --expires never &&
	wait_for resumed
'

test_expect_success 'writes go on after resumption; the mount unmounts cleanly' '
	dd if=want of=mnt/d.vhd bs=1M seek=2 conv=notrunc,fsync 2>/dev/null &&
	exec 7<&- &&
	ssefs_umount mnt &&
	ssefs disk export store/d.vhd out.vhd &&
	dd if=out.vhd bs=1M skip=2 count=1 2>/dev/null | cmp - want
'

test_expect_success 'the daemon rotates by itself every rotate_interval' '
	cat >notify.sh <<-EOF &&
	#!/bin/sh
	cat >>"$PWD/events.jsonl"
	EOF
	chmod +x notify.sh &&
	ssefs_mount store mnt "key_check_interval=1s,revoke_grace=0,rotate_interval=1s,notify=$PWD/notify.sh" &&
	exec 7<mnt/d.vhd &&
	ssefs key rotate k1 >kidr &&
	wait_for kid_is "$(cat kidr)" &&
	read_first_mib got && cmp got want
'

test_expect_success 'with revoke_grace=0 the daemon stops the disk at the next check, and says so' '
	ssefs key set k1 --enabled false &&
	wait_for revoked &&
	ssefs key set k1 --enabled true &&
	wait_for resumed &&
	jq -s -e "map(select(.event == \"DiskKeyRevoked\")) | length >= 1" events.jsonl &&
	jq -s -e "map(select(.event == \"DiskKeyRestored\")) | length >= 1" events.jsonl &&
	jq -s -e "map(select(.event == \"DiskRewrapped\")) | length >= 1" events.jsonl &&
	exec 7<&- &&
	ssefs_umount mnt
'

test_done
