#!/bin/bash

test_description='rotation as an admin lives with it: status after a live
re-wrap, expiry notifications sent once, policies that set expiry'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq JQ || { skip_all='jq is needed'; test_done; }

status_of () {	# FIELD: of d.vhd in `ssefs --json status mnt`
	ssefs --json status mnt |
		jq -r ".disks[] | select(.path == \"d.vhd\") | .$1"
}

test_expect_success 'setup: a key, an auto-rotating set, a mounted disk held open' '
	ssefs_setup_vault &&
	ssefs key create k1 --size 2048 >kid1 &&
	ssefs des create des1 --key k1 --auto-rotate >/dev/null &&
	mkdir store &&
	ssefs disk create store/d.vhd --size 16M --des des1 >/dev/null &&
	ssefs_mount store mnt "rotate_interval=1s,key_check_interval=1s" &&
	exec 7<mnt/d.vhd &&
	test "$(status_of kid)" = "$(cat kid1)" &&
	test "$(status_of keyState)" = usable
'

test_expect_success 'status of an open disk the daemon re-wrapped: the new version, usable' '
	ssefs key rotate k1 >kid2 &&
	wait_for kid_is "$(cat kid2)" &&
	ssefs key set "k1/$(cut -d/ -f6 kid1)" --enabled false &&
	test "$(status_of open)" = true &&
	test "$(status_of kid)" = "$(cat kid2)" &&
	test "$(status_of keyState)" = usable &&
	test "$(status_of state)" = ok &&
	ssefs status mnt >st.txt &&
	grep -q "^  kid: *$(cat kid2)$" st.txt &&
	grep -q "^  key state: *usable$" st.txt &&
	if command -v getfattr >/dev/null; then
		test "$(getfattr --only-values -n user.ssefs.kid mnt/d.vhd)" = "$(cat kid2)" &&
		test "$(getfattr --only-values -n user.ssefs.key_state mnt/d.vhd)" = usable
	fi
'

test_expect_success 'the disk still reads after the old version was disabled' '
	sleep 2 &&
	dd if=mnt/d.vhd of=/dev/null bs=1M count=1 2>/dev/null &&
	test "$(status_of state)" = ok &&
	exec 7<&- &&
	ssefs_umount mnt
'

test_done
