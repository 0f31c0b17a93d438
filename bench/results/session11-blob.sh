#!/bin/bash
# bench/results/session11-blob.sh - the eleventh session's blob experiments
# (BENCHMARKS.md, "Eleventh session"), as root, each on its own Azurite:
#
#   session11-blob.sh read BIN...    per binary: a SIZE disk in a blob
#       container (caching None) laid out with 1 MiB writes, then REPS
#       times: fio's 1 MiB sequential read of it, `az storage blob
#       download` of the same page blob, and of a block blob of SIZE
#       random bytes; MB/s, and Azurite's CPU ticks (1/100 s) for the
#       first two
#   session11-blob.sh gets           curl's ranged Gets of such a disk's
#       blob, one at a time, of 256K 1M 2M 4M 6M 8M 16M 32M (GETS=...):
#       MB/s and Azurite's CPU ticks per size
#   session11-blob.sh writeback BIN...   per binary: a SIZE disk with
#       -o host_cache=DIR,caching=ReadWrite, laid out, 4 KiB random writes
#       for 6 s (fio, psync), then the seconds until `ssefs status` shows
#       nothing dirty (400 at most)
#
# SIZE (1G), REPS (3).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
AZURITE=$ROOT/tools/azurite/node_modules/.bin/azurite-blob
SIZE=${SIZE:-1G}
REPS=${REPS:-3}
BYTES=$(numfmt --from=iec "$SIZE")
# the emulator's public, documented development key (not a secret)
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

W= AZP=
stop() {
	[ -n "$W" ] || return 0
	fusermount3 -u "$W/m" 2>/dev/null && sleep 2
	kill "$AZP" 2>/dev/null
	wait "$AZP" 2>/dev/null
	rm -rf "$W"
	W=
}
trap stop EXIT

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# mbs CMD...: CMD's rate over BYTES, MB/s (10^6), its start-up included
mbs() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@" || return 1
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" -v n="$BYTES" 'BEGIN { printf "%.0f", n / (b - a) / 1e6 }'
}

# start BIN [MOUNT_OPTS]: Azurite, a vault, container "disks" with d.vhd laid
# out, mounted at $W/m by BIN
start() {
	local bin=$1 opts=${2:-} port
	W=$(mktemp -d /var/tmp/s11.XXXXXX)
	mkdir -p "$W/azurite" "$W/m" "$W/hc"
	port=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$AZURITE" --blobHost 127.0.0.1 --blobPort "$port" \
		--location "$W/azurite" --skipApiVersionCheck \
		--disableTelemetry --disableProductStyleUrl >"$W/az.out" 2>&1 &
	AZP=$!
	for _ in $(seq 300); do
		grep -q successfully "$W/az.out" && break
		sleep 0.1
	done
	URL=http://127.0.0.1:$port/devstoreaccount1
	export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$KEY;BlobEndpoint=$URL;"
	az storage container create -n disks -o none
	S=("$bin" --vault "$W/vault")
	"${S[@]}" vault init --name s11 >/dev/null
	"${S[@]}" disk create "$URL/disks/d.vhd" --size "$SIZE" >/dev/null
	"${S[@]}" mount "$URL/disks" "$W/m" -f ${opts:+-o "$opts"} >"$W/mount.log" 2>&1 &
	for _ in $(seq 300); do
		mountpoint -q "$W/m" && break
		sleep 0.1
	done
	mountpoint -q "$W/m" || { cat "$W/mount.log"; exit 1; }
	fio --name=layout --filename="$W/m/d.vhd" --size="$SIZE" --rw=write \
		--bs=1M --fallocate=none --end_fsync=1 --output-format=terse \
		>/dev/null
}

case ${1:-} in
read)
	shift
	for bin in "$@"; do
		start "$bin"
		head -c "$BYTES" /dev/urandom >"$W/rand"
		az storage container create -n yard -o none
		az storage blob upload -c yard -n r.bin -f "$W/rand" -o none \
			--only-show-errors --no-progress
		for ((r = 1; r <= REPS; r++)); do
			drop
			a0=$(ticks "$AZP")
			f=$(fio --name=r --filename="$W/m/d.vhd" --size="$SIZE" \
				--rw=read --bs=1M --ioengine=psync \
				--output-format=terse --terse-version=3 |
				awk -F';' '{ printf "%.0f", $7 * 1024 / 1e6 }')
			a1=$(ticks "$AZP")
			drop
			p=$(mbs az storage blob download -c disks -n d.vhd \
				-f "$W/dl" -o none --only-show-errors --no-progress)
			a2=$(ticks "$AZP")
			rm -f "$W/dl"
			drop
			b=$(mbs az storage blob download -c yard -n r.bin \
				-f "$W/dl" -o none --only-show-errors --no-progress)
			rm -f "$W/dl"
			echo "$bin rep $r: fio seq read $f MB/s (Azurite $((a1 - a0)) ticks)," \
			     "az of the page blob $p ($((a2 - a1)) ticks), az of a block blob $b"
		done
		stop
	done ;;
gets)
	start "$ROOT/ssefs"
	sas=$(az storage container generate-sas -n disks --permissions r \
		--expiry 2099-01-01 -o tsv)
	for g in ${GETS:-256K 1M 2M 4M 6M 8M 16M 32M}; do
		n=$(numfmt --from=iec "$g")
		: >"$W/curl.cfg"
		for ((i = 0; i < BYTES / n; i++)); do
			[ "$i" = 0 ] || echo next >>"$W/curl.cfg"
			printf 'url = "%s/disks/d.vhd?%s"\nheader = "Range: bytes=%d-%d"\nheader = "x-ms-version: 2021-08-06"\noutput = "/dev/null"\n' \
				"$URL" "$sas" $((i * n)) $((i * n + n - 1)) >>"$W/curl.cfg"
		done
		a0=$(ticks "$AZP")
		v=$(mbs curl -sf -K "$W/curl.cfg")
		echo "Gets of $g: $v MB/s, Azurite $(( $(ticks "$AZP") - a0 )) ticks"
	done ;;
writeback)
	shift
	for bin in "$@"; do
		start "$bin" "host_cache=/var/tmp/s11hc.$$,caching=ReadWrite"
		iops=$(fio --name=w --filename="$W/m/d.vhd" --size="$SIZE" \
			--rw=randwrite --bs=4k --time_based --runtime=6 \
			--ioengine=psync --norandommap --randrepeat=0 \
			--output-format=terse --terse-version=3 |
			awk -F';' '{ print $49 }')
		dirty() { "${S[@]}" --json status "$W/m" | jq -r '.hostCacheStats.dirty // 0'; }
		d0=$(dirty)
		t0=$(date +%s)
		while d=$(dirty) && [ "$d" != 0 ] && [ $(( $(date +%s) - t0 )) -lt 400 ]; do
			sleep 0.5
		done
		echo "$bin: $iops IOPS; $d0 dirty, $d left after $(( $(date +%s) - t0 )) s"
		stop
		rm -rf "/var/tmp/s11hc.$$"
	done ;;
*)
	sed -n '2,/^set -u/p' "$0" | sed '$d'
	exit 2 ;;
esac
