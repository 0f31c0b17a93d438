#!/bin/sh

test_description='a page blob as a disk backing object (store/blobback) against Azurite'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh
. "$TEST_DIRECTORY"/lib-azurite.sh

BT=${BACKING_TOOL:-$(dirname "$SSEFS_BIN")/build/backing-tool}
[ -x "$BT" ] || BT=$(dirname "$SSEFS_BIN")/backing-tool
[ -x "$BT" ] || { skip_all="no backing-tool beside $SSEFS_BIN (make)"; test_done; }
AZB_TOOL=$(dirname "$BT")/azb-tool
test_have_prereq AZURITE || { skip_all='no Azurite (make deps)'; test_done; }

bt () { "$BT" "$@"; }
test_line_count () { test "$(wc -l <"$3")" "$1" "$2"; }

# the same calls on a file backing and on a blob: F and B
both () {
	cmd=$1 && shift &&
	bt "$cmd" file.vhd "$@" &&
	bt "$cmd" "$D" "$@"
}

test_expect_success 'setup: Azurite, a container, a blob and a file of 4 MiB' '
	azurite_start &&
	"$AZB_TOOL" "$AZURITE_URL/con" mkcontainer &&
	D=$AZURITE_URL/con/d.vhd &&
	bt create file.vhd 4194304 &&
	bt create "$D" 4194304 &&
	test_expect_code 1 bt create "$D" 4194304 2>err &&
	test_line_count = 1 err &&
	grep "^ssefs: $D: already exists$" err
'

test_expect_success 'write, read back, holes and past the end read zeros' '
	head -c 12288 /dev/urandom >x &&
	head -c 5000000 /dev/urandom >big &&
	both write 4096 x &&
	bt read "$D" 4096 12288 >y &&
	cmp x y &&
	bt read "$D" 0 4096 | cmp - file.vhd -n 4096 &&
	bt read "$D" 4194304 1024 >past &&
	test "$(wc -c <past)" = 1024 &&
	cmp past /dev/zero -n 1024 &&
	bt read "$D" 4193792 1024 | cmp - /dev/zero -n 1024
'

test_expect_success 'a write of more than 4 MiB is split, and grows the blob as a file grows' '
	both write 1048576 big &&
	bt size "$D" >actual &&
	echo 6048768 >expect &&
	test_cmp expect actual &&
	bt read "$D" 1048576 5000192 | head -c 5000000 | cmp - big
'

test_expect_success 'punch and ranges: what exists, merged and in order' '
	both punch 2097152 1048576 &&
	bt ranges "$D" >actual &&
	printf "4096 12288\n1048576 1048576\n3145728 2903040\n" >expect &&
	test_cmp expect actual &&
	bt read "$D" 2097152 4096 | cmp - /dev/zero -n 4096
'

test_expect_success 'resize both ways' '
	both resize 8388608 &&
	bt size "$D" | grep "^8388608$" &&
	both resize 7340032 &&
	bt size "$D" | grep "^7340032$"
'

test_expect_success AZCLI 'az storage blob download equals the file after the same calls' '
	az storage blob download -c con -n d.vhd -f az.vhd -o none 2>az.err &&
	cmp az.vhd file.vhd
'

test_expect_success 'the header under hdr_lock: ETag-conditional, then read back' '
	head -c 8192 /dev/urandom >hdr &&
	both hdr hdr &&
	bt read "$D" 0 8192 | cmp - hdr &&
	cmp file.vhd hdr -n 8192
'

test_expect_success 'the fingerprint stays until the blob is written' '
	bt fp "$D" >fp1 &&
	bt fp "$D" >fp2 &&
	test_cmp fp1 fp2 &&
	both write 1048576 x &&
	bt fp "$D" >fp3 &&
	! cmp fp1 fp3 &&
	test "$(cut -d" " -f2,3 fp1)" = "$(cut -d" " -f2,3 fp3)"
'

test_expect_success 'read-only: no write, no lease, no header lock (EBADF)' '
	test_expect_code 1 env BT_RDONLY=1 "$BT" write "$D" 0 x 2>err &&
	grep "^ssefs: $D: opened read-only$" err &&
	test_expect_code 1 env BT_RDONLY=1 "$BT" hold "$D" 1 2>err &&
	grep "^ssefs: $D: opened read-only$" err &&
	test_expect_code 1 env BT_RDONLY=1 "$BT" hdr "$D" hdr 2>err &&
	grep "^ssefs: $D: opened read-only$" err &&
	BT_RDONLY=1 "$BT" read "$D" 0 8192 | cmp - hdr
'

test_expect_success 'the store counts its requests and bytes' '
	bt stats "$D" >stats &&
	grep "^requests 3$" stats &&
	grep "^retries 0$" stats &&
	grep "^bytes_in 1024$" stats
'

test_expect_success 'copy between stores reads allocated ranges only and stays thin' '
	bt copy "$D" copy1.vhd 2>progress &&
	cmp copy1.vhd file.vhd &&
	tail -n 1 progress | grep "^copied 3968000 of 3968000$" &&
	bt copy file.vhd "$AZURITE_URL/con/c2.vhd" &&
	bt copy "$AZURITE_URL/con/c2.vhd" "$AZURITE_URL/con/c3.vhd" &&
	bt ranges "$AZURITE_URL/con/c3.vhd" >actual &&
	bt ranges "$D" >expect &&
	test_cmp expect actual &&
	bt read "$AZURITE_URL/con/c3.vhd" 0 7340032 | cmp - file.vhd
'

test_expect_success 'a thin 100 GiB blob copies in seconds' '
	bt create "$AZURITE_URL/con/t.vhd" 107374182400 &&
	bt write "$AZURITE_URL/con/t.vhd" 53687091200 x &&
	start=$(date +%s) &&
	bt copy "$AZURITE_URL/con/t.vhd" "$AZURITE_URL/con/t2.vhd" 2>progress &&
	test $(( $(date +%s) - start )) -lt 20 &&
	tail -n 1 progress | grep "^copied 12288 of 12288$" &&
	bt ranges "$AZURITE_URL/con/t2.vhd" >actual &&
	echo "53687091200 12288" >expect &&
	test_cmp expect actual &&
	bt delete "$AZURITE_URL/con/t.vhd" &&
	bt delete "$AZURITE_URL/con/t2.vhd"
'

test_expect_success 'the store listing: page blobs *.vhd directly under the prefix' '
	"$AZB_TOOL" "$AZURITE_URL/con" create notadisk.bin 512 &&
	"$AZB_TOOL" "$AZURITE_URL/con" create sub/deeper.vhd 512 &&
	bt create "$AZURITE_URL/con/sub/e.vhd" 1024 &&
	bt list "$AZURITE_URL/con" >actual &&
	printf "c2.vhd 7340032\nc3.vhd 7340032\nd.vhd 7340032\n" >expect &&
	test_cmp expect actual &&
	bt list "$AZURITE_URL/con/sub" >actual &&
	printf "deeper.vhd 512\ne.vhd 1024\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'one writer: a second hold_inuse is EBUSY, inuse says 1, the lease goes at close' '
	rm -f h1.out
	"$BT" hold "$D" 30 >h1.out 2>h1.err &
	h1=$! &&
	test_when_finished "kill $h1 2>/dev/null; wait $h1; true" &&
	for i in $(test_seq 100); do grep -q held h1.out 2>/dev/null && break; sleep 0.1; done &&
	grep -q held h1.out &&
	test_expect_code 1 bt hold "$D" 1 2>err &&
	grep "^ssefs: $D: in use: another host holds its lease (HTTP 409 LeaseAlreadyPresent)$" err &&
	bt inuse "$D" >actual &&
	echo 1 >expect &&
	test_cmp expect actual &&
	bt list "$AZURITE_URL/con" | grep "^d.vhd 7340032 leased$" &&
	kill -TERM $h1 &&
	wait $h1 &&
	bt inuse "$D" >actual &&
	echo 0 >expect &&
	test_cmp expect actual
'

test_expect_success 'one process, three leases, one renewer: all kept past the lease, all released' '
	for n in m1 m2 m3
	do
		bt create "$AZURITE_URL/con/$n.vhd" 4096 || return 1
	done
	rm -f h1.out
	BT_LEASE_SECONDS=15 "$BT" holdmany 20 "$AZURITE_URL/con/m1.vhd" \
		"$AZURITE_URL/con/m2.vhd" "$AZURITE_URL/con/m3.vhd" >h1.out 2>h1.err &
	h1=$! &&
	test_when_finished "kill $h1 2>/dev/null; wait $h1; true" &&
	for i in $(test_seq 100); do grep -q held h1.out 2>/dev/null && break; sleep 0.1; done &&
	test "$(ls /proc/$h1/task | wc -l)" = 2 &&
	sleep 17 &&
	for n in m1 m2 m3
	do
		test "$(bt inuse "$AZURITE_URL/con/$n.vhd")" = 1 || return 1
	done &&
	wait $h1 &&
	for n in m1 m2 m3
	do
		test "$(bt inuse "$AZURITE_URL/con/$n.vhd")" = 0 &&
		bt delete "$AZURITE_URL/con/$n.vhd" || return 1
	done
'

test_expect_success 'hdr_lock of another writer waits a while, then EBUSY' '
	rm -f h1.out
	"$BT" hold "$D" 30 >h1.out 2>h1.err &
	h1=$! &&
	test_when_finished "kill $h1 2>/dev/null; wait $h1; true" &&
	for i in $(test_seq 100); do grep -q held h1.out 2>/dev/null && break; sleep 0.1; done &&
	start=$(date +%s) &&
	test_expect_code 1 bt hdr "$D" hdr 2>err &&
	grep "^ssefs: $D: in use: another host holds its lease (HTTP 409 LeaseAlreadyPresent)$" err &&
	test $(( $(date +%s) - start )) -lt 15
'

test_expect_success 'the holder renews: kill -9 of it, then the lease lapses and another takes over' '
	rm -f h1.out
	BT_LEASE_SECONDS=15 "$BT" hold "$D" 60 >h1.out 2>h1.err &
	h1=$! &&
	test_when_finished "kill $h1 2>/dev/null; wait $h1; true" &&
	for i in $(test_seq 100); do grep -q held h1.out 2>/dev/null && break; sleep 0.1; done &&
	sleep 17 &&
	test_expect_code 1 bt hold "$D" 1 2>err &&
	grep "^ssefs: $D: in use: another host holds its lease (HTTP 409 LeaseAlreadyPresent)$" err &&
	kill -KILL $h1 &&
	test_expect_code 1 bt hold "$D" 1 &&
	start=$(date +%s) &&
	until bt hold "$D" 1 >h2.out 2>/dev/null
	do
		test $(( $(date +%s) - start )) -lt 25 || return 1
		sleep 1
	done &&
	elapsed=$(( $(date +%s) - start )) &&
	echo "taken over after ${elapsed}s" >&3 &&
	test $elapsed -ge 5 &&
	grep held h2.out
'

test_expect_success 'a wrong account key: one line naming the 403, account and container' '
	(
		unset AZURE_STORAGE_CONNECTION_STRING &&
		AZURE_STORAGE_ACCOUNT=$AZURITE_ACCOUNT &&
		AZURE_STORAGE_KEY=$(printf "%064d" 0 | base64 -w0) &&
		export AZURE_STORAGE_ACCOUNT AZURE_STORAGE_KEY &&
		test_expect_code 1 bt read "$D" 0 512 >out 2>err
	) &&
	test_line_count = 1 err &&
	grep "^ssefs: $D: access denied (HTTP 403 [A-Za-z]*): .*account devstoreaccount1, container con$" err &&
	! grep "$AZURITE_KEY" err
'

test_expect_success 'credentials: a file of mode 0644 is refused in one line; 0600 works' '
	(
		unset AZURE_STORAGE_CONNECTION_STRING &&
		printf "%s\n" "DefaultEndpointsProtocol=http;AccountName=$AZURITE_ACCOUNT;AccountKey=$AZURITE_KEY;BlobEndpoint=$AZURITE_URL" >creds &&
		chmod 0644 creds &&
		test_expect_code 1 env AZB_CREDENTIALS=creds "$BT" size "$D" 2>err &&
		test_line_count = 1 err &&
		grep "credentials file creds: mode 0644, owner $(id -u): it must be a regular file of mode 0600 owned by you or root$" err &&
		chmod 0600 creds &&
		AZB_CREDENTIALS=creds "$BT" size "$D"
	)
'

test_expect_success 'credentials: none, another endpoint, plain http off loopback' '
	(
		unset AZURE_STORAGE_CONNECTION_STRING &&
		test_expect_code 1 bt size "$D" 2>err &&
		grep "^ssefs: $AZURITE_URL/con: no credentials: set AZURE_STORAGE_SAS_TOKEN" err &&
		AZURE_STORAGE_CONNECTION_STRING="AccountName=$AZURITE_ACCOUNT;AccountKey=$AZURITE_KEY;BlobEndpoint=http://127.0.0.2:1/$AZURITE_ACCOUNT" &&
		export AZURE_STORAGE_CONNECTION_STRING &&
		test_expect_code 1 bt size "$D" 2>err &&
		grep "AZURE_STORAGE_CONNECTION_STRING names another account or endpoint than the URL$" err
	) &&
	test_expect_code 1 bt size http://192.0.2.1:10000/devstoreaccount1/con/d.vhd 2>err &&
	grep "plain http to a host that is not loopback" err &&
	test_expect_code 1 bt size http://127.0.0.1:1/x/con/d.vhd 2>err &&
	grep "not a container URL" err
'

test_expect_success AZCLI 'a SAS without write permission: reads work, writes and the lease are EACCES' '
	sas=$(az storage container generate-sas -n con --permissions r \
		--expiry 2099-01-01T00:00Z -o tsv 2>/dev/null) &&
	test -n "$sas" &&
	(
		unset AZURE_STORAGE_CONNECTION_STRING &&
		AZURE_STORAGE_SAS_TOKEN=$sas &&
		export AZURE_STORAGE_SAS_TOKEN &&
		bt read "$D" 0 16384 | cmp - file.vhd -n 16384 &&
		test_expect_code 1 bt write "$D" 0 x 2>err &&
		grep "^ssefs: $D: access denied (HTTP 403 [A-Za-z]*): check the key or SAS of account devstoreaccount1, container con$" err &&
		test_expect_code 1 bt hold "$D" 1 2>err &&
		grep "^ssefs: $D: access denied (HTTP 403 [A-Za-z]*): check the key or SAS of account devstoreaccount1, container con$" err
	)
'

test_expect_success AZCLI 'a SAS with every permission: the lease, the header and writes work' '
	sas=$(az storage container generate-sas -n con --permissions racwdl \
		--expiry 2099-01-01T00:00Z -o tsv 2>/dev/null) &&
	test -n "$sas" &&
	(
		unset AZURE_STORAGE_CONNECTION_STRING &&
		AZURE_STORAGE_SAS_TOKEN=$sas &&
		export AZURE_STORAGE_SAS_TOKEN &&
		bt hdr "$D" hdr &&
		bt hold "$D" 2 300 >out &&
		grep "^wrote [1-9]" out &&
		bt read "$D" 0 8192 | cmp - hdr
	)
'

test_expect_success AZCLI 'a lease broken by az: the holder'"'"'s writes fail with EIO, said once' '
	rm -f h1.out
	"$BT" hold "$D" 60 200 >h1.out 2>h1.err &
	h1=$! &&
	test_when_finished "kill $h1 2>/dev/null; wait $h1; true" &&
	for i in $(test_seq 100); do grep -q held h1.out 2>/dev/null && break; sleep 0.1; done &&
	az storage blob lease break -c con -b d.vhd --lease-break-period 0 -o none 2>az.err &&
	test_expect_code 1 wait $h1 &&
	grep "^wrote [1-9]" h1.out &&
	test "$(grep -c "lease lost" h1.err)" = 1 &&
	grep "^ssefs: $D: lease lost (HTTP 412 Lease[A-Za-z]*): another host may have taken the disk over; writes fail with EIO$" h1.err &&
	grep "^ssefs: $D: its lease was lost: another host may have taken the disk over$" h1.err &&
	bt hold "$D" 1 >h2.out &&
	grep held h2.out
'

# Azurite is stopped (SIGTERM) rather than killed: it keeps its metadata
# in memory and saves it every few seconds and at exit, so a SIGKILL loses
# what it acknowledged last, which says nothing about the client.
test_expect_success 'Azurite stopped mid-write and back: the writer retries, nothing acknowledged is lost' '
	head -c 16777216 /dev/urandom >w16 &&
	bt create "$AZURITE_URL/con/w.vhd" 16777216 || return 1
	: >log
	BT_TIMEOUT_MS=30000 "$BT" writelog "$AZURITE_URL/con/w.vhd" w16 262144 log 50 &
	w=$! &&
	test_when_finished "kill $w 2>/dev/null; wait $w; true" &&
	for i in $(test_seq 100); do test "$(wc -l <log)" -ge 8 && break; sleep 0.05; done &&
	azurite_stop &&
	n=$(wc -l <log) &&
	sleep 3 &&
	azurite_start "$AZURITE_PORT" &&
	wait $w &&
	echo "stopped after $n of 64 writes" >&3 &&
	test "$(wc -l <log)" = 64 &&
	bt read "$AZURITE_URL/con/w.vhd" 0 16777216 | cmp - w16
'

test_expect_success 'Azurite gone past store_timeout: EIO; what was acknowledged is there after restart' '
	head -c 16777216 /dev/urandom >w16b || return 1
	: >log2
	BT_TIMEOUT_MS=2000 "$BT" writelog "$AZURITE_URL/con/w.vhd" w16b 262144 log2 50 2>err &
	w=$! &&
	test_when_finished "kill $w 2>/dev/null; wait $w; true" &&
	for i in $(test_seq 100); do test "$(wc -l <log2)" -ge 8 && break; sleep 0.05; done &&
	azurite_stop &&
	test_expect_code 1 wait $w &&
	grep "^ssefs: $AZURITE_URL/con/w.vhd: store failed or unreachable (" err &&
	n=$(wc -l <log2) &&
	echo "EIO after $n acknowledged writes" >&3 &&
	azurite_start "$AZURITE_PORT" &&
	bytes=$(( n * 262144 )) &&
	bt read "$AZURITE_URL/con/w.vhd" 0 $bytes | cmp - w16b -n $bytes
'

test_expect_success 'delete: a leased blob stays, then goes' '
	rm -f h1.out
	"$BT" hold "$D" 30 >h1.out 2>h1.err &
	h1=$! &&
	test_when_finished "kill $h1 2>/dev/null; wait $h1; true" &&
	for i in $(test_seq 100); do grep -q held h1.out 2>/dev/null && break; sleep 0.1; done &&
	test_expect_code 1 bt delete "$D" 2>err &&
	grep "in use: another host holds its lease" err &&
	kill -TERM $h1 && wait $h1 &&
	bt delete "$D" &&
	test_expect_code 1 bt size "$D" 2>err &&
	grep "^ssefs: $D: no such disk" err
'

test_done
