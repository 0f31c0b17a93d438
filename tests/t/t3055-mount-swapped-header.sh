#!/bin/bash

test_description='a header on another disk'"'"'s data is found at open (the
bound footer); a registered disk cut short is shown as damaged; footers a
user writes through the mount never make a disk refuse to open'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq JQ || { skip_all='needs jq'; test_done; }

# footer_id VHD: the unique id of a plaintext .vhd's footer, as a UUID
footer_id () {
	tail -c 512 "$1" | dd bs=1 skip=68 count=16 2>/dev/null | xxd -p |
		sed 's/^\(........\)\(....\)\(....\)\(....\)/\1-\2-\3-\4-/'
}

uuid_of () { ssefs --json disk show "$1" | jq -r .uuid; }
bound () { ssefs --json disk show "$1" | jq -r .boundFooter; }

test_expect_success 'setup: two disks, a platform-key one and a CMK one' '
	ssefs_setup_vault &&
	ssefs key create k1 --size 2048 >/dev/null &&
	mkdir store &&
	ssefs disk create store/a.vhd --size 4M >/dev/null &&
	ssefs disk create store/b.vhd --size 4M --key k1 >/dev/null &&
	ssefs disk export store/a.vhd a.out &&
	test "$(footer_id a.out)" = "$(uuid_of store/a.vhd)" &&
	test "$(bound store/a.vhd)" = true && test "$(bound store/b.vhd)" = true
'

test_expect_success 'exchanged headers: open fails with EBADMSG, status names both' '
	cp store/a.vhd a.keep && cp store/b.vhd b.keep &&
	dd if=store/a.vhd of=ha bs=8192 count=1 2>/dev/null &&
	dd if=store/b.vhd of=hb bs=8192 count=1 2>/dev/null &&
	dd if=hb of=store/a.vhd bs=8192 conv=notrunc 2>/dev/null &&
	dd if=ha of=store/b.vhd bs=8192 conv=notrunc 2>/dev/null &&
	ssefs_mount store mnt &&
	for d in a b; do
		test_must_fail python3 -c "open(\"mnt/$d.vhd\", \"rb\")" 2>err &&
		grep -q "Errno 74" err || return 1
	done &&
	ssefs status mnt >st &&
	grep -q "^0 disks, 0 open, 2 damaged$" st &&
	test $(grep -c "error: *header does not belong to this disk.s data" st) = 2 &&
	ssefs_umount mnt
'

test_expect_success 'disk verify: exit 1 and one line' '
	test_expect_code 1 ssefs disk verify store/a.vhd >out 2>err &&
	test $(wc -l <err) = 1 &&
	grep -q "^ssefs: disk store/a.vhd: cannot open: header does not belong to this disk.s data" err &&
	cp a.keep store/a.vhd && cp b.keep store/b.vhd &&
	ssefs disk verify store/a.vhd >/dev/null &&
	ssefs disk verify store/b.vhd >/dev/null
'

test_expect_success 'a disk truncated below its header is shown and named damaged' '
	ssefs disk create store/c.vhd --size 4M >/dev/null &&
	ssefs disk create store/e.vhd --size 4M >/dev/null &&
	truncate -s 100 store/c.vhd &&
	truncate -s 0 store/e.vhd &&
	ssefs_mount store mnt &&
	test -e mnt/c.vhd && test -e mnt/e.vhd &&
	test_must_fail python3 -c "open(\"mnt/e.vhd\", \"rb\")" 2>err &&
	grep -q "Errno 74" err &&
	ssefs --json status mnt >st.json &&
	jq -e "[.disks[] | select(.valid == false) | .path] | sort == [\"c.vhd\", \"e.vhd\"]" st.json &&
	ssefs_umount mnt &&
	rm store/c.vhd store/e.vhd
'

test_expect_success 'footers written through the mount: the disks still open' '
	make_vhd img.vhd 4M &&
	ssefs_mount store mnt &&
	cp img.vhd mnt/a.vhd &&
	dd if=/dev/urandom of=mnt/b.vhd bs=512 seek=8192 count=1 conv=notrunc,fsync 2>/dev/null &&
	ssefs_umount mnt &&
	test "$(bound store/a.vhd)" = false && test "$(bound store/b.vhd)" = false &&
	ssefs disk verify store/a.vhd >/dev/null &&
	ssefs disk export store/b.vhd b.out &&
	ssefs_mount store mnt &&
	cmp img.vhd mnt/a.vhd &&
	cmp b.out mnt/b.vhd &&
	ssefs_umount mnt
'

test_expect_success 'the disk'"'"'s own footer written back through the mount: bound again at the last close' '
	ssefs disk create store/r.vhd --size 4M >/dev/null &&
	test "$(bound store/r.vhd)" = true &&
	ssefs_mount store mnt &&
	tail -c 512 mnt/r.vhd >r.footer &&
	exec 7<>mnt/r.vhd &&
	dd if=r.footer of=/dev/fd/7 bs=512 seek=8192 conv=notrunc,fsync 2>/dev/null &&
	test "$(bound store/r.vhd)" = false &&
	exec 7>&- &&
	ssefs_umount mnt &&
	test "$(bound store/r.vhd)" = true &&
	ssefs disk verify store/r.vhd >/dev/null
'

test_expect_success 'kill -9 right after a footer write: the disk opens' '
	ssefs disk create store/k.vhd --size 4M >/dev/null &&
	ssefs_mount store mnt &&
	head -c 512 /dev/urandom >junk &&
	dd if=junk of=mnt/k.vhd bs=512 seek=8192 conv=notrunc,fsync 2>/dev/null &&
	kill -9 $(ssefs_daemon_pid mnt) &&
	sleep 0.3 && fusermount3 -uz mnt 2>/dev/null;
	test "$(bound store/k.vhd)" = false &&
	ssefs disk export store/k.vhd k.out &&
	tail -c 512 k.out | cmp - junk
'

test_expect_success 'import of a fixed VHD: its footer carries the disk UUID' '
	ssefs disk import img.vhd store/i.vhd >/dev/null &&
	ssefs disk export store/i.vhd i.out &&
	test "$(footer_id i.out)" = "$(uuid_of store/i.vhd)" &&
	test "$(footer_id img.vhd)" != "$(uuid_of store/i.vhd)" &&
	cmp -n $((4 * 1048576)) img.vhd i.out &&
	qemu-img info -f vpc i.out | grep -q "virtual size: 4 MiB" &&
	ssefs disk snapshot store/i.vhd store/s.vhd >/dev/null &&
	ssefs disk export store/s.vhd s.out &&
	test "$(footer_id s.out)" = "$(uuid_of store/s.vhd)" &&
	test "$(bound store/i.vhd)" = true && test "$(bound store/s.vhd)" = true
'

test_expect_success 'swapped snapshot and source (one DEK): found too' '
	dd if=store/i.vhd of=hi bs=8192 count=1 2>/dev/null &&
	dd if=store/s.vhd of=hs bs=8192 count=1 2>/dev/null &&
	dd if=hs of=store/i.vhd bs=8192 conv=notrunc 2>/dev/null &&
	dd if=hi of=store/s.vhd bs=8192 conv=notrunc 2>/dev/null &&
	test_expect_code 1 ssefs disk verify store/i.vhd 2>err &&
	grep -q "header does not belong" err &&
	test_expect_code 1 ssefs disk verify store/s.vhd 2>err &&
	grep -q "header does not belong" err
'

test_done
