#!/bin/bash
# bench/ab.sh - targeted, interleaved A/B fio runs (not part of make bench).
#
#   bench/ab.sh JOB [TARGET ...]
#
# JOB: seqwrite seqread randread randwrite randread2 randwrite2 (the jobs of
# bench/run.sh, same fio arguments), or randread-direct / randread2-direct
# (the same random reads with O_DIRECT: no page cache on the target).
# TARGET: raw raw-direct (the raw file with O_DIRECT: the device's own rate)
# passthrough passthrough_fh passthrough_ll gocryptfs securefs,
# or ssefs[NAME] = an ssefs mount of the binary in $SSEFS_NAME (ssefs =
# $SSEFS_BIN or ./ssefs; ssefsB = $SSEFS_B ...), with mount options from
# $OPTS_NAME (-o).  Default targets: passthrough_ll ssefs.
#
# Knobs (environment): REPS (5), RUNTIME (5), RAMP (1), SIZE (1G),
# NODROP=1 (do not drop the page cache before a run), WARM_BACKING=1 (after
# the drop, read the FUSE targets' backing files into the page cache: the
# FUSE file's cache stays cold, so every miss is one FUSE round trip
# without a disk read: the daemon's own cost per request), AB_DIR (/var/tmp),
# AB_KEEP=1 (print the scratch directory and wait for Enter before the
# clean-up, e.g. to run perf or strace on a daemon).
# Every repetition runs the job on every target in turn; one line per run:
#   rep job target value unit cpu-s/GiB (ramp included) load1
# then the median of each target.  Must run as root (drop_caches).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
JOB=${1:?usage: bench/ab.sh JOB [TARGET ...]}
shift
[ $# -gt 0 ] || set -- passthrough_ll ssefs
REPS=${REPS:-5}
RUNTIME=${RUNTIME:-5}
RAMP=${RAMP:-1}
SIZE=${SIZE:-1G}
HZ=$(getconf CLK_TCK)

say() { printf 'ab: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"

WORK=$(mktemp -d "${AB_DIR:-/var/tmp}/ssefs-ab.XXXXXX") || die "no scratch dir"
PIDS=() MOUNTS=()
cleanup() {
	local i
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		fusermount3 -u "${MOUNTS[i]}" 2>/dev/null ||
			umount "${MOUNTS[i]}" 2>/dev/null ||
			umount -l "${MOUNTS[i]}" 2>/dev/null
	done
	for i in "${PIDS[@]}"; do kill "$i" 2>/dev/null; done
	sleep 0.5
	grep -q " $WORK/" /proc/mounts || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_mount() {
	local i
	for ((i = 0; i < 400; i++)); do
		mountpoint -q "$1" && return 0
		sleep 0.05
	done
	return 1
}

declare -A FILE PID
PT_SRC=/usr/share/doc/libfuse3-dev/examples
setup() {
	local t=$1 b=$WORK/b_$1 m=$WORK/m_$1 bin var opts
	mkdir -p "$b" "$m"
	case $t in
	raw|raw-direct)
		FILE[$t]=$b/f PID[$t]=
		return ;;
	passthrough*)
		cc -O2 -I"$PT_SRC" "$PT_SRC/$t.c" -o "$WORK/$t" \
			$(pkg-config fuse3 --cflags --libs) || die "build $t"
		if [ "$t" = passthrough_ll ]; then
			"$WORK/$t" -f -o source="$b" "$m" >"$WORK/$t.log" 2>&1 &
			FILE[$t]=$m/f
		else
			"$WORK/$t" -f "$m" >"$WORK/$t.log" 2>&1 &
			FILE[$t]=$m$b/f
		fi ;;
	gocryptfs)
		head -c 24 /dev/urandom | base64 >"$WORK/gp"
		gocryptfs -q -init -passfile "$WORK/gp" "$b" >/dev/null 2>&1 ||
			die "gocryptfs init"
		gocryptfs -q -fg -passfile "$WORK/gp" "$b" "$m" >/dev/null 2>&1 &
		FILE[$t]=$m/f ;;
	securefs)
		head -c 32 /dev/urandom >"$WORK/sk"
		securefs create --format 4 --keyfile "$WORK/sk" "$b" \
			>/dev/null 2>&1 || die "securefs create"
		securefs mount --keyfile "$WORK/sk" "$b" "$m" >/dev/null 2>&1 &
		FILE[$t]=$m/f ;;
	ssefs*)
		var=SSEFS_${t#ssefs}
		[ "$t" = ssefs ] && var=SSEFS_BIN
		bin=${!var:-$ROOT/ssefs}
		var=OPTS_${t#ssefs}
		[ "$t" = ssefs ] && var=OPTS_
		opts=${!var:-}
		[ -x "$bin" ] || die "no binary $bin for $t"
		"$bin" --vault "$WORK/v_$t" vault init --name ab >/dev/null &&
		"$bin" --vault "$WORK/v_$t" disk create "$b/d.vhd" --size 2G \
			>/dev/null || die "ssefs setup for $t"
		"$bin" --vault "$WORK/v_$t" mount "$b" "$m" -f \
			${opts:+-o "$opts"} >"$WORK/$t.log" 2>&1 &
		FILE[$t]=$m/d.vhd ;;
	*)	die "unknown target $t" ;;
	esac
	PID[$t]=$!
	PIDS+=("$!")
	wait_mount "$m" || die "$t did not mount"
	MOUNTS+=("$m")
}

ticks() {
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || { echo 0; return; }
	sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

for t in "$@"; do setup "$t"; done
for t in "$@"; do
	fio --name=layout --filename="${FILE[$t]}" --size="$SIZE" --rw=write \
		--bs=1M --fallocate=none --end_fsync=1 --output-format=terse \
		>/dev/null || die "layout on $t"
done
say "scratch $WORK; targets $*; pids $(for t in "$@"; do printf '%s=%s ' "$t" "${PID[$t]}"; done)"
if [ "${AB_KEEP:-0}" = 1 ]; then
	say "mounted; press Enter to run the job"
	read -r _
fi

args=(--size="$SIZE" --fallocate=none --ioengine=psync --iodepth=1
      --output-format=terse --terse-version=3 --group_reporting)
case $JOB in
seqwrite) args+=(--rw=write --bs=1M --end_fsync=1) ;;
seqread)  args+=(--rw=read --bs=1M) ;;
rand*)
	args+=(--bs=4k --time_based --runtime="$RUNTIME" --ramp_time="$RAMP"
	       --norandommap --randrepeat=0)
	case $JOB in randread*) args+=(--rw=randread) ;;
		     *) args+=(--rw=randwrite) ;; esac
	case $JOB in *2|*2-direct) args+=(--numjobs=2) ;; esac
	case $JOB in *-direct) args+=(--direct=1) ;; esac ;;
*)	die "unknown job $JOB" ;;
esac

RES=$WORK/res
: >"$RES"
for ((rep = 1; rep <= REPS; rep++)); do
	for t in "$@"; do
		[ "${NODROP:-0}" = 1 ] || { sync; echo 3 >/proc/sys/vm/drop_caches; }
		[ "${WARM_BACKING:-0}" = 1 ] && [ -n "${PID[$t]}" ] &&
			find "$WORK/b_$t" -type f -size +1M -exec cat {} + >/dev/null
		c0=$(ticks "${PID[$t]}")
		extra=()
		[ "$t" = raw-direct ] && extra=(--direct=1)
		out=$(fio --name="$JOB" --filename="${FILE[$t]}" "${args[@]}" \
			"${extra[@]}" |
			grep '^3;' | tail -1)
		c1=$(ticks "${PID[$t]}")
		load=$(cut -d' ' -f1 /proc/loadavg)
		echo "$out" | awk -F';' -v j="$JOB" -v t="$t" -v r="$rep" \
			-v c="$((c1 - c0))" -v hz="$HZ" -v l="$load" '{
			kb = $6 + $47;
			if (j ~ /^seq/) { v = ($7 + $48) * 1024 / 1e6; u = "MB/s" }
			else { v = $8 + $49; u = "IOPS" }
			cpu = kb > 0 ? c / hz / (kb / 1048576) : 0;
			printf "%d %s %s %.0f %s %.2f %s\n", r, j, t, v, u, cpu, l
		}' | tee -a "$RES"
	done
done
echo "median:"
for t in "$@"; do
	awk -v t="$t" '$3 == t { print $4 }' "$RES" | sort -n |
		awk -v t="$t" '{ a[NR] = $1 } END {
			m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2;
			printf "  %s %.0f (n=%d, min %s, max %s)\n", t, m, NR, a[1], a[NR] }'
done
