#!/bin/sh

test_description='disk snapshot with a blob store on either side, and a blob store'"'"'s credentials from the config file (Azurite)'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh
. "$TEST_DIRECTORY"/lib-azurite.sh

azurite_need_tools
test_have_prereq AZURITE || { skip_all='no Azurite (make deps)'; test_done; }
test_have_prereq JQ || { skip_all='no jq'; test_done; }

uuid () { ssefs --json disk show "$1" | jq -r .uuid; }
# same_data OUT: an export of a copy of s.vhd holds its data (the VHD
# footer after it names each disk by its own UUID)
same_data () { head -c 4194304 "$1" | cmp - img; }

test_expect_success 'setup: vault, key, Azurite, a container, a disk with data' '
	ssefs_setup_vault &&
	ssefs key create k1 --size 2048 >/dev/null &&
	mkdir store &&
	azurite_start &&
	"$AZB_TOOL" "$AZURITE_URL/con" mkcontainer &&
	C=$AZURITE_URL/con &&
	head -c 3145728 /dev/urandom >img &&
	printf "CANARY-7106-%s" "$(date +%s)" >canary &&
	cat canary >>img &&
	head -c $((1048576 - $(wc -c <canary))) /dev/zero >>img &&
	ssefs disk import img "$C/s.vhd" --key k1 >/dev/null &&
	ssefs disk export "$C/s.vhd" s.out &&
	head -c 4194304 s.out | cmp - img
'

test_expect_success 'snapshot URL -> URL: the same data, a disk of its own, thin, a progress line' '
	ssefs --progress disk snapshot "$C/s.vhd" "$C/s2.vhd" >show 2>progress &&
	grep "^path: *$C/s2.vhd$" show &&
	grep "snapshot: .* 100%" progress &&
	ssefs disk export "$C/s2.vhd" s2.out &&
	same_data s2.out &&
	test "$(uuid "$C/s.vhd")" != "$(uuid "$C/s2.vhd")" &&
	ssefs disk verify "$C/s2.vhd" >verify &&
	grep "^result: *ok$" verify &&
	ssefs --json disk show "$C/s2.vhd" >s2.json &&
	test "$(jq -r .allocatedBytes s2.json)" -lt 8388608 &&
	"$BT" read "$C/s2.vhd" 0 $("$BT" size "$C/s2.vhd") >s2.raw &&
	! grep -q "$(cat canary)" s2.raw
'

test_expect_success 'snapshot URL -> directory and directory -> URL' '
	ssefs disk snapshot "$C/s.vhd" store/s3.vhd >/dev/null &&
	ssefs disk export store/s3.vhd s3.out &&
	same_data s3.out &&
	test $(du -k store/s3.vhd | cut -f1) -lt 8192 &&
	test "$(uuid "$C/s.vhd")" != "$(uuid store/s3.vhd)" &&
	ssefs disk snapshot store/s3.vhd "$C/s4.vhd" >/dev/null &&
	ssefs disk export "$C/s4.vhd" s4.out &&
	same_data s4.out &&
	test "$(uuid store/s3.vhd)" != "$(uuid "$C/s4.vhd")" &&
	ssefs disk verify "$C/s4.vhd" >/dev/null
'

test_expect_success 'a thin 100 GiB blob disk snapshots in seconds' '
	ssefs disk create "$C/big.vhd" --size 100G >/dev/null &&
	start=$(date +%s) &&
	ssefs disk snapshot "$C/big.vhd" "$C/big2.vhd" >/dev/null &&
	test $(( $(date +%s) - start )) -lt 20 &&
	ssefs --json disk show "$C/big2.vhd" >big2.json &&
	test "$(jq -r .allocatedBytes big2.json)" -lt 2097152 &&
	ssefs disk verify "$C/big2.vhd" >/dev/null
'

test_expect_success AZCLI 'az storage blob download of the snapshot: a file a directory store reads the same from' '
	mkdir dstore &&
	az storage blob download -c con -n s2.vhd -f dstore/s2.vhd -o none 2>az.err &&
	cmp dstore/s2.vhd s2.raw &&
	az storage blob show -c con -n s2.vhd -o json >s2.az &&
	test "$(jq -r .properties.blobType s2.az)" = PageBlob &&
	ssefs disk export dstore/s2.vhd d2.out &&
	same_data d2.out
'

test_expect_success 'snapshot refuses a source a mount holds, and an existing DEST, in one line' '
	BT_LEASE_SECONDS=15 "$BT" holdmany 20 "$C/s.vhd" >held &
	hold=$! &&
	for i in $(test_seq 100); do test -s held && break; sleep 0.1; done &&
	test_expect_code 1 ssefs disk snapshot "$C/s.vhd" "$C/s5.vhd" 2>err &&
	test "$(wc -l <err)" = 1 &&
	grep "^ssefs: disk $C/s.vhd: in use by a mount" err &&
	test_expect_code 1 ssefs disk snapshot "$C/s.vhd" store/s5.vhd 2>err &&
	test "$(wc -l <err)" = 1 &&
	grep "^ssefs: disk $C/s.vhd: in use by a mount" err &&
	kill $hold && wait $hold;
	! test -e store/s5.vhd &&
	! "$BT" size "$C/s5.vhd" 2>/dev/null &&
	test_expect_code 1 ssefs disk snapshot "$C/s.vhd" "$C/s2.vhd" 2>err &&
	test "$(wc -l <err)" = 1 &&
	grep "^ssefs: disk $C/s2.vhd: already exists$" err &&
	ssefs disk export "$C/s2.vhd" s2b.out &&
	same_data s2b.out
'

test_expect_success 'while a snapshot copies, the source is leased: a mount cannot open it' '
	ssefs disk create "$C/m.vhd" --size 1G >/dev/null &&
	head -c 64M /dev/urandom >big.img &&
	ssefs disk import big.img "$C/m2.vhd" >/dev/null &&
	ssefs disk snapshot "$C/m2.vhd" store/m2.vhd >/dev/null 2>&1 &
	snap=$! &&
	seen= &&
	for i in $(test_seq 200); do
		if "$AZB_TOOL" "$C" props m2.vhd 2>/dev/null | grep -q "^lease 1$"; then
			seen=1; break
		fi
		kill -0 $snap 2>/dev/null || break
		sleep 0.05
	done &&
	wait $snap &&
	test -n "$seen" &&
	ssefs disk export store/m2.vhd m2.out &&
	head -c 67108864 m2.out | cmp - big.img
'

# --- credentials from the config file -------------------------------

test_expect_success 'setup: a second container, a connection string in a 0600 file, a config naming it' '
	"$AZB_TOOL" "$AZURITE_URL/cfg" mkcontainer &&
	D=$AZURITE_URL/cfg &&
	(umask 077 && printf "%s\n" "$AZURE_STORAGE_CONNECTION_STRING" >conn) &&
	cat >config.yaml <<-EOF &&
	stores:
	  "$D/":
	    credentials: $PWD/conn
	EOF
	printf "%s\n" "$AZURE_STORAGE_CONNECTION_STRING" >saved-conn
'

# every command below runs with no AZURE_* variable set
noenv () {
	env -u AZURE_STORAGE_CONNECTION_STRING -u AZURE_STORAGE_SAS_TOKEN \
	    -u AZURE_STORAGE_ACCOUNT -u AZURE_STORAGE_KEY "$SSEFS_BIN" "$@"
}

test_expect_success 'without the config, no credentials: one line' '
	test_expect_code 1 noenv disk show "$D/c.vhd" 2>err &&
	test "$(wc -l <err)" = 1 &&
	grep "no credentials" err
'

test_expect_success 'disk create, show, verify, rewrap, export, import, snapshot, copy find the stores: entry' '
	noenv --config config.yaml disk create "$D/c.vhd" --size 8M --key k1 >/dev/null &&
	noenv --config config.yaml disk show "$D/c.vhd" >show &&
	grep "^path: *$D/c.vhd$" show &&
	noenv --config config.yaml disk verify "$D/c.vhd" >/dev/null &&
	ssefs key rotate k1 >/dev/null &&
	noenv --config config.yaml disk rewrap "$D/c.vhd" >rw &&
	grep " -> " rw &&
	noenv --config config.yaml disk import img "$D/i.vhd" --key k1 >/dev/null &&
	noenv --config config.yaml disk export "$D/i.vhd" ci.out &&
	same_data ci.out &&
	noenv --config config.yaml disk snapshot "$D/i.vhd" "$D/i2.vhd" >/dev/null &&
	noenv --config config.yaml disk copy "$D/i2.vhd" store/i3.vhd >/dev/null &&
	noenv --config config.yaml disk copy store/i3.vhd "$D/i4.vhd" >/dev/null &&
	noenv --config config.yaml disk export "$D/i4.vhd" ci4.out &&
	same_data ci4.out
'

test_expect_success 'rotate URL finds the stores: entry' '
	ssefs des create cs --key k1 --auto-rotate >/dev/null &&
	noenv --config config.yaml disk create "$D/r.vhd" --size 1M --des cs >/dev/null &&
	ssefs key rotate k1 >/dev/null &&
	noenv --config config.yaml rotate "$D" >out &&
	grep "^disk $D/r.vhd: .* -> " out
'

test_expect_success 'a credentials file other users may read is refused in one line' '
	chmod 0644 conn &&
	test_expect_code 1 noenv --config config.yaml disk show "$D/c.vhd" 2>err;
	chmod 0600 conn &&
	test "$(wc -l <err)" = 1 &&
	grep "credentials file $PWD/conn: mode 0644" err
'

test_expect_success 'the environment comes first: a wrong key in it wins over the file' '
	bad=$(sed "s|AccountKey=[^;]*|AccountKey=$(head -c 64 /dev/urandom | base64 -w0)|" saved-conn) &&
	test_expect_code 1 env AZURE_STORAGE_CONNECTION_STRING="$bad" \
		"$SSEFS_BIN" --config config.yaml disk show "$D/c.vhd" 2>err &&
	grep "access denied" err
'

test_expect_success FUSE 'mount finds the stores: entry too' '
	bg_mount m m.log env -u AZURE_STORAGE_CONNECTION_STRING \
		"$SSEFS_BIN" --config config.yaml mount -f "$D" m &&
	ls m >list &&
	grep "^c.vhd$" list &&
	printf "through the config\n" >one &&
	dd if=one of=m/c.vhd bs=4096 conv=notrunc,fsync 2>/dev/null &&
	head -c $(wc -c <one) m/c.vhd | cmp - one &&
	fusermount3 -u m &&
	wait $BG_PID
'

test_expect_success 'stop Azurite' '
	azurite_stop
'

test_done
