#!/bin/bash

test_description='change of DES: disk rewrap --des/--key moves a disk to
another set or key by re-wrapping its DEK, also while it is mounted'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

kid_of () { ssefs --json disk show "$1" | jq -r ".layers[0].kid"; }
one_line () { test "$(wc -l <"$1")" = 1 || { cat "$1"; return 1; }; }

test_expect_success 'setup: two keys, sets a and b, a two-layer set, a disk in a' '
	ssefs_setup_vault &&
	ssefs key create k1 --size 2048 >kid1 &&
	ssefs key create k2 --size 2048 >kid2 &&
	ssefs des create a --key k1 >/dev/null &&
	ssefs des create b --key k2 >/dev/null &&
	ssefs des create dbl --key k2 \
		--type EncryptionAtRestWithPlatformAndCustomerKeys >/dev/null &&
	mkdir store &&
	ssefs disk create store/d.vhd --size 4M --des a >/dev/null &&
	test_seq 200000 >pattern &&
	ssefs disk create store/e.vhd --size 4M --des dbl >/dev/null
'

test_expect_success 'disk rewrap --des b: the set, the key, the registry follow' '
	ssefs disk rewrap store/d.vhd --des b >out &&
	grep -q "des a -> EncryptionAtRestWithCustomerKey, des b" out &&
	test "$(ssefs --json disk show store/d.vhd | jq -r .des)" = b &&
	test "$(kid_of store/d.vhd)" = "$(cat kid2)" &&
	test "$(ssefs --json des show b | jq -r .disks)" = 1 &&
	test "$(ssefs --json des show a | jq -r .disks)" = 0 &&
	ssefs disk verify store/d.vhd >/dev/null &&
	ssefs vault audit | grep -q "disk.move"
'

test_expect_success 'a second move to the same set changes nothing' '
	cp store/d.vhd before &&
	ssefs disk rewrap store/d.vhd --des b >out &&
	grep -q "already on that set" out &&
	cmp before store/d.vhd
'

test_expect_success '--key: off any set, onto a key of its own' '
	ssefs disk rewrap store/d.vhd --key k1 >/dev/null &&
	test "$(ssefs --json disk show store/d.vhd | jq -r ".des // \"-\"")" = - &&
	test "$(kid_of store/d.vhd)" = "$(cat kid1)" &&
	test "$(ssefs --json disk show store/d.vhd | jq -r .encryptionType)" = \
		EncryptionAtRestWithCustomerKey
'

test_expect_success 'refused, nothing written: another layer count, an unusable key, both options' '
	cp store/d.vhd before &&
	test_expect_code 1 ssefs disk rewrap store/d.vhd --des dbl 2>err &&
	one_line err &&
	grep -q "^ssefs: disk store/d.vhd: is EncryptionAtRestWithCustomerKey, des dbl is EncryptionAtRestWithPlatformAndCustomerKeys: changing the number of encryption layers" err &&
	test_expect_code 1 ssefs disk rewrap store/e.vhd --des a 2>err &&
	one_line err &&
	ssefs key set k2 --enabled false &&
	test_expect_code 1 ssefs disk rewrap store/d.vhd --des b 2>err &&
	one_line err &&
	grep -q "^ssefs: des b: .* is disabled$" err &&
	ssefs key set k2 --enabled true &&
	test_expect_code 2 ssefs disk rewrap store/d.vhd --des b --key k1 2>err &&
	one_line err &&
	test_expect_code 1 ssefs disk rewrap store/nope.vhd --des b 2>err &&
	one_line err &&
	cmp before store/d.vhd
'

test_expect_success FUSE 'a mounted disk keeps serving; revocation follows the new key' '
	ssefs_mount store mnt "key_check_interval=1s,revoke_grace=0" &&
	dd if=pattern of=mnt/d.vhd conv=notrunc status=none &&
	sync mnt/d.vhd &&
	ssefs disk rewrap store/d.vhd --des b >/dev/null &&
	dd if=pattern of=mnt/d.vhd bs=4096 seek=400 conv=notrunc status=none &&
	sync mnt/d.vhd &&
	ssefs key set k1 --enabled false &&
	sleep 3 &&
	head -c $(wc -c <pattern) mnt/d.vhd | cmp - pattern &&
	tail -c +$((400 * 4096 + 1)) mnt/d.vhd | head -c $(wc -c <pattern) |
		cmp - pattern &&
	ssefs key set k2 --enabled false &&
	wait_for eval "! cat mnt/d.vhd >/dev/null 2>&1" &&
	test_must_fail cat mnt/d.vhd >/dev/null 2>err &&
	grep -q "Key has been revoked" err &&
	ssefs key set k2 --enabled true &&
	wait_for eval "cat mnt/d.vhd >/dev/null 2>&1" &&
	head -c $(wc -c <pattern) mnt/d.vhd | cmp - pattern &&
	ssefs_umount mnt &&
	ssefs disk verify store/d.vhd >/dev/null &&
	test "$(kid_of store/d.vhd)" = "$(cat kid2)"
'

test_done
