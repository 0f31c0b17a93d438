#!/bin/bash
# bench/blob.sh - blob stores against the directory store and az (issue 16).
#
#   make bench-blob    (as root, under ~12 minutes)
#
# Azurite (tools/azurite, as tests/t/lib-azurite.sh starts it: a free
# loopback port, a private data folder, stopped at the end), one vault and
# three 1 GiB disks, each in its own mount:
#   dir        a directory store, default options
#   blob-none  a container in Azurite, no host cache (caching=None)
#   blob-rw    another container, -o host_cache=DIR,caching=ReadWrite
# fio on each mount's plaintext d.vhd with bench/run.sh's arguments (seq
# write 1 MiB with end_fsync, seq read 1 MiB, rand write 4 KiB, rand read
# 4 KiB; psync, iodepth 1), caches dropped before every run; and the
# yardstick of the sequential jobs, `az storage blob upload` and `download`
# of a file of random bytes of the same size to the same Azurite, timed
# from the command's start to its end (az's own start-up included).
# Every repetition runs every job on every target in turn; medians.
# Before every run, blob-rw's host cache is let write back what the
# previous run left dirty (random writes end without fsync): otherwise
# that write-back, on the same Azurite, is measured in the next runs of
# every target.
#
# Knobs (environment): SSEFS_BIN, REPS (3), RUNTIME (5, rand jobs, after
# RAMP 1), SEQ_RUNTIME (8: seq jobs stop there or at the end of the file),
# SIZE (1G: the disks, fio's file and az's file), BLOB_OPTS (more mount
# options for both blob targets, e.g. readahead=8M), JOBS (a subset of
# seqwrite seqread randwrite randread), FIO_TIMEOUT (120: a fio run still
# going then has its daemon killed, and that target sits out the rest of
# the run, NA), BENCH_DIR (/var/tmp),
# AZURITE_BIN.  Prints one line per run, then a Markdown table of medians
# and ratios (also left in $BENCH_OUT if set).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SSEFS_BIN=${SSEFS_BIN:-$ROOT/ssefs}
AZURITE_BIN=${AZURITE_BIN:-$ROOT/tools/azurite/node_modules/.bin/azurite-blob}
REPS=${REPS:-3}
RUNTIME=${RUNTIME:-5}
RAMP=${RAMP:-1}
SEQ_RUNTIME=${SEQ_RUNTIME:-8}
SIZE=${SIZE:-1G}
JOBS=${JOBS:-seqwrite seqread randread randwrite}
FIO_TIMEOUT=${FIO_TIMEOUT:-120}
T_START=$(date +%s)

say() { printf 'bench-blob: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (drop_caches, mount)"
[ -x "$SSEFS_BIN" ] || die "no ssefs binary at $SSEFS_BIN (make)"
[ -x "$AZURITE_BIN" ] || die "no Azurite at $AZURITE_BIN (make deps)"
for c in fio az node python3; do
	command -v $c >/dev/null || die "$c is missing (make deps)"
done

WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/ssefs-blob.XXXXXX") ||
	die "cannot make a scratch directory"
MOUNTS=() PIDS=() AZ_PID=
cleanup() {
	local i
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		fusermount3 -u "${MOUNTS[i]}" 2>/dev/null ||
			umount -l "${MOUNTS[i]}" 2>/dev/null
	done
	# the daemons write back and release their leases before Azurite goes
	for i in "${PIDS[@]}"; do
		for _ in $(seq 100); do
			kill -0 "$i" 2>/dev/null || break
			sleep 0.1
		done
		kill "$i" 2>/dev/null
	done
	if [ -n "$AZ_PID" ]; then
		kill "$AZ_PID" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$AZ_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$AZ_PID" 2>/dev/null
		wait "$AZ_PID" 2>/dev/null
	fi
	grep -q " $WORK/" /proc/mounts || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say "scratch directory $WORK"

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
# what else ran: the busiest processes over 2 s at the start
top -b -n 2 -d 2 -w 120 | awk '/^ *PID/ { n++; next } n == 2 && NF' |
	head -8 | awk '{ printf "%s%% %s\n", $9, $12 }' >"$WORK/others"

# ------------------------------------------------------------- Azurite
port=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$WORK/azurite"
"$AZURITE_BIN" --blobHost 127.0.0.1 --blobPort "$port" \
	--location "$WORK/azurite" --skipApiVersionCheck --disableTelemetry \
	--disableProductStyleUrl >"$WORK/azurite.out" 2>&1 &
AZ_PID=$!
for _ in $(seq 600); do
	grep -q 'successfully listens' "$WORK/azurite.out" && break
	kill -0 "$AZ_PID" 2>/dev/null || break
	sleep 0.1
done
grep -q 'successfully listens' "$WORK/azurite.out" ||
	die "Azurite did not start: $(tail -1 "$WORK/azurite.out")"
ACCOUNT=devstoreaccount1
# the emulator's public, documented development key (not a secret)
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
URL=http://127.0.0.1:$port/$ACCOUNT
AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=$ACCOUNT;AccountKey=$KEY;BlobEndpoint=$URL;"
export AZURE_STORAGE_CONNECTION_STRING
for c in cnone crw yard; do
	az storage container create -n "$c" -o none 2>>"$WORK/az.err" ||
		die "az storage container create $c: $(tail -1 "$WORK/az.err")"
done

# ------------------------------------------------------------- targets
wait_mount() {
	local i
	for ((i = 0; i < 600; i++)); do
		mountpoint -q "$1" && return 0
		sleep 0.05
	done
	return 1
}
ssefs() { "$SSEFS_BIN" --vault "$WORK/vault" "$@"; }
ssefs vault init --name blobbench >/dev/null || die "vault init"

declare -A TFILE TPID DEAD
TARGETS=(dir blob-none blob-rw)
# mount_target NAME STORE [OPTS]: a SIZE disk d.vhd in STORE, mounted
mount_target() {
	local t=$1 store=$2 opts=${3:-} m=$WORK/m_$1
	mkdir -p "$m"
	ssefs disk create "$store/d.vhd" --size "$SIZE" >/dev/null ||
		die "disk create in $store"
	# not through ssefs(): $! must be the daemon, not a subshell
	"$SSEFS_BIN" --vault "$WORK/vault" mount "$store" "$m" -f \
		${opts:+-o "$opts"} >"$WORK/$t.log" 2>&1 &
	PIDS+=("$!")
	TPID[$t]=$!
	wait_mount "$m" || die "$t did not mount: $(tail -1 "$WORK/$t.log")"
	MOUNTS+=("$m")
	TFILE[$t]=$m/d.vhd
}
mkdir -p "$WORK/dstore"
mount_target dir "$WORK/dstore"
mount_target blob-none "$URL/cnone" "${BLOB_OPTS:-}"
mount_target blob-rw "$URL/crw" "host_cache=$WORK/hc,caching=ReadWrite${BLOB_OPTS:+,$BLOB_OPTS}"

# lay every file out once (not measured), so each run overwrites
for t in "${TARGETS[@]}"; do
	fio --name=layout --filename="${TFILE[$t]}" --size="$SIZE" --rw=write \
		--bs=1M --fallocate=none --end_fsync=1 --output-format=terse \
		>/dev/null 2>>"$WORK/fio.err" || die "layout on $t failed"
done
say "laid out; $(( $(date +%s) - T_START )) s so far"

# ---------------------------------------------------------------- runs
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# settle: wait (up to FIO_TIMEOUT s) until no ReadWrite cache holds dirty
# sectors; says how long it took when it did
settle() {
	local t0=$(date +%s) d
	[ -n "${TPID[blob-rw]:-}" ] && [ -z "${DEAD[blob-rw]:-}" ] || return 0
	while d=$("$SSEFS_BIN" --json status "$WORK/m_blob-rw" 2>/dev/null |
		  jq -r '.hostCacheStats.dirty // 0') && [ "${d:-0}" != 0 ]; do
		[ $(( $(date +%s) - t0 )) -lt "$FIO_TIMEOUT" ] ||
			{ say "blob-rw still has $d dirty sectors after $FIO_TIMEOUT s"; return 0; }
		sleep 0.5
	done
	[ $(( $(date +%s) - t0 )) -lt 1 ] ||
		say "blob-rw wrote back its cache in $(( $(date +%s) - t0 )) s"
}
RES=$WORK/res
: >"$RES"

run_fio() {
	local job=$1 t=$2 rep=$3 out v dog
	local args=(--name="$job" --filename="${TFILE[$t]}" --size="$SIZE"
		    --fallocate=none --ioengine=psync --iodepth=1
		    --output-format=terse --terse-version=3 --group_reporting)
	case $job in
	seqwrite) args+=(--rw=write --bs=1M --end_fsync=1 --runtime="$SEQ_RUNTIME") ;;
	seqread)  args+=(--rw=read --bs=1M --runtime="$SEQ_RUNTIME") ;;
	rand*)	args+=(--bs=4k --time_based --runtime="$RUNTIME"
		       --ramp_time="$RAMP" --norandommap --randrepeat=0)
		case $job in randread) args+=(--rw=randread) ;;
			     *) args+=(--rw=randwrite) ;; esac ;;
	esac
	if [ -n "${DEAD[$t]:-}" ]; then
		printf '%s %s %s NA -\n' "$rep" "$job" "$t" | tee -a "$RES" >&2
		return
	fi
	settle
	drop_caches
	# a job stuck in the daemon (SIGKILL does not free a writer blocked
	# in FUSE) ends with the daemon: the target is then out of the run
	( sleep "$FIO_TIMEOUT"; kill -9 "${TPID[$t]}" 2>/dev/null &&
	  say "fio $job on $t still running after $FIO_TIMEOUT s: daemon killed" ) &
	dog=$!
	out=$(fio "${args[@]}" 2>>"$WORK/fio.err" | grep '^3;' | tail -1)
	kill "$dog" 2>/dev/null
	wait "$dog" 2>/dev/null
	# fio's figure for a killed run counts writes the kernel held and
	# the daemon never took: not a result
	kill -0 "${TPID[$t]}" 2>/dev/null || { DEAD[$t]=1; out=; }
	if [ -z "$out" ] || [ "$(echo "$out" | cut -d';' -f5)" != 0 ]; then
		say "fio $job on $t failed (see $WORK/fio.err)"
		v=NA
	else
		v=$(echo "$out" | awk -F';' -v j="$job" '{
			if (j ~ /^seq/) printf "%.0f", ($7 + $48) * 1024 / 1e6;
			else printf "%.0f", $8 + $49 }')
	fi
	printf '%s %s %s %s %s\n' "$rep" "$job" "$t" "$v" \
		"$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$RES" >&2
}

# az_once JOB REP: time `az storage blob upload|download` of $WORK/rand
# (SIZE bytes of random data) to container yard; MB/s (10^6 bytes)
bytes=$(numfmt --from=iec "$SIZE")
head -c "$bytes" /dev/urandom >"$WORK/rand"
az_once() {
	local job=$1 rep=$2 t0 t1 v rc
	rm -f "$WORK/rand.down"
	settle
	drop_caches
	t0=$(date +%s.%N)
	if [ "$job" = seqwrite ]; then
		az storage blob upload -c yard -n rand.bin -f "$WORK/rand" \
			--overwrite -o none --only-show-errors 2>>"$WORK/az.err"
	else
		az storage blob download -c yard -n rand.bin \
			-f "$WORK/rand.down" -o none --only-show-errors \
			2>>"$WORK/az.err"
	fi
	rc=$?
	t1=$(date +%s.%N)
	if [ $rc = 0 ]; then
		v=$(awk -v a="$t0" -v b="$t1" -v n="$bytes" \
			'BEGIN { printf "%.0f", n / (b - a) / 1e6 }')
	else
		say "az $job failed: $(tail -1 "$WORK/az.err")"
		v=NA
	fi
	printf '%s %s %s %s %s\n' "$rep" "$job" az "$v" \
		"$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$RES" >&2
}

LOADS=$WORK/loads
: >"$LOADS"
for ((rep = 1; rep <= REPS; rep++)); do
	for job in $JOBS; do
		for t in "${TARGETS[@]}"; do run_fio "$job" "$t" "$rep"; done
		case $job in seq*) az_once "$job" "$rep" ;; esac
	done
	cut -d' ' -f1-3 /proc/loadavg >>"$LOADS"
	say "rep $rep done; $(( $(date +%s) - T_START )) s so far"
done
# the download is the bytes uploaded
[ -f "$WORK/rand.down" ] && ! cmp -s "$WORK/rand" "$WORK/rand.down" &&
	say "WARNING: az's download differs from the upload"

# ---------------------------------------------------------------- report
med() {
	awk -v j="$1" -v t="$2" '$2 == j && $3 == t && $4 != "NA" { print $4 }' \
		"$RES" | sort -n | awk '{ a[NR] = $1 } END {
		if (!NR) { print "NA"; exit }
		printf "%.0f", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
range() {
	awk -v j="$1" -v t="$2" '$2 == j && $3 == t && $4 != "NA" { print $4 }' \
		"$RES" | sort -n | awk '{ a[NR] = $1 } END {
		if (NR) printf "%s-%s", a[1], a[NR] }'
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "NA" || b == "NA" || b == 0) print "NA";
		else printf "%.2f", a / b }'
}
OUT=${BENCH_OUT:-$WORK/table.md}
{
	printf 'Azurite %s, %s, fio %s; %s reps; disks and files %s; seq jobs\n' \
		"$(node -e 'console.log(require(process.argv[1]).version)' \
			"$ROOT/tools/azurite/node_modules/azurite/package.json" 2>/dev/null)" \
		"$(az version -o tsv 2>/dev/null | head -1 | cut -f1 | sed 's/^/azure-cli /')" \
		"$(fio --version)" "$REPS" "$SIZE"
	printf 'stop at %s s or the end of the file, rand jobs %s s after a %s s ramp.\n\n' \
		"$SEQ_RUNTIME" "$RUNTIME" "$RAMP"
	printf '| job | unit | dir | blob-none | blob-rw | az | none/dir | rw/dir | none/az | rw/az |\n'
	printf '|---|---|---|---|---|---|---|---|---|---|\n'
	for job in seqwrite seqread randread randwrite; do
		d=$(med "$job" dir) n=$(med "$job" blob-none) r=$(med "$job" blob-rw)
		a=-
		case $job in seq*) a=$(med "$job" az) ;; esac
		u=IOPS
		case $job in seq*) u=MB/s ;; esac
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
			"$job" "$u" "$d" "$n" "$r" "$a" \
			"$(ratio "$n" "$d")" "$(ratio "$r" "$d")" \
			"$([ "$a" = - ] && echo - || ratio "$n" "$a")" \
			"$([ "$a" = - ] && echo - || ratio "$r" "$a")"
	done
	printf '\nRanges (min-max of the reps):'
	for job in seqwrite seqread randread randwrite; do
		printf ' %s' "$job"
		for t in "${TARGETS[@]}" az; do
			x=$(range "$job" "$t")
			[ -n "$x" ] && printf ' %s %s' "$t" "$x"
		done
		printf ';'
	done
	printf '\n\nLoad average (1/5/15 min): %s at the start; after each rep: %s.\n' \
		"$LOAD_START" "$(paste -sd, "$LOADS" | sed 's/,/; /g')"
	printf 'The run took %s s.  Busiest processes over 2 s at the start (%%CPU, name):\n\n' \
		"$(( $(date +%s) - T_START ))"
	sed 's/^/    /' "$WORK/others"
	printf '\nDaemons: '
	for t in "${TARGETS[@]}"; do
		p=${TPID[$t]}
		[ -r "/proc/$p/status" ] || continue
		printf '%s VmHWM %s kB; ' "$t" \
			"$(awk '/^VmHWM/ {print $2}' "/proc/$p/status")"
	done
	printf '\n'
	for t in blob-none blob-rw; do
		printf '%s: %s\n' "$t" "$("$SSEFS_BIN" status "$WORK/m_$t" 2>&1 |
			grep -m1 '^blob store:')"
	done
} >"$OUT"
cat "$OUT"
