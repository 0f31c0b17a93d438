#!/bin/bash

test_description='platform key rotation reaches the disks: platform-key
disks and the inner layer of double-encrypted disks move to the newest
platform key version, by ssefs rotate and by the mount'"'"'s timer'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq JQ || { skip_all='needs jq'; test_done; }

# kid_at DISK LAYER: the kid of a layer, from disk show
kid_at () { ssefs --json disk show "$1" | jq -r ".layers[$2].kid"; }

# on_platform KIDFILE: p.vhd and the inner layer of dd.vhd are on it
on_platform () {
	test "$(kid_at store/p.vhd 0)" = "$(cat "$1")" &&
	test "$(kid_at store/dd.vhd 1)" = "$(cat "$1")"
}

# no_old_kid KIDFILE: no header copy of either disk names it
no_old_kid () {
	for d in p dd; do
		head -c 8192 store/$d.vhd >hdr &&
		! grep -a -q "$(cat "$1")" hdr || return 1
	done
}

test_expect_success 'setup: a platform-key disk and a double-encrypted one' '
	ssefs_setup_vault &&
	ssefs key create k1 --size 2048 >kid1 &&
	ssefs des create dbl --key k1 --auto-rotate \
		--type EncryptionAtRestWithPlatformAndCustomerKeys >/dev/null &&
	mkdir store &&
	ssefs disk create store/p.vhd --size 4M >/dev/null &&
	ssefs disk create store/dd.vhd --size 4M --des dbl >/dev/null &&
	kid_at store/p.vhd 0 >pk1 &&
	test "$(kid_at store/dd.vhd 1)" = "$(cat pk1)" &&
	ssefs disk export store/p.vhd p0.vhd &&
	ssefs disk export store/dd.vhd dd0.vhd
'

test_expect_success 'rotate STORE moves both to the new platform version' '
	ssefs vault rotate-platform-key >pk2 &&
	ssefs rotate store >out &&
	grep -q "2 disks re-wrapped" out &&
	grep -q "dd.vhd: inner layer: $(cat pk1) -> $(cat pk2)" out &&
	on_platform pk2 &&
	test "$(kid_at store/dd.vhd 0)" = "$(cat kid1)" &&
	no_old_kid pk1
'

test_expect_success 'the data is the same; a second run has nothing to do' '
	ssefs disk export store/p.vhd p1.vhd &&
	ssefs disk export store/dd.vhd dd1.vhd &&
	cmp p0.vhd p1.vhd && cmp dd0.vhd dd1.vhd &&
	ssefs --json rotate store >r.json &&
	test "$(jq .disksRewrapped r.json)" = 0 &&
	test "$(jq .disksCurrent r.json)" = 2
'

test_expect_success 'rotate without a STORE reaches them too' '
	ssefs vault rotate-platform-key >pk3 &&
	ssefs rotate >out &&
	on_platform pk3 &&
	no_old_kid pk2
'

test_expect_success FUSE 'the mount moves them by itself every rotate_interval' '
	ssefs_mount store mnt rotate_interval=1s &&
	head -c 1M /dev/urandom >want &&
	dd if=want of=mnt/p.vhd bs=1M conv=notrunc,fsync 2>/dev/null &&
	dd if=want of=mnt/dd.vhd bs=1M conv=notrunc,fsync 2>/dev/null &&
	exec 7<mnt/p.vhd 8<mnt/dd.vhd &&
	ssefs vault rotate-platform-key >pk4 &&
	wait_for on_platform pk4 &&
	no_old_kid pk3 &&
	dd if=want of=mnt/p.vhd bs=1M seek=1 conv=notrunc,fsync 2>/dev/null &&
	dd if=want of=mnt/dd.vhd bs=1M seek=1 conv=notrunc,fsync 2>/dev/null &&
	exec 7<&- 8<&- &&
	ssefs_umount mnt &&
	for d in p dd; do
		ssefs disk export store/$d.vhd ${d}2.vhd &&
		dd if=${d}2.vhd bs=1M count=1 2>/dev/null | cmp - want &&
		dd if=${d}2.vhd bs=1M skip=1 count=1 2>/dev/null | cmp - want ||
		return 1
	done &&
	on_platform pk4
'

test_done
