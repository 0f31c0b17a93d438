#!/bin/sh

test_description='the Azure page-blob REST client (store/azblob) against Azurite'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh
. "$TEST_DIRECTORY"/lib-azurite.sh

azurite_need_tools
test_have_prereq AZURITE || { skip_all='no Azurite (make deps)'; test_done; }

azb () { "$AZB_TOOL" "$AZURITE_URL/con" "$@"; }

test_expect_success 'setup: Azurite on a free loopback port, a container' '
	azurite_start &&
	azb mkcontainer &&
	test_expect_code 1 azb mkcontainer 2>err &&
	grep "File exists: HTTP 409 ContainerAlreadyExists" err
'

test_expect_success 'a page blob: write pages, read them back' '
	azb create d.vhd 1048576 &&
	head -c 8192 /dev/urandom >x &&
	azb put d.vhd 4096 x &&
	azb read d.vhd 4096 8192 >y &&
	cmp x y &&
	azb ranges d.vhd >actual &&
	echo "4096 12287" >expect &&
	test_cmp expect actual &&
	azb props d.vhd >props &&
	grep "^length 1048576$" props &&
	grep "^page 1$" props &&
	test_expect_code 1 azb create-new d.vhd 4096 2>err &&
	grep "File exists: HTTP 409 BlobAlreadyExists" err &&
	azb create-new n.vhd 4096 &&
	azb delete n.vhd
'

test_expect_success AZCLI 'az storage blob download gets the same bytes' '
	az storage blob download -c con -n d.vhd -f az.out -o none 2>az.err &&
	test "$(stat -c %s az.out)" = 1048576 &&
	dd if=az.out bs=4096 skip=1 count=2 2>/dev/null | cmp - x &&
	head -c 4096 az.out | cmp - /dev/zero 2>&1 | grep -q EOF
'

test_expect_success 'clear and resize' '
	azb clear d.vhd 4096 4096 &&
	azb ranges d.vhd >actual &&
	echo "8192 12287" >expect &&
	test_cmp expect actual &&
	azb resize d.vhd 2097152 &&
	azb props d.vhd | grep "^length 2097152$" &&
	test_expect_code 1 azb put d.vhd 100 x 2>err &&
	grep "Invalid argument" err
'

test_expect_success 'leases: a second lease is EBUSY, writes need the id, break frees it' '
	azb lease-acquire d.vhd >lease &&
	test_expect_code 1 azb lease-acquire d.vhd 2>err &&
	grep "Device or resource busy: HTTP 409 LeaseAlreadyPresent" err &&
	test_expect_code 1 azb put d.vhd 0 x 2>err &&
	grep "Device or resource busy" err &&
	azb put d.vhd 0 x "$(cat lease)" &&
	azb lease-renew d.vhd "$(cat lease)" &&
	azb lease-break d.vhd &&
	azb lease-acquire d.vhd >lease2 &&
	azb lease-release d.vhd "$(cat lease2)" &&
	azb put d.vhd 0 x
'

test_expect_success 'If-Match: a stale ETag is refused' '
	azb props d.vhd | sed -n "s/^etag //p" >etag &&
	head -c 512 x >p512 &&
	azb put-if d.vhd 0 p512 "$(cat etag)" &&
	test_expect_code 1 azb put-if d.vhd 0 p512 "$(cat etag)" 2>err &&
	grep "Stale file handle: HTTP 412" err
'

test_expect_success 'snapshot, copy, list, delete' '
	azb snapshot d.vhd >snap &&
	azb clear d.vhd 0 12288 &&
	azb read d.vhd 0 8192 "$(cat snap)" | cmp - x &&
	azb copy d.vhd e.vhd &&
	azb list >actual &&
	printf "d.vhd 2097152 page\ne.vhd 2097152 page\n" >expect &&
	test_cmp expect actual &&
	azb delete e.vhd &&
	test_expect_code 1 azb props e.vhd 2>err &&
	grep "No such file or directory: HTTP 404" err
'

test_expect_success 'a prefix is a virtual folder' '
	"$AZB_TOOL" "$AZURITE_URL/con/sub/dir" create f.vhd 4096 &&
	"$AZB_TOOL" "$AZURITE_URL/con/sub/dir" list >actual &&
	echo "f.vhd 4096 page" >expect &&
	test_cmp expect actual &&
	azb list sub/ >actual &&
	echo "sub/dir/f.vhd 4096 page" >expect &&
	test_cmp expect actual
'

test_expect_success 'a wrong account key is EACCES, one line naming account and container' '
	(
		unset AZURE_STORAGE_CONNECTION_STRING &&
		AZURE_STORAGE_ACCOUNT=devstoreaccount1 &&
		AZURE_STORAGE_KEY=$(printf "%064d" 0 | base64 -w0) &&
		export AZURE_STORAGE_ACCOUNT AZURE_STORAGE_KEY &&
		test_expect_code 1 azb read d.vhd 0 512 2>err
	) &&
	test_line_count () { test "$(wc -l <"$3")" "$1" "$2"; } &&
	test_line_count = 1 err &&
	grep "Permission denied: HTTP 403.*(account devstoreaccount1, container con)$" err &&
	! grep "$AZURITE_KEY" err
'

test_expect_success 'credentials file: mode 0600 only' '
	(
		unset AZURE_STORAGE_CONNECTION_STRING &&
		echo "$AZURE_STORAGE_CONNECTION_STRING" >/dev/null &&
		printf "%s\n" "DefaultEndpointsProtocol=http;AccountName=$AZURITE_ACCOUNT;AccountKey=$AZURITE_KEY;BlobEndpoint=$AZURITE_URL" >creds &&
		chmod 0644 creds &&
		test_expect_code 1 env AZB_CREDENTIALS=creds "$AZB_TOOL" "$AZURITE_URL/con" props d.vhd 2>err &&
		grep "Operation not permitted (credentials file)" err &&
		chmod 0600 creds &&
		AZB_CREDENTIALS=creds "$AZB_TOOL" "$AZURITE_URL/con" props d.vhd
	)
'

test_expect_success 'plain http to a non-loopback host is refused' '
	test_expect_code 1 "$AZB_TOOL" http://192.0.2.1:10000/devstoreaccount1/con props d.vhd 2>err &&
	grep "Protocol error" err
'

test_expect_success AZCLI 'a SAS without write permission: reads work, writes are EACCES' '
	sas=$(az storage container generate-sas -n con --permissions r \
		--expiry 2099-01-01T00:00Z -o tsv 2>/dev/null) &&
	test -n "$sas" &&
	(
		unset AZURE_STORAGE_CONNECTION_STRING &&
		AZURE_STORAGE_SAS_TOKEN=$sas &&
		export AZURE_STORAGE_SAS_TOKEN &&
		azb read d.vhd 0 512 >/dev/null &&
		test_expect_code 1 azb put d.vhd 0 x 2>err &&
		grep "Permission denied: HTTP 403" err
	)
'

test_expect_success 'keep-alive: two requests, one connection' '
	azb stats d.vhd >stats &&
	grep "^requests 2$" stats &&
	grep "^connects 1$" stats
'

test_expect_success 'eight threads on one client: each reads back its own pages' '
	azb hammer h.vhd 8 >stats &&
	grep "^requests 65$" stats &&
	connects=$(sed -n "s/^connects //p" stats) &&
	echo "connects: $connects" >&3 &&
	test "$connects" -le 8 &&
	azb delete h.vhd
'

# A stand-in fails each request one way; the client retries until
# store_timeout (2 s here) and then says EIO, well before 2 s + a margin.
for mode in reset busy silent
do
	test_expect_success "a server that fails each request ($mode): retries, then EIO after store_timeout" '
		fault_server $mode &&
		test_when_finished fault_stop &&
		start=$(date +%s%N) &&
		fault=http://127.0.0.1:$FAULT_PORT/devstoreaccount1 &&
		test_expect_code 1 env AZB_TIMEOUT_MS=2000 \
			AZURE_STORAGE_CONNECTION_STRING="AccountName=$AZURITE_ACCOUNT;AccountKey=$AZURITE_KEY;BlobEndpoint=$fault" \
			"$AZB_TOOL" "$fault/con" \
			stats d.vhd >stats 2>err &&
		ms=$(( ($(date +%s%N) - start) / 1000000 )) &&
		echo "$mode: EIO after $ms ms, $(grep retries stats)" >&3 &&
		grep "Input/output error" err &&
		test $ms -ge 1900 && test $ms -lt 4000 &&
		if test $mode != silent
		then
			grep "^retries [2-9]" stats
		fi
	'
done

test_expect_success 'Azurite killed: retried until it is back' '
	azurite_kill &&
	AZB_TIMEOUT_MS=60000 azb stats d.vhd >stats &
	tool=$! &&
	sleep 2 &&
	azurite_start "$AZURITE_PORT" &&
	wait $tool &&
	grep "^retries [1-9]" stats
'

test_expect_success 'Azurite gone: EIO after store_timeout' '
	azurite_kill &&
	start=$(date +%s) &&
	test_expect_code 1 env AZB_TIMEOUT_MS=2000 "$AZB_TOOL" "$AZURITE_URL/con" props d.vhd 2>err &&
	grep "Input/output error" err &&
	test $(( $(date +%s) - start )) -lt 10
'

test_done
