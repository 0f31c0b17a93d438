#!/bin/bash

test_description='a mounted blob store (Azurite) under faults: the service stopped mid-write, a read-only SAS, revocation, encryption at host'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh
. "$TEST_DIRECTORY"/lib-azurite.sh

azurite_need_tools
test_have_prereq AZURITE || { skip_all='no Azurite (make deps)'; test_done; }
test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq JQ || { skip_all='no jq'; test_done; }

CANARY="SSEFS-T7104-CANARY-$$-$(date +%s)"

# writer DISK SRC LOG CHUNK: write SRC into DISK (a file of the mount) in
# CHUNK-byte pieces, each followed by fsync and a pause of 50 ms (so that
# the service can be stopped mid-way on a fast machine); LOG gets one line per
# acknowledged piece, then "done" or "error ERRNO-NAME" (of write or
# fsync).  Exits 0 on done, 1 on error.
writer () {
	python3 - "$@" <<-\EOF
	import errno, os, sys, time
	disk, src, log, chunk = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
	data = open(src, "rb").read()
	out = open(log, "a", buffering=1)
	fd = os.open(disk, os.O_WRONLY)
	try:
	    for off in range(0, len(data), chunk):
	        os.pwrite(fd, data[off:off + chunk], off)
	        os.fsync(fd)
	        out.write("%d\n" % off)
	        time.sleep(0.05)
	except OSError as e:
	    out.write("error %s\n" % errno.errorcode.get(e.errno, e.errno))
	    sys.exit(1)
	out.write("done\n")
	EOF
}

acked () { grep -c "^[0-9]" "$1"; }
# some_acked LOG: wait (10 s at most) until the writer has 6 pieces acked
some_acked () {
	local i
	for i in $(test_seq 200); do
		test "$(acked "$1")" -ge 6 && return 0
		sleep 0.05
	done
	return 0
}

# blob_hits NAME...: how many times the canary is in the blobs
blob_hits () {
	local n=0 b
	for b in "$@"; do
		"$BT" read "$C/$b" 0 $("$BT" size "$C/$b") >blob.raw || return 1
		n=$((n + $(count_string "$CANARY" blob.raw)))
	done
	echo $n
}

test_expect_success 'setup: vault, a key and a set, Azurite, a container with disks' '
	ssefs_setup_vault &&
	ssefs key create k1 --size 2048 >kid1 &&
	ssefs des create des1 --key k1 >/dev/null &&
	azurite_start &&
	"$AZB_TOOL" "$AZURITE_URL/con" mkcontainer &&
	C=$AZURITE_URL/con &&
	ssefs disk create "$C/w.vhd" --size 16M >/dev/null &&
	ssefs disk create "$C/d.vhd" --size 16M --des des1 >/dev/null &&
	ssefs disk create "$C/e.vhd" --size 16M >/dev/null &&
	head -c 8388608 /dev/urandom >w8 &&
	mkdir mnt
'

# Azurite is stopped with SIGTERM (azurite_stop), not SIGKILL: it keeps
# its metadata in memory and saves it at exit, so a SIGKILL would lose
# what it acknowledged last, which says nothing about ssefs.
test_expect_success 'Azurite stopped mid-write and back within store_timeout: the writes complete' '
	test_when_finished "fusermount3 -uz mnt 2>/dev/null; true" &&
	ssefs_mount "$C" mnt store_timeout=60s &&
	: >log1 &&
	writer mnt/w.vhd w8 log1 262144 &
	w=$! &&
	some_acked log1 &&
	azurite_stop &&
	n=$(acked log1) &&
	sleep 4 &&
	azurite_start "$AZURITE_PORT" &&
	wait $w &&
	echo "stopped after $n of 32 writes" >&3 &&
	test $n -lt 32 &&
	tail -n1 log1 | grep -x done &&
	test "$(acked log1)" = 32 &&
	echo 3 >/proc/sys/vm/drop_caches &&
	cmp -n 8388608 w8 mnt/w.vhd &&
	ssefs_umount mnt
'

test_expect_success 'past store_timeout: the writer gets EIO; what fsync acknowledged is there after restart and remount' '
	head -c 8388608 /dev/urandom >w8b &&
	test_when_finished "fusermount3 -uz mnt 2>/dev/null; true" &&
	ssefs_mount "$C" mnt store_timeout=3s &&
	: >log2 &&
	writer mnt/w.vhd w8b log2 262144 &
	w=$! &&
	some_acked log2 &&
	azurite_stop &&
	test_expect_code 1 wait $w &&
	tail -n1 log2 | grep -x "error EIO" &&
	n=$(acked log2) &&
	echo "EIO after $n acknowledged writes" >&3 &&
	azurite_start "$AZURITE_PORT" &&
	ssefs_umount mnt &&
	ssefs_mount "$C" mnt &&
	bytes=$(( n * 262144 )) &&
	cmp -n $bytes w8b mnt/w.vhd &&
	ssefs_umount mnt
'

test_expect_success 'Azurite gone for longer than the lease, within store_timeout: the writes complete, the data is intact' '
	test_when_finished "fusermount3 -uz mnt 2>/dev/null; true" &&
	ssefs_mount "$C" mnt store_timeout=90s,x-ssefs-lease=15s &&
	: >log3 &&
	writer mnt/w.vhd w8 log3 262144 &
	w=$! &&
	some_acked log3 &&
	azurite_stop &&
	n=$(acked log3) &&
	sleep 20 &&
	azurite_start "$AZURITE_PORT" &&
	wait $w &&
	echo "stopped 20 s after $n of 32 writes" >&3 &&
	cat mnt.log >&3 &&
	test "$(acked log3)" = 32 &&
	! grep "lease lost" mnt.log &&
	echo 3 >/proc/sys/vm/drop_caches &&
	cmp -n 8388608 w8 mnt/w.vhd &&
	ssefs_umount mnt
'

# lapse [write]: stop the daemon of mnt (SIGSTOP) until its 15 s lease
# lapses and another party can take it; that party lets it go again, and
# with "write" writes a page of w.vhd first.  The daemon goes on after.
# (No fd of the mount in this shell meanwhile: a close would wait for the
# stopped daemon.)
lapse () {
	local pid id= r=1
	pid=$(ssefs --json status mnt | jq -r .pid) &&
	test -n "$pid" &&
	kill -STOP $pid || return 1
	for i in $(test_seq 40); do
		id=$("$AZB_TOOL" "$C" lease-acquire w.vhd 2>/dev/null) && break
		sleep 1
	done
	if test -n "$id"
	then
		r=0
		if test "$1" = write
		then
			head -c 4096 /dev/urandom >page &&
			"$AZB_TOOL" "$C" put w.vhd 12582912 page "$id" || r=1
		fi
		"$AZB_TOOL" "$C" lease-release w.vhd "$id" || r=1
	fi
	kill -CONT $pid
	return $r
}

# hold: keep mnt/w.vhd open for writing (its lease held) in a process of
# its own until it is killed
hold () {
	python3 -c "import os, time; fd = os.open(\"mnt/w.vhd\", os.O_RDWR); open(\"held\", \"w\").close(); time.sleep(300)" &
	holder=$!
	for i in $(test_seq 100); do test -e held && return 0; sleep 0.1; done
	return 1
}

test_expect_success 'the lease lapsed while the daemon could not renew it, and no one wrote: taken again, writes go on' '
	rm -f held &&
	test_when_finished "kill \$holder 2>/dev/null; fusermount3 -uz mnt 2>/dev/null; true" &&
	ssefs_mount "$C" mnt x-ssefs-lease=15s &&
	hold &&
	dd if=w8 of=mnt/w.vhd bs=64k count=1 conv=notrunc,fsync 2>/dev/null &&
	lapse &&
	dd if=w8 of=mnt/w.vhd bs=64k skip=1 seek=1 count=1 conv=notrunc,fsync &&
	grep "lease gone after the store was unreachable; taken again" mnt.log &&
	! grep "lease lost" mnt.log &&
	kill $holder && wait $holder;
	echo 3 >/proc/sys/vm/drop_caches &&
	cmp -n 131072 w8 mnt/w.vhd &&
	ssefs_umount mnt
'

test_expect_success 'the lease lapsed and another party wrote meanwhile: not taken again, writes fail with EIO' '
	rm -f held &&
	test_when_finished "kill \$holder 2>/dev/null; fusermount3 -uz mnt 2>/dev/null; true" &&
	ssefs_mount "$C" mnt x-ssefs-lease=15s &&
	hold &&
	dd if=w8 of=mnt/w.vhd bs=64k count=1 conv=notrunc,fsync 2>/dev/null &&
	lapse write &&
	test_must_fail dd if=w8 of=mnt/w.vhd bs=64k skip=1 seek=1 count=1 conv=notrunc,fsync 2>err &&
	grep "Input/output error" err &&
	grep "lease lost" mnt.log &&
	! grep "taken again" mnt.log &&
	kill $holder && wait $holder;
	ssefs_umount mnt
'

test_expect_success AZCLI 'a SAS without write permission: reads work, writes fail with EACCES, one line naming the account and container' '
	sas=$(az storage container generate-sas -n con --permissions rl \
		--expiry 2099-01-01T00:00Z -o tsv 2>/dev/null) &&
	test -n "$sas" &&
	mkdir -p mro &&
	test_when_finished "fusermount3 -uz mro 2>/dev/null; true" &&
	conn=$AZURE_STORAGE_CONNECTION_STRING &&
	unset AZURE_STORAGE_CONNECTION_STRING &&
	export AZURE_STORAGE_SAS_TOKEN="$sas" &&
	ssefs_mount "$C" mro;
	r=$?;
	unset AZURE_STORAGE_SAS_TOKEN;
	export AZURE_STORAGE_CONNECTION_STRING="$conn";
	test $r = 0 &&
	cmp -n 4194304 w8 mro/w.vhd &&
	test_must_fail python3 -c "import os; os.open(\"mro/w.vhd\", os.O_WRONLY)" 2>err &&
	grep "Permission denied" err &&
	test_must_fail python3 -c "import os; os.open(\"mro/e.vhd\", os.O_RDWR)" 2>err &&
	grep "Permission denied" err &&
	cmp -n 4194304 w8 mro/w.vhd &&
	grep "account devstoreaccount1, container con" mro.log >lines &&
	test "$(wc -l <lines)" = 1 &&
	! grep -F "$sas" mro.log &&
	ssefs_umount mro &&
	cat mro.log
'

test_expect_success 'revocation: a disabled key stops I/O on the blob disk, re-enabled resumes it' '
	test_when_finished "exec 7<&-; fusermount3 -uz mnt 2>/dev/null; true" &&
	ssefs_mount "$C" mnt "key_check_interval=1s,revoke_grace=2s" &&
	head -c 1048576 /dev/urandom >want &&
	dd if=want of=mnt/d.vhd bs=1M conv=notrunc,fsync 2>/dev/null &&
	exec 7<mnt/d.vhd &&
	read_first_mib got && cmp got want &&
	test "$(disk_state)" = ok &&
	ssefs key set k1 --enabled false &&
	wait_for revoked &&
	test_must_fail dd if=want of=mnt/d.vhd bs=4096 count=1 conv=notrunc,fsync 2>err &&
	grep -q "Key has been revoked" err &&
	ssefs key set k1 --enabled true &&
	wait_for resumed &&
	dd if=want of=mnt/d.vhd bs=1M seek=2 conv=notrunc,fsync 2>/dev/null &&
	exec 7<&- &&
	ssefs_umount mnt &&
	ssefs disk export "$C/d.vhd" d.out &&
	dd if=d.out bs=1M skip=2 count=1 2>/dev/null | cmp - want
'

for eah in on off
do
	test_expect_success "encryption at host $eah, caching=ReadWrite on a blob store: no plaintext in any blob$(test $eah = on && echo ' or the cache')" '
		rm -rf hc && mkdir -m 0700 hc &&
		python3 -c "
import sys
with open(sys.argv[2], \"wb\") as f:
    for i in range(1024):
        f.write((sys.argv[1] + \"-%04d\\n\" % i).encode().ljust(4096, b\".\"))
" "$CANARY" canary &&
		test_when_finished "fusermount3 -uz mnt 2>/dev/null; true" &&
		ssefs_mount "$C" mnt "host_cache=$PWD/hc,caching=ReadWrite,cache_size=8M,encryption_at_host='$eah'" &&
		dd if=canary of=mnt/e.vhd bs=1M conv=notrunc,fsync status=none &&
		echo 3 >/proc/sys/vm/drop_caches &&
		cmp -n 4194304 canary mnt/e.vhd &&
		ssefs --json status mnt >st.json &&
		test "$(jq -r .encryptionAtHost st.json)" = "$(test '$eah' = on && echo true || echo false)" &&
		incache=$(count_string "$CANARY" hc) &&
		echo "canary in the cache: $incache" >&3 &&
		if test '$eah' = on
		then
			test "$incache" = 0
		else
			test "$incache" -ge 1024	# the test can see it
		fi &&
		test "$(blob_hits e.vhd d.vhd w.vhd)" = 0 &&
		ssefs_umount mnt &&
		test "$(blob_hits e.vhd)" = 0 &&
		ssefs_mount "$C" mnt &&
		cmp -n 4194304 canary mnt/e.vhd &&
		ssefs_umount mnt
	'
done

test_expect_success 'stop Azurite' '
	azurite_stop
'

test_done
