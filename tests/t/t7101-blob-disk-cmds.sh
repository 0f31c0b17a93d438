#!/bin/sh

test_description='disk commands on a blob store URL, and disk copy between stores (Azurite)'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh
. "$TEST_DIRECTORY"/lib-azurite.sh

azurite_need_tools
test_have_prereq AZURITE || { skip_all='no Azurite (make deps)'; test_done; }

test_expect_success 'setup: vault, key, Azurite, a container' '
	ssefs_setup_vault &&
	ssefs key create k1 --size 2048 >kid1 &&
	mkdir store &&
	azurite_start &&
	"$AZB_TOOL" "$AZURITE_URL/con" mkcontainer &&
	C=$AZURITE_URL/con
'

test_expect_success 'create on a URL: a page blob of the directory file'"'"'s length, thin' '
	ssefs --json disk create "$C/a.vhd" --size 64M --key k1 >a.json &&
	test "$(jq -r .vhdSizeBytes a.json)" = 67109376 &&
	test "$(jq -r .path a.json)" = "$C/a.vhd" &&
	test "$(jq -r .allocatedBytes a.json)" -lt 1048576 &&
	ssefs disk create store/a.vhd --size 64M --key k1 >/dev/null &&
	"$BT" size "$C/a.vhd" >bsize &&
	stat -c %s store/a.vhd >fsize &&
	test_cmp fsize bsize &&
	test_expect_code 1 ssefs disk create "$C/a.vhd" --size 1M 2>err &&
	test "$(wc -l <err)" = 1 &&
	grep "^ssefs: disk $C/a.vhd: already exists$" err
'

test_expect_success 'import, show, verify, export round trip' '
	head -c 4194304 /dev/urandom >img &&
	printf "CANARY-7101-%s" "$(date +%s)" >canary &&
	cat canary >>img &&
	head -c $((1048576 - $(wc -c <canary))) /dev/zero >>img &&
	ssefs disk import img "$C/i.vhd" --key k1 >/dev/null &&
	ssefs disk show "$C/i.vhd" >show &&
	grep "^path: *$C/i.vhd$" show &&
	ssefs disk verify "$C/i.vhd" >verify &&
	grep "^result: *ok$" verify &&
	ssefs disk export "$C/i.vhd" out.vhd &&
	head -c 5242880 out.vhd | cmp - img &&
	"$BT" read "$C/i.vhd" 0 $(stat -c %s store/a.vhd) >raw 2>/dev/null;
	! grep -q "$(cat canary)" raw
'

test_expect_success 'disk copy dir -> URL -> dir: equal, thin, exporting the same' '
	ssefs disk import img store/d.vhd --key k1 >/dev/null &&
	ssefs disk copy store/d.vhd "$C/d.vhd" >/dev/null &&
	ssefs disk copy "$C/d.vhd" store/d2.vhd >/dev/null &&
	cmp store/d.vhd store/d2.vhd &&
	test $(du -k store/d2.vhd | cut -f1) -lt 8192 &&
	ssefs disk export store/d2.vhd out2.vhd &&
	head -c 5242880 out2.vhd | cmp - img &&
	ssefs disk copy "$C/d.vhd" "$C/d3.vhd" >/dev/null &&
	ssefs disk export "$C/d3.vhd" out3.vhd &&
	cmp out2.vhd out3.vhd
'

test_expect_success 'a thin 100 GiB disk copies in seconds, with a progress line' '
	ssefs disk create "$C/big.vhd" --size 100G >/dev/null &&
	start=$(date +%s) &&
	ssefs --progress disk copy "$C/big.vhd" store/big.vhd >/dev/null 2>progress &&
	ssefs disk copy store/big.vhd "$C/big2.vhd" >/dev/null &&
	test $(( $(date +%s) - start )) -lt 20 &&
	grep "copy: .* 100%" progress &&
	test $(du -k store/big.vhd | cut -f1) -lt 2048 &&
	ssefs --json disk show "$C/big2.vhd" >big2.json &&
	test "$(jq -r .allocatedBytes big2.json)" -lt 2097152 &&
	test "$(jq -r .vhdSizeBytes big2.json)" = 107374182912
'

test_expect_success 'disk copy refuses an existing DEST and a non-disk' '
	test_expect_code 1 ssefs disk copy store/d.vhd "$C/d.vhd" 2>err &&
	test "$(wc -l <err)" = 1 &&
	grep "^ssefs: disk $C/d.vhd: already exists$" err &&
	test_expect_code 1 ssefs disk copy store/d.vhd store/d2.vhd 2>err &&
	test "$(wc -l <err)" = 1 &&
	test_expect_code 1 ssefs disk copy img "$C/x.vhd" 2>err &&
	test "$(wc -l <err)" = 1 &&
	grep "not an ssefs disk" err &&
	test_expect_code 1 ssefs disk show "$C/x.vhd" 2>err &&
	test "$(wc -l <err)" = 1
'

test_expect_success 'rewrap on a URL moves the layer to the new key version' '
	ssefs key rotate k1 >/dev/null &&
	ssefs disk rewrap "$C/i.vhd" >rw &&
	grep " -> " rw &&
	ssefs --json disk show "$C/i.vhd" >i.json &&
	test "$(jq -r ".layers[0].kid" i.json)" != "$(cat kid1)" &&
	ssefs disk export "$C/i.vhd" out4.vhd &&
	cmp out.vhd out4.vhd
'

test_expect_success 'a disk whose lease another party holds: rewrap and export refuse in one line' '
	BT_LEASE_SECONDS=15 "$BT" holdmany 20 "$C/i.vhd" >held &
	hold=$! &&
	for i in $(test_seq 100); do test -s held && break; sleep 0.1; done &&
	test_expect_code 1 ssefs disk rewrap "$C/i.vhd" 2>err &&
	test "$(wc -l <err)" = 1 &&
	grep "^ssefs: disk $C/i.vhd: in use by a mount" err &&
	test_expect_code 1 ssefs disk export "$C/i.vhd" out5.vhd 2>err &&
	test "$(wc -l <err)" = 1 &&
	grep "^ssefs: disk $C/i.vhd: in use by a mount" err &&
	test_expect_code 1 ssefs disk copy "$C/i.vhd" store/i.vhd 2>err &&
	test "$(wc -l <err)" = 1 &&
	kill $hold && wait $hold;
	! test -e store/i.vhd
'

test_expect_success 'a wrong account key is one line' '
	good=$AZURE_STORAGE_CONNECTION_STRING &&
	AZURE_STORAGE_CONNECTION_STRING=$(echo "$good" | sed "s|AccountKey=[^;]*|AccountKey=$(head -c 64 /dev/urandom | base64 -w0)|") &&
	export AZURE_STORAGE_CONNECTION_STRING &&
	test_expect_code 1 ssefs disk show "$C/a.vhd" 2>err;
	AZURE_STORAGE_CONNECTION_STRING=$good &&
	test "$(wc -l <err)" = 1 &&
	grep "^ssefs: .*access denied" err
'

test_expect_success 'rotate URL: re-wraps the disks no one leases, names the one a mount holds' '
	ssefs des create s1 --key k1 --auto-rotate >/dev/null &&
	ssefs disk create "$C/r1.vhd" --size 1M --des s1 >/dev/null &&
	ssefs disk create "$C/r2.vhd" --size 1M --des s1 >/dev/null &&
	ssefs --json disk show "$C/r1.vhd" | jq -r ".layers[0].kid" >before &&
	ssefs key rotate k1 >/dev/null &&
	BT_LEASE_SECONDS=15 "$BT" holdmany 6 "$C/r2.vhd" >held2 &
	hold=$! &&
	for i in $(test_seq 100); do test -s held2 && break; sleep 0.1; done &&
	ssefs rotate "$C" >out &&
	wait $hold &&
	cat out &&
	grep "^disk $C/r1.vhd: $(cat before) -> " out &&
	grep "^disk $C/r2.vhd: in use by a mount" out &&
	ssefs --json disk show "$C/r1.vhd" | jq -r ".layers[0].kid" >after &&
	! test_cmp before after &&
	ssefs --json disk show "$C/r2.vhd" | jq -r ".layers[0].kid" >r2kid &&
	test_cmp before r2kid &&
	ssefs rotate "$C" >out2 &&
	grep "re-wrapped" out2 &&
	ssefs --json disk show "$C/r2.vhd" | jq -r ".layers[0].kid" >r2kid &&
	test_cmp after r2kid
'

test_expect_success 'the blob store mount options: bad values are one usage line' '
	mkdir -p m &&
	test_expect_code 2 ssefs mount "$C" m -o store_timeout=soon 2>err &&
	test "$(wc -l <err)" = 1 &&
	grep "^ssefs: -o store_timeout=soon: not a duration" err &&
	test_expect_code 2 ssefs mount "$C" m -o credentials=rel/conn 2>err &&
	grep "^ssefs: -o credentials=rel/conn: must be an absolute path" err &&
	test_expect_code 2 ssefs mount "$C" m -o allow_http=maybe 2>err &&
	grep "^ssefs: -o allow_http=maybe: must be true or false" err
'

test_expect_success 'stop Azurite' '
	azurite_stop
'

test_done
