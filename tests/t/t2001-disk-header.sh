#!/bin/bash

test_description='ssefs disk: header tampering, feature flags, in-use refusal'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

# patch FILE OFF FMT VALUE: set a little-endian field at OFF in both header
# copies and give each copy a valid checksum again (SHA-256 of the copy
# with its checksum field zeroed, at 4064; see ssefs-format(5)), so only
# the MAC or the field checks can catch the change
patch_hdr () {
	python3 - "$@" <<-\PY
	import hashlib, struct, sys
	path, off, fmt, val = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
	with open(path, "r+b") as f:
	    for copy in (0, 1):
	        f.seek(copy * 4096)
	        b = bytearray(f.read(4096))
	        struct.pack_into("<" + fmt, b, off, val)
	        b[4064:4096] = bytes(32)
	        b[4064:4096] = hashlib.sha256(b).digest()
	        f.seek(copy * 4096)
	        f.write(b)
	PY
}

test_expect_success 'setup: a vault and a disk with data' '
	ssefs_setup_vault &&
	mkdir store &&
	head -c 1048576 /dev/urandom >data.raw &&
	ssefs disk import data.raw store/d.vhd >/dev/null &&
	ssefs disk export store/d.vhd orig.vhd &&
	head -c 1048576 orig.vhd | cmp - data.raw
'

test_expect_success 'a header copy with a valid checksum but a changed size fails the MAC' '
	cp store/d.vhd t.vhd &&
	patch_hdr t.vhd 72 Q $((2 << 20)) &&
	ssefs disk show t.vhd >out &&
	grep -q "2097152\|2M" out &&
	test_expect_code 1 ssefs disk export t.vhd x.vhd 2>err &&
	grep -q "^ssefs: disk t.vhd: " err &&
	! test -e x.vhd &&
	test_expect_code 1 ssefs disk verify t.vhd 2>err &&
	grep -q "^ssefs: disk t.vhd: " err
'

test_expect_success 'a changed encryption type or sector size fails the MAC too' '
	cp store/d.vhd t2.vhd &&
	patch_hdr t2.vhd 64 I 512 &&
	test_expect_code 1 ssefs disk export t2.vhd x.vhd 2>err &&
	cp store/d.vhd t3.vhd &&
	patch_hdr t3.vhd 68 I 2 &&
	test_expect_code 1 ssefs disk export t3.vhd x.vhd 2>err &&
	! test -e x.vhd
'

test_expect_success 'an unknown incompat feature flag refuses the disk (newer format)' '
	cp store/d.vhd t4.vhd &&
	patch_hdr t4.vhd 40 I $((1 << 31)) &&
	test_expect_code 1 ssefs disk show t4.vhd 2>err &&
	grep -q "^ssefs: disk t4.vhd: " err &&
	test_expect_code 1 ssefs disk export t4.vhd x.vhd 2>err &&
	! test -e x.vhd
'

test_expect_success 'a newer major version refuses the disk' '
	cp store/d.vhd t5.vhd &&
	patch_hdr t5.vhd 8 H 2 &&
	test_expect_code 1 ssefs disk show t5.vhd 2>err &&
	grep -q "^ssefs: disk t5.vhd: " err
'

test_expect_success 'a non-zero reserved byte makes a copy invalid' '
	cp store/d.vhd t6.vhd &&
	patch_hdr t6.vhd 3000 B 1 &&
	test_expect_code 1 ssefs disk show t6.vhd 2>err &&
	grep -q "^ssefs: disk t6.vhd: " err
'

test_expect_success 'a file without the magic is not a disk' '
	head -c 20000 /dev/urandom >junk.vhd &&
	test_expect_code 1 ssefs disk show junk.vhd 2>err &&
	grep -q "^ssefs: disk junk.vhd: not an ssefs disk" err
'

test_expect_success 'export and snapshot refuse a disk held open by a mount' '
	python3 - store/d.vhd <<-\PY &
	import fcntl, os, sys, time
	fd = os.open(sys.argv[1], os.O_RDONLY)
	# a shared lock on the "in use" byte, as a mount holds it (POSIX and
	# OFD record locks conflict with each other)
	fcntl.lockf(fd, fcntl.LOCK_SH, 1, 8191)
	open("locked", "w").close()
	time.sleep(30)
	PY
	holder=$! &&
	test_when_finished "kill $holder 2>/dev/null || :" &&
	for i in $(test_seq 50); do test -e locked && break; sleep 0.1; done &&
	test_expect_code 1 ssefs disk export store/d.vhd x.vhd 2>err &&
	grep -q "^ssefs: disk store/d.vhd: in use by a mount" err &&
	test_expect_code 1 ssefs disk snapshot store/d.vhd store/s.vhd 2>err &&
	grep -q "^ssefs: disk store/d.vhd: in use by a mount" err &&
	! test -e x.vhd && ! test -e store/s.vhd &&
	kill $holder &&
	# once the holder is gone the disk exports again
	for i in $(test_seq 50); do
		ssefs disk export store/d.vhd x.vhd 2>/dev/null && break
		sleep 0.1
	done &&
	cmp x.vhd orig.vhd
'

test_expect_success 'a damaged footer makes verify exit 1' '
	cp store/d.vhd f.vhd &&
	size=$(stat -c %s f.vhd) &&
	head -c 4096 /dev/urandom |
		dd of=f.vhd bs=4096 seek=$((size / 4096 - 1)) conv=notrunc status=none &&
	test_expect_code 1 ssefs disk verify f.vhd 2>err &&
	grep -q "^ssefs: disk f.vhd: .*footer" err
'

test_expect_success 'an older copy rolled back in place is stale; verify rewrites it' '
	ssefs disk import data.raw store/r.vhd >/dev/null &&
	head -c 4096 store/r.vhd >copy0.old &&
	dd if=store/r.vhd of=copy1.old bs=4096 skip=1 count=1 status=none &&
	ssefs vault rotate-platform-key >/dev/null &&
	ssefs disk rewrap store/r.vhd >/dev/null &&
	ssefs --json disk show store/r.vhd >show.json &&
	python3 -c "
import json; c = json.load(open(\"show.json\"))[\"copies\"]
print(0 if c[0][\"seq\"] < c[1][\"seq\"] else 1)" >older &&
	o=$(cat older) &&
	dd if=copy$o.old of=store/r.vhd bs=4096 seek=$o conv=notrunc status=none &&
	ssefs --json disk show store/r.vhd >show.json &&
	python3 -c "
import json, sys; c = json.load(open(\"show.json\"))[\"copies\"]
sys.exit(0 if c[$o][\"state\"] == \"stale\" and c[1 - $o][\"state\"] == \"ok\" else 1)" &&
	ssefs disk verify store/r.vhd >out 2>err &&
	grep -q "copy $o.*stale" err &&
	ssefs --json disk show store/r.vhd >show.json &&
	python3 -c "
import json, sys; c = json.load(open(\"show.json\"))[\"copies\"]
sys.exit(0 if c[0][\"state\"] == c[1][\"state\"] == \"ok\" else 1)"
'

test_expect_success 'export never overwrites an encrypted disk with plaintext' '
	cp store/d.vhd self.vhd &&
	test_expect_code 1 ssefs disk export self.vhd self.vhd 2>err &&
	grep -q "^ssefs: disk self.vhd: is an encrypted disk" err &&
	cmp self.vhd store/d.vhd &&
	test_expect_code 1 ssefs disk export self.vhd store/r.vhd 2>err &&
	ssefs disk verify store/r.vhd >/dev/null &&
	ssefs disk export self.vhd plain.vhd &&
	ssefs disk export self.vhd plain.vhd &&
	cmp plain.vhd orig.vhd
'

test_expect_success 'double encryption: a DES of both key types gives two layers that round-trip' '
	ssefs key create cmk >/dev/null &&
	ssefs des create both --key cmk --type EncryptionAtRestWithPlatformAndCustomerKeys >/dev/null &&
	ssefs disk import data.raw store/dbl.vhd --des both >/dev/null &&
	ssefs --json disk show store/dbl.vhd >show.json &&
	python3 -c "
import json, sys; h = json.load(open(\"show.json\")); l = h[\"layers\"]
ok = (h[\"encryptionType\"] == \"EncryptionAtRestWithPlatformAndCustomerKeys\"
      and h[\"des\"] == \"both\" and len(l) == 2
      and l[0][\"cipher\"] == \"aes-256-xts\" and l[0][\"keySource\"] == \"customer\"
      and l[1][\"cipher\"] == \"camellia-256-xts\" and l[1][\"keySource\"] == \"platform\")
sys.exit(0 if ok else 1)" &&
	ssefs disk export store/dbl.vhd dbl.vhd &&
	head -c 1048576 dbl.vhd | cmp - data.raw &&
	ssefs disk verify store/dbl.vhd >/dev/null
'

test_done
