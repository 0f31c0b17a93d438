#!/bin/bash
# run-all: lock loop	(loop devices: one script at a time)

test_description='SPEC "Stores beyond one host: Azure page blobs" and "Attaching a disk", as a new user reads them (Azurite, az)'

# Written from SPEC.md and the man pages only (ssefs-disk(1), ssefs-mount(8),
# ssefs-config(5)), not from the sources: every test names what it checks.
# The independent client is Debian's azure-cli (az) and the Azure SDK it
# ships (for Get Page Ranges, which az has no command for).

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh
. "$TEST_DIRECTORY"/lib-azurite.sh
AZURITE_DEBUG=1	# the tests count requests in azurite/debug.log

test_have_prereq AZURITE || { skip_all='no Azurite (make deps)'; test_done; }
test_have_prereq AZCLI || { skip_all='no az (azure-cli)'; test_done; }
test_have_prereq JQ || { skip_all='no jq'; test_done; }
test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }

# az runs on /usr/bin/python3 with its SDK beside it; PATH may name another
AZPY=/usr/bin/python3
AZSRC=$(dirname "$(readlink -f "$(command -v az)")")/src
env PYTHONPATH="$AZSRC" "$AZPY" -c \
	'import azure.multiapi.storagev2.blob.v2021_08_06' 2>/dev/null &&
	test_set_prereq AZSDK

# page_ranges CONTAINER BLOB: "START END" per range, through the Azure SDK
page_ranges () {
	env PYTHONPATH="$AZSRC" "$AZPY" - "$1" "$2" <<-\EOF
	import os, sys
	from azure.multiapi.storagev2.blob.v2021_08_06 import BlobServiceClient
	s = BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"])
	for r in s.get_blob_client(sys.argv[1], sys.argv[2]).get_page_ranges()[0]:
	    print(r["start"], r["end"])
	EOF
}

# range_bytes < ranges: the sum of the ranges' lengths
range_bytes () {
	awk '{ n += $2 - $1 + 1 } END { print n + 0 }'
}

blob_length () {	# CONTAINER BLOB
	az storage blob show -c "$1" -n "$2" --query properties.contentLength -o tsv 2>>az.err
}

# no_creds CMD...: CMD with no AZURE_STORAGE_* variable at all
no_creds () {
	env -u AZURE_STORAGE_CONNECTION_STRING -u AZURE_STORAGE_SAS_TOKEN \
		-u AZURE_STORAGE_ACCOUNT -u AZURE_STORAGE_KEY "$@"
}

# one_line FILE: exactly one line, of the form "ssefs: WHAT: WHY"
one_line () {
	test "$(wc -l <"$1")" = 1 &&
	grep -q "^ssefs: .*: ." "$1" || { echo "not one ssefs: line:"; cat "$1"; return 1; }
}

canary="ssefs-7103-canary-$$-$(date +%s)"

test_expect_success 'setup: vault, a key, Azurite, a container made with az' '
	ssefs_setup_vault &&
	ssefs key create k1 --size 2048 >/dev/null &&
	azurite_start &&
	az storage container create -n con -o none 2>az.err &&
	C=$AZURITE_URL/con &&
	mkdir store &&
	BADKEY=$(head -c 64 /dev/urandom | base64 -w0) &&
	BADCS=$(echo "$AZURE_STORAGE_CONNECTION_STRING" | sed "s|AccountKey=[^;]*|AccountKey=$BADKEY|") &&
	SAS=$(az storage container generate-sas -n con --permissions racwdl \
		--expiry 2099-01-01T00:00:00Z -o tsv 2>>az.err) &&
	test -n "$SAS" &&
	SIG=$(echo "$SAS" | sed -n "s/.*sig=\([^&]*\).*/\1/p") &&
	test -n "$SIG" &&
	BADSAS=$(echo "$SAS" | sed "s|sig=[^&]*|sig=AAAA$(head -c 32 /dev/urandom | base64 -w0 | tr -d "+/=")|")
'

# --- the URL forms -------------------------------------------------------

test_expect_success 'disk create URL/NAME.vhd (path-style): a page blob, one line of show output per field' '
	ssefs disk create "$C/a.vhd" --size 64M >out &&
	grep "^path: *$C/a.vhd$" out &&
	test "$(az storage blob show -c con -n a.vhd --query properties.blobType -o tsv 2>>az.err)" = PageBlob
'

test_expect_success 'disk create URL/PREFIX/NAME.vhd: a blob in the virtual folder' '
	ssefs --json disk create "$C/pfx/p.vhd" --size 8M >p.json &&
	test "$(jq -r .path p.json)" = "$C/pfx/p.vhd" &&
	az storage blob list -c con --query "[].name" -o tsv 2>>az.err | sort >names &&
	printf "a.vhd\npfx/p.vhd\n" >expect &&
	test_cmp expect names
'

test_expect_success 'blob length = the directory store file length rounded to 512 (both sector sizes)' '
	for ss in 4096 512; do
		ssefs disk create "$C/len$ss.vhd" --size 3M --sector-size $ss >/dev/null &&
		ssefs disk create "store/len$ss.vhd" --size 3M --sector-size $ss >/dev/null &&
		f=$(stat -c %s store/len$ss.vhd) &&
		b=$(blob_length con len$ss.vhd) &&
		echo "sector $ss: file $f blob $b" &&
		test "$b" = $(( (f + 511) / 512 * 512 )) || return 1
	done
'

test_expect_success AZSDK 'thin: a new 64 MiB disk stores a few pages only (Get Page Ranges)' '
	page_ranges con a.vhd >ranges &&
	cat ranges &&
	test "$(range_bytes <ranges)" -le 65536
'

test_expect_success 'mount URL MNT: the disks directly in the container; mount URL/PREFIX MNT: those in the folder' '
	ssefs_mount "$C" mnt &&
	ls mnt >list &&
	printf "a.vhd\nlen4096.vhd\nlen512.vhd\n" >expect &&
	test_cmp expect list &&
	test "$(stat -c %s mnt/a.vhd)" = 67109376 &&
	ssefs_mount "$C/pfx" mntp &&
	ls mntp >list &&
	echo p.vhd >expect &&
	test_cmp expect list &&
	test "$(stat -c %s mntp/p.vhd)" = $((8388608 + 512)) &&
	ssefs_umount mntp
'

test_expect_success AZSDK 'thin: what the mount writes is stored, a punched hole is cleared (Clear Page)' '
	head -c 1048576 /dev/urandom >mib &&
	dd if=mib of=mnt/a.vhd bs=1M seek=8 conv=notrunc,fsync 2>/dev/null &&
	page_ranges con a.vhd >ranges &&
	n=$(range_bytes <ranges) &&
	test "$n" -ge 1048576 && test "$n" -le $((1048576 + 65536)) &&
	fallocate -p -o $((8 * 1048576)) -l 1048576 mnt/a.vhd &&
	sync mnt/a.vhd &&
	page_ranges con a.vhd >ranges &&
	test "$(range_bytes <ranges)" -le 65536 &&
	dd if=mnt/a.vhd bs=1M skip=8 count=1 2>/dev/null | cmp - /dev/zero 2>&1 | grep -q EOF
'

test_expect_success 'ssefs status: requests, retries, bytes and latency of the store' '
	printf "%s status\n" "$canary" >one &&
	dd if=one of=mnt/a.vhd bs=4096 seek=3 conv=notrunc,fsync 2>/dev/null &&
	ssefs status mnt >status &&
	cat status &&
	grep -i "requests" status | grep -i "retries" >line &&
	grep -E "[0-9.]+[KMG]? in, [0-9.]+[KMG]? out" line &&
	grep -E "[0-9.]+ ?(ms|us|µs|s)\b" line &&
	ssefs --json status mnt >status.json &&
	jq -e ".blobStore | (.requests > 0) and (.retries >= 0) and (.bytesIn > 0) and (.bytesOut > 0)" status.json &&
	jq -r ".blobStore | keys[]" status.json | sort >keys &&
	printf "%s\n" bytesIn bytesOut failures latencyUsAvg latencyUsMax requests retries >expect &&
	test_cmp expect keys &&
	jq -e ".blobStore.latencyUsMax >= .blobStore.latencyUsAvg" status.json
'

test_expect_success 'a disk another host created since the mount appears at the next listing' '
	ssefs disk create "$C/late.vhd" --size 1M >/dev/null &&
	for i in $(test_seq 30); do test -e mnt/late.vhd && break; sleep 0.2; done &&
	test "$(stat -c %s mnt/late.vhd)" = $((1048576 + 512))
'

# ssefs-mount(8): "create, unlink, rename, mkdir, rmdir, chmod, chown and
# utimens fail with EOPNOTSUPP" through a blob mount
test_expect_success 'through the mount: create, unlink, rename, mkdir, chmod, chown, utimens fail with EOPNOTSUPP; the container is unchanged' '
	az storage blob list -c con --query "[].name" -o tsv 2>>az.err | sort >before &&
	test_must_fail touch mnt/new.vhd 2>err && grep -q "Operation not supported" err &&
	test_must_fail rm mnt/late.vhd 2>err && grep -q "Operation not supported" err &&
	test_must_fail mv mnt/late.vhd mnt/moved.vhd 2>err && grep -q "Operation not supported" err &&
	test_must_fail mkdir mnt/dir 2>err && grep -q "Operation not supported" err &&
	test_must_fail chmod 600 mnt/late.vhd 2>err && grep -q "Operation not supported" err &&
	test_must_fail chown nobody mnt/late.vhd 2>err && grep -q "Operation not supported" err &&
	test_must_fail touch -d 2020-01-01 mnt/late.vhd 2>err && grep -q "Operation not supported" err &&
	az storage blob list -c con --query "[].name" -o tsv 2>>az.err | sort >after &&
	test_cmp before after
'

# --- one writer per disk -------------------------------------------------

test_expect_success 'one writer per disk: a second mount'"'"'s open is EBUSY, its log names the disk; other disks work' '
	exec 7<>mnt/a.vhd &&
	ssefs_mount "$C" mnt2 &&
	test_must_fail dd if=/dev/zero of=mnt2/a.vhd bs=4096 count=1 conv=notrunc 2>err;
	ok=$? &&
	exec 7>&- &&
	test $ok = 0 &&
	cat err &&
	grep "Device or resource busy" err &&
	cat mnt2.log &&
	grep "a\.vhd" mnt2.log &&
	dd if=/dev/zero of=mnt2/len512.vhd bs=4096 count=1 conv=notrunc,fsync 2>/dev/null &&
	ssefs_umount mnt2
'

# --- attaching a disk (on the blob mount) --------------------------------

test_expect_success LOOP 'disk attach: /dev/loopN, size without the footer, sector size of the disk, direct I/O' '
	ssefs disk attach mnt/a.vhd >dev &&
	LOOP=$(cat dev) &&
	test_atexit "losetup -d $LOOP 2>/dev/null" &&
	echo "$LOOP" | grep -E "^/dev/loop[0-9]+$" &&
	test "$(blockdev --getsize64 "$LOOP")" = 67108864 &&
	test "$(blockdev --getss "$LOOP")" = 4096 &&
	losetup --json -l "$LOOP" >lo.json &&
	cat lo.json &&
	jq -e ".loopdevices[0].dio == true or .loopdevices[0].dio == \"1\"" lo.json &&
	dd if="$LOOP" bs=4096 skip=3 count=1 2>/dev/null | head -c $(wc -c <one) | cmp - one
'

test_expect_success LOOP 'ssefs status names the loop device of the attached disk (text and --json)' '
	ssefs status mnt >status &&
	grep "attached: *$LOOP\b" status &&
	ssefs --json status mnt >status.json &&
	jq -r ".disks[] | select(.path == \"a.vhd\") | .loopDevices[]" status.json >loops &&
	echo "$LOOP" >expect &&
	test_cmp expect loops
'

test_expect_success LOOP 'disk detach /dev/loopN' '
	ssefs disk detach "$LOOP" &&
	test -z "$(losetup -j mnt/a.vhd)" &&
	ssefs --json status mnt >status.json &&
	test "$(jq -r ".disks[] | select(.path == \"a.vhd\") | .loopDevices | length" status.json)" = 0
'

test_expect_success LOOP 'a 512-byte-sector disk attaches with 512-byte logical sectors; detach by path' '
	ssefs disk attach mnt/len512.vhd >dev &&
	LOOP=$(cat dev) &&
	test_atexit "losetup -d $LOOP 2>/dev/null" &&
	test "$(blockdev --getss "$LOOP")" = 512 &&
	test "$(blockdev --getsize64 "$LOOP")" = 3145728 &&
	ssefs disk detach mnt/len512.vhd &&
	test -z "$(losetup -j mnt/len512.vhd)"
'

test_expect_success LOOP 'attach of a disk another host holds: one line naming it, no loop device left' '
	ssefs_mount "$C" mnt2 &&
	exec 7<>mnt/a.vhd &&
	test_expect_code 1 ssefs disk attach mnt2/a.vhd 2>err;
	ok=$?
	exec 7>&-
	test $ok = 0 &&
	one_line err &&
	grep "a\.vhd" err &&
	test -z "$(losetup -j mnt2/a.vhd)" &&
	ssefs_umount mnt2
'

test_expect_success LOOP 'attach --read-only: the block device is read-only' '
	LOOP=$(ssefs disk attach mnt/a.vhd --read-only) &&
	test_atexit "losetup -d $LOOP 2>/dev/null" &&
	test "$(blockdev --getro "$LOOP")" = 1 &&
	ssefs disk detach "$LOOP"
'

test_expect_success 'unmount: no plaintext canary in the blob (az download)' '
	ssefs_umount mnt &&
	az storage blob download -c con -n a.vhd -f a.blob -o none 2>>az.err &&
	! grep -q "$canary" a.blob
'

# --- format identity ------------------------------------------------------

test_expect_success 'a blob downloaded with az is a file a directory store mounts with the same data' '
	mkdir dstore &&
	cp a.blob dstore/a.vhd &&
	ssefs_mount dstore mntd &&
	test "$(stat -c %s mntd/a.vhd)" = 67109376 &&
	dd if=mntd/a.vhd bs=4096 skip=3 count=1 2>/dev/null | head -c $(wc -c <one) | cmp - one &&
	ssefs_mount "$C" mnt &&
	cmp mnt/a.vhd mntd/a.vhd &&
	ssefs_umount mnt &&
	ssefs_umount mntd
'

# --- the disk commands on URLs ---------------------------------------------

test_expect_success 'disk show URL (--json): the header, without a key' '
	ssefs --json disk show "$C/a.vhd" >show.json &&
	test "$(jq -r .path show.json)" = "$C/a.vhd" &&
	test "$(jq -r .vhdSizeBytes show.json)" = 67109376 &&
	test "$(jq -r .diskSizeBytes show.json)" = 67108864 &&
	test "$(jq -r ".copies[0].state" show.json)" = ok
'

test_expect_success 'disk verify URL (--json): result ok' '
	ssefs disk verify "$C/a.vhd" >out &&
	tail -n 1 out | grep -E "^result: *ok$" &&
	ssefs --json disk verify "$C/a.vhd" >v.json &&
	test "$(jq -r .result v.json)" = ok
'

test_expect_success 'disk import SRC URL/NAME.vhd, disk export URL/NAME.vhd DEST (--json): the same data' '
	head -c 2097152 /dev/urandom >img &&
	ssefs disk import img "$C/imp.vhd" --key k1 >out &&
	ssefs --json disk export "$C/imp.vhd" imp.vhd >e.json &&
	test "$(jq -r .path e.json)" = "$C/imp.vhd" &&
	test "$(jq -r .dest e.json)" = "$PWD/imp.vhd" &&
	test "$(jq -r .vhdSizeBytes e.json)" = $((2097152 + 512)) &&
	head -c 2097152 imp.vhd | cmp - img
'

test_expect_success 'disk export URL DIR: the file is DIR/NAME.vhd; copy onto an existing DEST is refused' '
	mkdir exdir &&
	ssefs disk export "$C/imp.vhd" exdir &&
	cmp exdir/imp.vhd imp.vhd &&
	test_expect_code 1 ssefs disk copy "$C/imp.vhd" "$C/a.vhd" 2>err &&
	one_line err && grep "a\.vhd" err &&
	test "$(ssefs --json disk show "$C/a.vhd" | jq -r .vhdSizeBytes)" = 67109376
'

test_expect_success 'disk rewrap URL (--json): onto the new key version, then "current"' '
	ssefs key rotate k1 >/dev/null &&
	ssefs --json disk rewrap "$C/imp.vhd" >r.json &&
	test "$(jq -r .result r.json)" = rewrapped &&
	ssefs --json disk rewrap "$C/imp.vhd" >r2.json &&
	test "$(jq -r .result r2.json)" = current &&
	ssefs disk rewrap "$C/imp.vhd" >out &&
	grep "^$C/imp.vhd: already on the current key version$" out
'

test_expect_success 'disk copy directory -> URL -> directory (--json): byte for byte, same disk' '
	ssefs disk import img store/c.vhd >/dev/null &&
	ssefs --json disk copy store/c.vhd "$C/c.vhd" >c1.json &&
	test "$(jq -r .path c1.json)" = "$C/c.vhd" &&
	test "$(jq -r .uuid c1.json)" = "$(ssefs --json disk show store/c.vhd | jq -r .uuid)" &&
	ssefs --json disk copy "$C/c.vhd" store/c2.vhd >c2.json &&
	test "$(jq -r .uuid c2.json)" = "$(jq -r .uuid c1.json)" &&
	cmp store/c.vhd store/c2.vhd &&
	az storage blob download -c con -n c.vhd -f c.blob -o none 2>>az.err &&
	test "$(stat -c %s c.blob)" = $(( ($(stat -c %s store/c.vhd) + 511) / 512 * 512 )) &&
	cmp -n $(stat -c %s store/c.vhd) c.blob store/c.vhd &&
	ssefs disk export store/c2.vhd c2.out &&
	head -c 2097152 c2.out | cmp - img
'

test_expect_success AZSDK 'disk copy keeps a thin disk thin' '
	ssefs disk create store/big.vhd --size 10G >/dev/null &&
	ssefs disk copy store/big.vhd "$C/big.vhd" >/dev/null &&
	page_ranges con big.vhd >ranges &&
	test "$(range_bytes <ranges)" -le 65536
'

test_expect_success 'disk copy URL -> directory reads only the allocated ranges (Get Page Ranges)' '
	n=$(wc -l <"$TRASH_DIRECTORY/azurite/debug.log") &&
	ssefs disk copy "$C/big.vhd" store/big2.vhd >/dev/null &&
	tail -n +$((n + 1)) "$TRASH_DIRECTORY/azurite/debug.log" | python3 -c "
import json, re, sys
pagelist, read = 0, 0
for line in sys.stdin:
    m = re.search(r\"RequestMethod=GET RequestURL=\\S*/con/big\\.vhd(\\S*) RequestHeaders:(\\{.*\\}) ClientIP\", line)
    if not m:
        continue
    h = json.loads(m.group(2))
    if \"comp=pagelist\" in m.group(1):
        pagelist += 1
        continue
    r = re.match(r\"bytes=(\\d+)-(\\d+)\", h.get(\"x-ms-range\") or h.get(\"range\") or \"\")
    read += int(r.group(2)) - int(r.group(1)) + 1 if r else 1 << 40
print(pagelist, read)
" >got &&
	cat got &&
	read pagelist bytes <got &&
	test "$pagelist" -ge 1 &&
	test "$bytes" -le 1048576 &&
	cmp_sparse store/big.vhd store/big2.vhd
'

# SPEC lists snapshot among the commands on URLs
test_expect_success 'disk snapshot URL/NAME.vhd URL/SNAP.vhd (SPEC: every command that takes a disk path)' '
	ssefs disk snapshot "$C/imp.vhd" "$C/snap.vhd" >/dev/null &&
	test "$(ssefs --json disk show "$C/snap.vhd" | jq -r .vhdSizeBytes)" = $((2097152 + 512)) &&
	ssefs disk export "$C/snap.vhd" snap.out &&
	head -c 2097152 snap.out | cmp - img
'

test_expect_success 'rotate URL: re-wraps the container'"'"'s disks of an auto-rotating set' '
	ssefs key create k2 --size 2048 >/dev/null &&
	ssefs des create s2 --key k2 --auto-rotate >/dev/null &&
	ssefs disk create "$C/r.vhd" --size 1M --des s2 >/dev/null &&
	ssefs --json disk show "$C/r.vhd" | jq -r ".layers[0].kid" >before &&
	ssefs key rotate k2 >/dev/null &&
	ssefs rotate "$C" >out &&
	ssefs --json disk show "$C/r.vhd" | jq -r ".layers[0].kid" >after &&
	! test_cmp before after &&
	grep "/keys/k2/" after
'

# --- credentials, first found ---------------------------------------------

test_expect_success 'credentials: none at all is one line naming the store, exit 1' '
	test_expect_code 1 no_creds "$SSEFS_BIN" disk show "$C/a.vhd" >out 2>err &&
	one_line err &&
	test ! -s out
'

test_expect_success 'credentials: AZURE_STORAGE_SAS_TOKEN alone works (command and mount)' '
	no_creds AZURE_STORAGE_SAS_TOKEN="$SAS" "$SSEFS_BIN" disk show "$C/a.vhd" >/dev/null &&
	no_creds AZURE_STORAGE_SAS_TOKEN="?$SAS" "$SSEFS_BIN" disk show "$C/a.vhd" >/dev/null &&
	bg_mount mnt mnt-sas.log no_creds AZURE_STORAGE_SAS_TOKEN="$SAS" "$SSEFS_BIN" mount -f "$C" mnt &&
	pid=$BG_PID &&
	test "$(stat -c %s mnt/r.vhd)" = $((1048576 + 512)) &&
	ssefs status mnt >st-sas &&
	ssefs --json status mnt >st-sas.json &&
	tr "\0" " " </proc/$(jq -r .pid st-sas.json)/cmdline >argv-sas &&
	grep "mount" argv-sas &&
	tr "\0" "\n" </proc/$(jq -r .pid st-sas.json)/environ >env-sas &&
	fusermount3 -u mnt && wait $pid
'

test_expect_success 'credentials: the SAS token comes first (a bad SAS fails even with a good connection string)' '
	test_expect_code 1 env AZURE_STORAGE_SAS_TOKEN="$BADSAS" "$SSEFS_BIN" disk show "$C/a.vhd" 2>err &&
	one_line err &&
	AZURE_STORAGE_CONNECTION_STRING=$BADCS AZURE_STORAGE_SAS_TOKEN=$SAS "$SSEFS_BIN" disk show "$C/a.vhd" >/dev/null
'

test_expect_success 'credentials: the connection string comes before account and key' '
	AZURE_STORAGE_ACCOUNT=devstoreaccount1 AZURE_STORAGE_KEY=$BADKEY "$SSEFS_BIN" disk show "$C/a.vhd" >/dev/null &&
	test_expect_code 1 env AZURE_STORAGE_CONNECTION_STRING="$BADCS" \
		AZURE_STORAGE_ACCOUNT=devstoreaccount1 AZURE_STORAGE_KEY=$AZURITE_KEY \
		"$SSEFS_BIN" disk show "$C/a.vhd" 2>err &&
	one_line err
'

test_expect_success 'a 403 (wrong key) is one line naming the account and the container' '
	test_expect_code 1 env AZURE_STORAGE_CONNECTION_STRING="$BADCS" "$SSEFS_BIN" disk show "$C/a.vhd" 2>err &&
	one_line err &&
	grep "devstoreaccount1" err | grep "con" &&
	test_expect_code 1 env AZURE_STORAGE_CONNECTION_STRING="$BADCS" "$SSEFS_BIN" mount -f "$C" mnt 2>err &&
	one_line err &&
	grep "devstoreaccount1" err | grep "con" &&
	! mountpoint -q mnt
'

test_expect_success 'credentials: a connection string whose blob endpoint does not match the URL is refused' '
	other=$(echo "$AZURE_STORAGE_CONNECTION_STRING" | sed "s|BlobEndpoint=[^;]*|BlobEndpoint=http://127.0.0.1:1/devstoreaccount1|") &&
	test_expect_code 1 env AZURE_STORAGE_CONNECTION_STRING="$other" "$SSEFS_BIN" disk show "$C/a.vhd" >out 2>err &&
	one_line err &&
	test ! -s out &&
	test_expect_code 1 env AZURE_STORAGE_CONNECTION_STRING="$other" "$SSEFS_BIN" mount -f "$C" mnt 2>err &&
	one_line err &&
	! mountpoint -q mnt
'

test_expect_success 'credentials: AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY' '
	no_creds AZURE_STORAGE_ACCOUNT=devstoreaccount1 AZURE_STORAGE_KEY="$AZURITE_KEY" \
		"$SSEFS_BIN" --json disk show "$C/a.vhd" >s.json &&
	test "$(jq -r .path s.json)" = "$C/a.vhd"
'

test_expect_success 'credentials=FILE (mode 0600): mounts with no variable set; 0644 is refused in one line' '
	printf "%s\n" "$AZURE_STORAGE_CONNECTION_STRING" >conn &&
	chmod 600 conn &&
	bg_mount mnt mnt-file.log no_creds "$SSEFS_BIN" mount -f "$C" mnt -o "credentials=$PWD/conn" &&
	pid=$BG_PID &&
	test "$(stat -c %s mnt/r.vhd)" = $((1048576 + 512)) &&
	ssefs status mnt >st-file &&
	ssefs --json status mnt >st-file.json &&
	tr "\0" " " </proc/$(jq -r .pid st-file.json)/cmdline >argv-file &&
	grep "credentials=" argv-file &&
	fusermount3 -u mnt && wait $pid &&
	chmod 644 conn &&
	test_expect_code 1 no_creds "$SSEFS_BIN" mount -f "$C" mnt -o "credentials=$PWD/conn" 2>err &&
	one_line err &&
	grep "conn" err &&
	! mountpoint -q mnt
'

test_expect_success 'credentials=FILE: owned by another user is refused in one line; 0400 is fine' '
	cp conn conn-other && chmod 600 conn-other && chown 65534 conn-other &&
	test_expect_code 1 no_creds "$SSEFS_BIN" mount -f "$C" mnt -o "credentials=$PWD/conn-other" 2>err &&
	one_line err &&
	grep "conn-other" err &&
	! mountpoint -q mnt &&
	cp conn conn-ro && chmod 400 conn-ro &&
	bg_mount mnt mnt-ro.log no_creds "$SSEFS_BIN" mount -f "$C" mnt -o "credentials=$PWD/conn-ro" &&
	test "$(stat -c %s mnt/r.vhd)" = $((1048576 + 512)) &&
	fusermount3 -u mnt && wait $BG_PID
'

test_expect_success 'credentials: a variable comes before credentials=FILE' '
	printf "%s\n" "$BADCS" >badconn &&
	chmod 600 badconn &&
	ssefs_mount "$C" mnt "credentials=$PWD/badconn" &&
	test "$(stat -c %s mnt/r.vhd)" = $((1048576 + 512)) &&
	ssefs_umount mnt
'

test_expect_success 'credentials: a stores: entry of the config file gives credentials= to the mount' '
	cat >cfg.yaml <<-EOF &&
	stores:
	  $C:
	    credentials: $PWD/conn
	EOF
	chmod 600 conn &&
	bg_mount mnt mnt-cfg.log no_creds "$SSEFS_BIN" --config cfg.yaml mount -f "$C" mnt &&
	pid=$BG_PID &&
	test "$(stat -c %s mnt/r.vhd)" = $((1048576 + 512)) &&
	fusermount3 -u mnt && wait $pid
'

# --- plain http ---------------------------------------------------------

test_expect_success 'plain http to a host that is not loopback: refused in one line (command, mount)' '
	test_expect_code 1 "$SSEFS_BIN" disk show http://192.0.2.1:10000/devstoreaccount1/con/a.vhd 2>err &&
	one_line err &&
	grep -i "http" err &&
	test_expect_code 1 "$SSEFS_BIN" mount -f http://192.0.2.1:10000/devstoreaccount1/con mnt 2>err &&
	one_line err &&
	grep -i "http" err &&
	! mountpoint -q mnt
'

test_expect_success 'plain http to localhost (a loopback name) is allowed' '
	L=http://localhost:$AZURITE_PORT/devstoreaccount1/con &&
	no_creds AZURE_STORAGE_ACCOUNT=devstoreaccount1 AZURE_STORAGE_KEY="$AZURITE_KEY" \
		"$SSEFS_BIN" --json disk show "$L/a.vhd" >l.json &&
	test "$(jq -r .path l.json)" = "$L/a.vhd"
'

# a non-loopback address of this host that forwards to Azurite
IP=$(hostname -I 2>/dev/null | tr " " "\n" | grep -E "^[0-9]+(\.[0-9]+){3}$" | grep -v "^127\." | head -n 1)
test -n "$IP" && test_set_prereq HOSTIP

test_expect_success HOSTIP 'allow_http: a mount over plain http to a non-loopback address' '
	FWD=$(azurite_free_port) || return 1
	python3 -c "
import socket, sys, threading
ip, port, dport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((ip, port)); s.listen(16)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            b.sendall(d)
    except OSError: pass
    for x in (a, b):
        try: x.shutdown(socket.SHUT_RDWR)
        except OSError: pass
while True:
    c, _ = s.accept()
    u = socket.create_connection((\"127.0.0.1\", dport))
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
" "$IP" "$FWD" "$AZURITE_PORT" &
	fpid=$! &&
	test_atexit "kill $fpid 2>/dev/null" &&
	sleep 1 &&
	R=http://$IP:$FWD/devstoreaccount1/con &&
	test_expect_code 1 no_creds AZURE_STORAGE_ACCOUNT=devstoreaccount1 AZURE_STORAGE_KEY="$AZURITE_KEY" \
		"$SSEFS_BIN" mount -f "$R" mnt 2>err &&
	one_line err &&
	bg_mount mnt mnt-http.log no_creds AZURE_STORAGE_ACCOUNT=devstoreaccount1 AZURE_STORAGE_KEY="$AZURITE_KEY" \
		"$SSEFS_BIN" mount -f "$R" mnt -o allow_http &&
	pid=$BG_PID &&
	test "$(stat -c %s mnt/r.vhd)" = $((1048576 + 512)) &&
	fusermount3 -u mnt && wait $pid
'

test_expect_success 'the https form https://ACCOUNT.blob.core.windows.net/CONTAINER is a container URL' '
	test_expect_code 1 no_creds "$SSEFS_BIN" disk show https://acct.blob.core.windows.net/disks/d.vhd 2>err &&
	one_line err &&
	grep "^ssefs: https://acct.blob.core.windows.net/disks: no credentials" err &&
	test_expect_code 1 no_creds "$SSEFS_BIN" disk show https://acct.blob.core.windows.net/disks/pfx/d.vhd 2>err &&
	grep "^ssefs: https://acct.blob.core.windows.net/disks/pfx: no credentials" err
'

# A URL with a SAS query is refused, and the line does not repeat the
# signature (it goes to stderr, or a daemon's to syslog): SPEC "Never in
# argv, logs, status or the audit log"
test_expect_success 'a SAS pasted into the URL is refused without repeating its signature' '
	test_must_fail ssefs disk show "$C/a.vhd?$SAS" 2>err &&
	one_line err &&
	! grep -F -e "$SIG" err
'

test_expect_success 'header updates: the older copy first, each one Put Page of 4096 bytes with If-Match' '
	ssefs --json disk show "$C/imp.vhd" >h.json &&
	older=$(jq -r "[.copies[] | {copy, seq}] | sort_by(.seq) | .[0].copy" h.json) &&
	n=$(wc -l <"$TRASH_DIRECTORY/azurite/debug.log") &&
	ssefs key rotate k1 >/dev/null &&
	ssefs disk rewrap "$C/imp.vhd" >/dev/null &&
	tail -n +$((n + 1)) "$TRASH_DIRECTORY/azurite/debug.log" | python3 -c "
import json, re, sys
for line in sys.stdin:
    m = re.search(r\"RequestMethod=PUT RequestURL=\\S*/con/imp\\.vhd\\?comp=page RequestHeaders:(\\{.*\\}) ClientIP\", line)
    if m:
        h = json.loads(m.group(1))
        print(h.get(\"x-ms-range\"), h.get(\"content-length\"), \"if-match\" if \"if-match\" in h else \"unconditional\")
" >puts &&
	cat puts &&
	if test "$older" = 0
	then printf "bytes=0-4095 4096 if-match\nbytes=4096-8191 4096 if-match\n"
	else printf "bytes=4096-8191 4096 if-match\nbytes=0-4095 4096 if-match\n"
	fi >expect &&
	test_cmp expect puts
'

test_expect_success 'rotate URL from another host: names the disk a mount holds; that mount re-wraps it' '
	ssefs_mount "$C" mnt rotate_interval=2s &&
	exec 8<>mnt/r.vhd &&
	ssefs --json disk show "$C/r.vhd" | jq -r ".layers[0].kid" >before &&
	ssefs key rotate k2 >/dev/null &&
	ssefs rotate "$C" >out;
	cat out &&
	grep "r\.vhd" out | grep -i "in use" &&
	for i in $(test_seq 30); do
		ssefs --json disk show "$C/r.vhd" | jq -r ".layers[0].kid" >after &&
		! cmp -s before after && break
		sleep 1
	done &&
	! cmp -s before after
'

test_expect_success 'a disk a mount holds (its lease): export, copy, rewrap and verify refuse in one line naming it' '
	test_expect_code 1 ssefs disk export "$C/r.vhd" held.vhd 2>err &&
	one_line err && grep "r\.vhd" err &&
	test_expect_code 1 ssefs disk copy "$C/r.vhd" store/held.vhd 2>err &&
	one_line err && grep "r\.vhd" err &&
	test ! -e store/held.vhd &&
	test_expect_code 1 ssefs disk rewrap "$C/r.vhd" 2>err &&
	one_line err && grep "r\.vhd" err &&
	test_expect_code 1 ssefs disk verify "$C/r.vhd" 2>err &&
	one_line err && grep "r\.vhd" err &&
	exec 8>&- &&
	ssefs_umount mnt
'

test_expect_success 'disk copy URL -> URL between two containers' '
	az storage container create -n con2 -o none 2>>az.err &&
	ssefs disk copy "$C/imp.vhd" "$AZURITE_URL/con2/imp.vhd" >/dev/null &&
	ssefs disk export "$AZURITE_URL/con2/imp.vhd" imp2.vhd &&
	head -c 2097152 imp2.vhd | cmp - img
'

test_expect_success 'the mount helper and --json mount take a URL' '
	SSEFS_BIN="$SSEFS_BIN" "$TEST_DIRECTORY/../../tools/mount.fuse.ssefs" "$C" mnt -o rw,_netdev,nofail &&
	test_atexit "fusermount3 -uz mnt 2>/dev/null" &&
	test "$(stat -c %s mnt/r.vhd)" = $((1048576 + 512)) &&
	fusermount3 -u mnt &&
	for i in $(test_seq 100); do ssefs --json mount "$C" mnt >m.json 2>err && break; sleep 0.1; done &&
	test "$(jq -r .store m.json)" = "$C" &&
	fusermount3 -u mnt
'

test_expect_success LOOP 'disk attach --json on a blob disk: device, sector size, size, direct I/O' '
	ssefs_mount "$C" mnt &&
	ssefs --json disk attach mnt/a.vhd >att.json &&
	LOOP=$(jq -r .device att.json) &&
	test_atexit "losetup -d $LOOP 2>/dev/null" &&
	cat att.json &&
	test "$(jq -r .sectorSize att.json)" = 4096 &&
	test "$(jq -r .sizeBytes att.json)" = 67108864 &&
	test "$(jq -r .directIO att.json)" = true &&
	test "$(jq -r .readOnly att.json)" = false &&
	ssefs disk detach mnt/a.vhd &&
	ssefs_umount mnt
'

test_expect_success 'ReadWrite host cache over a blob store: written back at unmount' '
	mkdir hc &&
	ssefs_mount "$C" mnt "host_cache=$PWD/hc,caching=ReadWrite" &&
	dd if=mib of=mnt/a.vhd bs=1M seek=2 conv=notrunc,fsync 2>/dev/null &&
	ssefs status mnt | grep "^host cache: " &&
	ssefs_umount mnt &&
	ssefs_mount "$C" mnt &&
	dd if=mnt/a.vhd bs=1M skip=2 count=1 2>/dev/null | cmp - mib &&
	ssefs_umount mnt
'

test_expect_success 'revocation on a blob disk: EKEYREVOKED, then I/O resumes without a remount' '
	ssefs key create k3 --size 2048 >/dev/null &&
	ssefs disk create "$C/rv.vhd" --size 1M --key k3 >/dev/null &&
	ssefs_mount "$C" mnt key_check_interval=1s,revoke_grace=0 &&
	exec 6<mnt/rv.vhd &&
	dd if=mnt/rv.vhd bs=4096 count=1 iflag=direct of=/dev/null 2>/dev/null &&
	ssefs key set k3 --enabled false >/dev/null &&
	for i in $(test_seq 20); do
		dd if=mnt/rv.vhd bs=4096 count=1 iflag=direct of=/dev/null 2>err || break
		sleep 1
	done &&
	grep "Key has been revoked" err &&
	ssefs key set k3 --enabled true >/dev/null &&
	for i in $(test_seq 20); do
		dd if=mnt/rv.vhd bs=4096 count=1 iflag=direct of=/dev/null 2>/dev/null && break
		sleep 1
	done &&
	dd if=mnt/rv.vhd bs=4096 count=1 iflag=direct of=/dev/null &&
	exec 6<&- &&
	ssefs_umount mnt
'

# A SAS the service refuses writes with (no "w"): the disk is opened
# read-only and a write open fails with EACCES, not EROFS; SPEC: "a 403 is
# one line at mount naming the account and container, and EACCES
# afterwards".
test_expect_success 'a read-only SAS: reads work, a write open fails with EACCES' '
	RSAS=$(az storage container generate-sas -n con --permissions rl \
		--expiry 2099-01-01T00:00:00Z -o tsv 2>>az.err) &&
	bg_mount mnt mnt-rsas.log no_creds AZURE_STORAGE_SAS_TOKEN="$RSAS" "$SSEFS_BIN" mount -f "$C" mnt &&
	dd if=mnt/a.vhd bs=4096 count=1 of=/dev/null 2>/dev/null &&
	test_must_fail dd if=/dev/zero of=mnt/a.vhd bs=4096 count=1 conv=notrunc 2>err;
	ok=$?
	cat err mnt-rsas.log
	fusermount3 -u mnt; wait $BG_PID
	test $ok = 0 &&
	grep "Permission denied" err
'

test_expect_success 'a SAS that expires under a mount: EACCES afterwards' '
	end=$(( $(date +%s) + 25 )) &&
	exp=$(date -u -d "@$end" +%Y-%m-%dT%H:%M:%SZ) &&
	ESAS=$(az storage container generate-sas -n con --permissions racwdl \
		--expiry $exp -o tsv 2>>az.err) &&
	bg_mount mnt mnt-esas.log no_creds AZURE_STORAGE_SAS_TOKEN="$ESAS" "$SSEFS_BIN" mount -f "$C" mnt &&
	dd if=mnt/a.vhd bs=4096 count=1 iflag=direct of=/dev/null 2>/dev/null &&
	test "$(date +%s)" -lt "$end" &&
	sleep $(( end - $(date +%s) + 2 )) &&
	test_must_fail dd if=mnt/a.vhd bs=4096 skip=9 count=1 iflag=direct of=/dev/null 2>err;
	ok=$?
	fusermount3 -u mnt; wait $BG_PID
	test $ok = 0 &&
	grep "Permission denied" err
'

test_expect_success '503 Server Busy is retried: a mount through a proxy that answers every third request with 503' '
	cat >busy.py <<-\EOF &&
	import http.client, sys, threading
	from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
	port, upstream, every = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
	n = [0]
	lock = threading.Lock()
	class H(BaseHTTPRequestHandler):
	    protocol_version = "HTTP/1.1"
	    def log_message(self, *a):
	        pass
	    def handle_one(self):
	        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
	        with lock:
	            n[0] += 1
	            busy = n[0] % every == 0
	        if busy:
	            self.send_response(503, "Server Busy")
	            self.send_header("x-ms-error-code", "ServerBusy")
	            self.send_header("Content-Length", "0")
	            self.end_headers()
	            return
	        c = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
	        hdrs = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
	        c.request(self.command, self.path, body=body, headers=hdrs)
	        r = c.getresponse()
	        data = r.read()
	        self.send_response(r.status, r.reason)
	        for k, v in r.getheaders():
	            if k.lower() not in ("transfer-encoding", "connection", "content-length", "date", "server"):
	                self.send_header(k, v)
	        if self.command == "HEAD":
	            self.send_header("Content-Length", r.getheader("Content-Length") or "0")
	        else:
	            self.send_header("Content-Length", str(len(data)))
	        self.end_headers()
	        if self.command != "HEAD":
	            self.wfile.write(data)
	        c.close()
	    do_GET = do_PUT = do_HEAD = do_DELETE = handle_one
	ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
	EOF
	BUSY=$(azurite_free_port) || return 1
	python3 busy.py "$BUSY" "$AZURITE_PORT" 3 &
	bpid=$! &&
	test_atexit "kill $bpid 2>/dev/null" &&
	sleep 1 &&
	B=http://127.0.0.1:$BUSY/devstoreaccount1/con &&
	bg_mount mnt mnt-busy.log no_creds AZURE_STORAGE_ACCOUNT=devstoreaccount1 AZURE_STORAGE_KEY="$AZURITE_KEY" \
		"$SSEFS_BIN" mount -f "$B" mnt &&
	dd if=mib of=mnt/a.vhd bs=1M seek=3 conv=notrunc,fsync 2>/dev/null &&
	dd if=mnt/a.vhd bs=1M skip=3 count=1 iflag=direct 2>/dev/null | cmp - mib &&
	ssefs --json status mnt >busy.json &&
	jq -c .blobStore busy.json &&
	test "$(jq .blobStore.retries busy.json)" -gt 0 &&
	test "$(jq .blobStore.failures busy.json)" = 0 &&
	fusermount3 -u mnt && wait $BG_PID &&
	kill $bpid
'

# Azurite is frozen (SIGSTOP), not restarted: Azurite 3.35 forgets its
# leases when it restarts (even after SIGTERM: az then shows the lease
# "expired"), which the daemon rightly takes for a lease another host broke.
test_expect_success 'Azurite frozen for 5 s: the write waits, fsync succeeds once the service confirmed it' '
	ssefs_mount "$C" mnt &&
	test_when_finished "kill -CONT $AZURITE_PID; exec 6>&-; ssefs_umount_lazy mnt" &&
	exec 6<>mnt/a.vhd &&
	kill -STOP $AZURITE_PID &&
	( dd if=mib of=mnt/a.vhd bs=1M seek=4 conv=notrunc,fsync 2>dd.err; echo $? >dd.rc ) &
	w=$! &&
	sleep 5 &&
	test ! -s dd.rc &&
	kill -CONT $AZURITE_PID &&
	wait $w &&
	cat dd.err &&
	test "$(cat dd.rc)" = 0 &&
	dd if=mnt/a.vhd bs=1M skip=4 count=1 iflag=direct 2>/dev/null | cmp - mib &&
	exec 6>&- &&
	ssefs_umount mnt
'

test_expect_success 'Azurite frozen past store_timeout=3s: fsync fails with EIO after about 3 s' '
	ssefs_mount "$C" mnt store_timeout=3s &&
	test_when_finished "kill -CONT $AZURITE_PID; exec 6>&-; ssefs_umount_lazy mnt" &&
	exec 6<>mnt/a.vhd &&
	kill -STOP $AZURITE_PID &&
	start=$(date +%s) &&
	test_must_fail dd if=mib of=mnt/a.vhd bs=1M seek=5 conv=notrunc,fsync 2>err;
	ok=$?
	end=$(date +%s)
	kill -CONT $AZURITE_PID
	exec 6>&-
	cat err &&
	test $ok = 0 &&
	grep "Input/output error" err &&
	test $((end - start)) -ge 3 &&
	test $((end - start)) -le 15 &&
	ssefs_umount mnt
'

test_expect_success 'a killed host'"'"'s lease lapses (60 s) and another host takes the disk over' '
	ssefs_mount "$C" mnt &&
	pid1=$(ssefs --json status mnt | jq -r .pid) &&
	exec 6<>mnt/len4096.vhd &&
	dd if=one of=mnt/len4096.vhd bs=4096 conv=notrunc,fsync 2>/dev/null &&
	ssefs_mount "$C" mnt2 &&
	test_must_fail dd if=/dev/zero of=mnt2/len4096.vhd bs=4096 seek=1 count=1 conv=notrunc 2>/dev/null &&
	kill -9 $pid1 &&
	exec 6>&-;
	fusermount3 -uz mnt;
	start=$(date +%s) &&
	ok= &&
	for i in $(test_seq 90); do
		if dd if=/dev/zero of=mnt2/len4096.vhd bs=4096 seek=1 count=1 conv=notrunc 2>/dev/null
		then ok=1; break; fi
		sleep 1
	done &&
	echo "took over after $(( $(date +%s) - start )) s" &&
	test -n "$ok" &&
	head -c $(wc -c <one) mnt2/len4096.vhd | cmp - one &&
	ssefs_umount mnt2
'

# --- errors ------------------------------------------------------------

test_expect_success 'errors: one line "ssefs: WHAT: WHY" and the documented exit codes' '
	test_expect_code 1 ssefs disk show "$C/missing.vhd" 2>err &&
	one_line err && grep "missing.vhd" err &&
	test_expect_code 1 ssefs disk create "$C/a.vhd" --size 1M 2>err &&
	one_line err && grep "a.vhd" err && grep "already exists" err &&
	test_expect_code 2 ssefs disk create "$C/z.vhd" --size lots 2>err &&
	one_line err &&
	test_expect_code 1 ssefs disk create "$AZURITE_URL/nocontainer/z.vhd" --size 1M 2>err &&
	one_line err &&
	test_expect_code 1 ssefs mount -f "$AZURITE_URL/nocontainer" mnt 2>err &&
	one_line err &&
	! mountpoint -q mnt &&
	test_expect_code 2 ssefs mount "$C" mnt -o store_timeout=soon 2>err &&
	one_line err && grep "store_timeout" err &&
	test_expect_code 1 ssefs disk verify "$C/missing.vhd" 2>err &&
	one_line err &&
	test_expect_code 1 ssefs disk export "$C/missing.vhd" x.vhd 2>err &&
	one_line err &&
	test_expect_code 1 ssefs disk copy "$C/missing.vhd" store/x.vhd 2>err &&
	one_line err
'

# rotate URL on a store it cannot open or list: SPEC "Errors", one line on
# stderr, "ssefs: WHAT: WHY" (the summary stays on stdout)
test_expect_success 'rotate URL without credentials: one line "ssefs: URL: WHY" on stderr, exit 1' '
	test_expect_code 1 no_creds "$SSEFS_BIN" rotate "$C" >out 2>err &&
	cat out err &&
	one_line err &&
	grep "^ssefs: $C: no credentials" err
'

test_expect_success 'rotate URL of a missing container or with a wrong key: one line on stderr, exit 1' '
	test_expect_code 1 ssefs rotate "$AZURITE_URL/nocontainer" >out 2>err &&
	cat out err &&
	one_line err &&
	grep "^ssefs: .*nocontainer" err &&
	test_expect_code 1 env AZURE_STORAGE_CONNECTION_STRING="$BADCS" "$SSEFS_BIN" rotate "$C" >out 2>err &&
	cat out err &&
	one_line err &&
	grep "devstoreaccount1" err | grep "con"
'

test_expect_success 'errors: a disk name with a control character is refused (exit 2) on a URL too' '
	test_expect_code 2 ssefs disk create "$C/bad$(printf "\t")name.vhd" --size 1M 2>err &&
	one_line err &&
	test -z "$(az storage blob list -c con --query "[?contains(name, \x27bad\x27)].name" -o tsv 2>>az.err)"
'

# --- no credential anywhere ------------------------------------------------

test_expect_success 'no credential in argv, the daemon'"'"'s environment, logs, status or the audit log' '
	ssefs_mount "$C" mnt &&
	dd if=one of=mnt/r.vhd bs=4096 conv=notrunc,fsync 2>/dev/null &&
	ssefs status mnt >st-cs &&
	ssefs --json status mnt >st-cs.json &&
	tr "\0" " " </proc/$(jq -r .pid st-cs.json)/cmdline >argv-cs &&
	grep "mount" argv-cs &&
	tr "\0" "\n" </proc/$(jq -r .pid st-cs.json)/environ >env-cs &&
	ssefs_umount mnt &&
	ssefs vault audit >audit.txt &&
	ssefs --json vault audit >audit.json &&
	test -s audit.txt &&
	for f in st-* argv-* env-* mnt*.log audit.txt audit.json out err; do
		for secret in "$AZURITE_KEY" "$SIG" "$BADKEY" AccountKey "sig="; do
			if grep -F -q -e "$secret" "$f"; then
				echo "credential in $f: $secret"; return 1
			fi
		done || return 1
	done &&
	! grep -r -F -q -e "$AZURITE_KEY" -e "$SIG" "$SSEFS_VAULT"
'

test_expect_success 'stop Azurite' '
	azurite_stop
'

test_done
