#!/bin/bash
# bench/report.sh - turn one run's raw figures into bench/results/MODE.md,
# bench/throughput-MODE.png and the verdicts, then assemble BENCHMARKS.md.
#
# Called by bench/run.sh with MODE (short|full), RES (rep job target value
# cpu, tab-separated), MICRO (key value lines), TARGET_DESC, ROOT, CMD,
# DURATION, RUNTIME, RAMP, SEGMENT, REPS, SEQ_SIZE, WORK, SSEFS_BIN in the
# environment.  Can be re-run by hand on a saved results directory:
#   MODE=short RES=bench/results/short.tsv MICRO=bench/results/short.micro \
#   TARGET_DESC=bench/results/short.targets ROOT=. KEEP_HEADER=1 \
#   bash bench/report.sh
# (KEEP_HEADER=1 keeps the date, machine, tools and command lines of the
# stored bench/results/MODE.md instead of describing the machine now.)
set -u

for v in MODE RES MICRO TARGET_DESC ROOT; do
	[ -n "${!v:-}" ] || { echo "bench/report.sh: $v is not set" >&2; exit 2; }
done
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUTDIR=$HERE/results
mkdir -p "$OUTDIR"
FRAG=$OUTDIR/$MODE.md
PNG=$HERE/throughput-$MODE.png
BM=$ROOT/BENCHMARKS.md
JOBS="seqwrite seqread randread randwrite randread2 randwrite2"
PEERS="gocryptfs securefs"
PTS="passthrough passthrough_fh passthrough_ll"
LOOPTS="ssefs-attach ssefs-loop pt-loop"	# compared with plain-loop

# keep the raw figures beside the report (small text files)
[ "$RES" = "$OUTDIR/$MODE.tsv" ] || cp "$RES" "$OUTDIR/$MODE.tsv"
[ "$MICRO" = "$OUTDIR/$MODE.micro" ] || cp "$MICRO" "$OUTDIR/$MODE.micro"
[ "$TARGET_DESC" = "$OUTDIR/$MODE.targets" ] ||
	cp "$TARGET_DESC" "$OUTDIR/$MODE.targets"
[ -n "${PHASES:-}" ] && [ -f "$PHASES" ] && [ "$PHASES" != "$OUTDIR/$MODE.phases" ] &&
	cp "$PHASES" "$OUTDIR/$MODE.phases"

TARGETS=$(cut -f1 "$OUTDIR/$MODE.targets")

# median of the repetitions: "job target value cpu" per line
MED=$(awk -F'\t' '
	function med(s,   a, n, i, j, x) {
		n = split(s, a, " ");
		if (n == 0) return "NA";
		for (i = 2; i <= n; i++) {	# insertion sort, numeric
			x = a[i] + 0;
			for (j = i - 1; j >= 1 && a[j] + 0 > x; j--)
				a[j + 1] = a[j];
			a[j + 1] = x;
		}
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2;
	}
	{ k = $2 "\t" $3;
	  if ($4 != "NA") v[k] = v[k] " " $4; else v[k] = v[k] "";
	  if ($5 != "NA") c[k] = c[k] " " $5; else c[k] = c[k] "";
	  n[k]++ }
	END { for (k in n) print k "\t" med(v[k]) "\t" med(c[k]) }' \
	"$OUTDIR/$MODE.tsv")

val() { printf '%s\n' "$MED" | awk -F'\t' -v j="$1" -v t="$2" \
	'$1 == j && $2 == t { print $3; f = 1 } END { if (!f) print "NA" }'; }
cpu() { printf '%s\n' "$MED" | awk -F'\t' -v j="$1" -v t="$2" \
	'$1 == j && $2 == t { print $4; f = 1 } END { if (!f) print "NA" }'; }
best() {	# best JOB "t1 t2 ..." -> "value target"
	local j=$1 t v b=NA bt=-
	for t in $2; do
		v=$(val "$j" "$t")
		[ "$v" = NA ] && continue
		if [ "$b" = NA ] || awk -v a="$v" -v b="$b" 'BEGIN { exit !(a > b) }'; then
			b=$v bt=$t
		fi
	done
	echo "$b $bt"
}
# fsync TARGET -> yes|no|unknown: run.sh's strace check of the daemon
fsync_of() { awk -v t="$1" '$1 == "fsync" && $2 == t { v = $3 }
	END { print (v == "" ? "unknown" : v) }' "$OUTDIR/$MODE.micro"; }
# The passthrough examples that a job's verdict compares with: all of them,
# except for seqwrite (1 MiB writes with end_fsync) those whose fsync was
# seen not to reach the disk (passthrough.c's xmp_fsync() is a stub): they
# finish the job without waiting for the disk, faster than the raw
# directory itself.  An example without a check ("unknown") stays in.
pts_for() {
	local t out=
	for t in $PTS; do
		[ "$1" = seqwrite ] && [ "$(fsync_of "$t")" = no ] && continue
		out="$out $t"
	done
	echo "$out"
}
nosync_pts() {
	local t out=
	for t in $PTS; do
		printf '%s\n' "$TARGETS" | grep -qx "$t" || continue
		[ "$(fsync_of "$t")" = no ] && out="$out $t"
	done
	echo "$out"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {
	if (a == "NA" || b == "NA" || b == 0) print "-"; else printf "%.2f", a / b }'; }
mget() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print; f = 1 }
	END { if (!f) print "NA" }' "$OUTDIR/$MODE.micro" | tail -1; }
jobs_header() {	# the head of a table with one column per job
	printf '| target |'; for j in $JOBS; do printf ' %s |' "$j"; done; echo
	printf '|---|'; for j in $JOBS; do printf -- '---:|'; done; echo
}
label() {
	case $1 in
	seqwrite)   echo "seq write MB/s" ;;
	seqread)    echo "seq read MB/s" ;;
	randread)   echo "rand read IOPS" ;;
	randwrite)  echo "rand write IOPS" ;;
	randread2)  echo "rand read x2 IOPS" ;;
	randwrite2) echo "rand write x2 IOPS" ;;
	esac
}

VERDICTS=$OUTDIR/$MODE.verdicts
: >"$VERDICTS"
verdict() {	# verdict PASS|MISS TEXT
	printf '%s %s\n' "$1" "$2" >>"$VERDICTS"
	printf 'bench: %s %s\n' "$1" "$2" >&2
}

{
echo "## $( [ "$MODE" = full ] && echo "Full run (\`make bench-full\`)" || echo "Short run (\`make bench\`)")"
echo
if [ "${KEEP_HEADER:-0}" = 1 ] && [ -f "$FRAG" ]; then
	# re-run by hand on stored results: the run's own date, machine,
	# tools and command lines, not today's
	grep -E '^- (Date|Machine|Tools|Command):' "$FRAG"
else
	PH=
	[ -n "${PHASES:-}" ] && [ -s "$PHASES" ] &&
		PH=" ($(awk '{ printf "%s%s %s s", (NR > 1 ? ", " : ""), $1, $2 }' "$PHASES"))"
	echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); the run took ${DURATION:-?} s$PH."
	echo "- Machine: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo), kernel $(uname -r), load average ${LOAD_START:-?} at the start and $(cut -d' ' -f1-3 /proc/loadavg) at the end (the machine is shared with other builds, so figures are noisy; the interleaving spreads that noise over all targets), backing file system $(df -T "${WORK:-/var/tmp}" 2>/dev/null | awk 'NR == 2 {print $2}'), fuse enable_uring $(cat /sys/module/fuse/parameters/enable_uring 2>/dev/null || echo absent) (ssefs over $( [ "$(cat /sys/module/fuse/parameters/enable_uring 2>/dev/null)" = Y ] && echo io_uring || echo /dev/fuse))."
	echo "- Tools: $(fio --version), gocryptfs $(gocryptfs -version 2>/dev/null | awk '{print $2; exit}' | tr -d ';'), securefs $(dpkg-query -W -f '${Version}' securefs 2>/dev/null), libfuse $(pkg-config --modversion fuse3), $(openssl version | awk '{print $1, $2}'), $(gnuplot --version 2>/dev/null), ssefs binary ${SSEFS_BIN:-?} (tree $(git -C "$(dirname "${SSEFS_BIN:-$ROOT/ssefs}")" log -1 --format='%h %s' 2>/dev/null | cut -c1-60))."
	SEQ_NOTE=
	[ "${SEQ_RUNTIME:-0}" -gt 0 ] 2>/dev/null &&
		SEQ_NOTE=", each stopped after ${SEQ_RUNTIME} s if not done"
	SEG_NOTE=
	SEG=${SEGMENT:-5}
	[ "${RUNTIME:-0}" -gt "$SEG" ] 2>/dev/null &&
		SEG_NOTE=" (random reads as $(( (RUNTIME + SEG - 1) / SEG )) segments of $(( RUNTIME / ((RUNTIME + SEG - 1) / SEG) )) s, each after its own cache drop and ramp)"
	echo "- Command: \`${CMD:-make bench}\` (as root; $REPS repetitions, medians; sequential jobs on files of $SEQ_SIZE$SEQ_NOTE; random jobs psync iodepth 1, ${RUNTIME} s after a ${RAMP} s ramp$SEG_NOTE; page cache dropped before every job)."
fi
echo
echo "Targets:"
echo
while IFS=$'\t' read -r t d; do echo "- \`$t\`: $d"; done <"$OUTDIR/$MODE.targets"
echo
echo "### Throughput (medians; MB/s = 10^6 bytes/s)"
echo
printf '| target |'; for j in $JOBS; do printf ' %s |' "$(label "$j")"; done; echo
printf '|---|'; for j in $JOBS; do printf -- '---:|'; done; echo
for t in $TARGETS; do
	printf '| %s |' "$t"
	for j in $JOBS; do printf ' %s |' "$(val "$j" "$t")"; done
	echo
done
echo
echo "### Daemon CPU seconds per GiB moved (medians)"
echo
jobs_header
for t in $TARGETS; do
	[ "$t" = raw ] && continue
	printf '| %s |' "$t"
	for j in $JOBS; do printf ' %s |' "$(cpu "$j" "$t")"; done
	echo
done
echo
echo "### Ratios: to the best passthrough / to the best encrypted peer"
echo
jobs_header
printf '| *best passthrough* |'
for j in $JOBS; do
	set -- $(best "$j" "$(pts_for "$j")")
	x=
	[ "$j" = seqwrite ] && [ -n "$(nosync_pts)" ] &&
		x=";$(nosync_pts | sed 's/ /, /g; s/^,//') left out: no fsync"
	printf ' %s (%s%s) |' "$1" "$2" "$x"
done; echo
printf '| *best encrypted peer* |'
for j in $JOBS; do set -- $(best "$j" "$PEERS"); printf ' %s (%s) |' "$1" "$2"; done; echo
for t in $TARGETS; do
	printf '| %s |' "$t"
	for j in $JOBS; do
		set -- $(best "$j" "$(pts_for "$j")"); bp=$1
		set -- $(best "$j" "$PEERS"); be=$1
		v=$(val "$j" "$t")
		printf ' %s / %s |' "$(ratio "$v" "$bp")" "$(ratio "$v" "$be")"
	done
	echo
done
if printf '%s\n' "$TARGETS" | grep -qx plain-loop; then
	echo
	echo "### ext4 on a loop device: ratios to ext4 on a loop device over a plain file (plain-loop: no FUSE, no crypto)"
	echo
	jobs_header
	for t in $LOOPTS; do
		printf '%s\n' "$TARGETS" | grep -qx "$t" || continue
		printf '| %s |' "$t"
		for j in $JOBS; do
			printf ' %s |' "$(ratio "$(val "$j" "$t")" "$(val "$j" plain-loop)")"
		done
		echo
	done
fi
if grep -q '^fsync ' "$OUTDIR/$MODE.micro"; then
	echo
	printf 'fsync(2) reaching the backing disk (strace of the daemon during a 16 MiB write with `end_fsync`, fsync/fdatasync/sync_file_range/syncfs calls):'
	awk '$1 == "fsync" { printf "%s `%s` %s (%s)", (n++ ? "," : ""), $2, $3, $4 }' "$OUTDIR/$MODE.micro"
	echo "."
	# a check added to stored results by hand says when it was made
	[ "$(mget fsync_note)" != NA ] && echo "$(mget fsync_note)"
	[ -n "$(nosync_pts)" ] &&
		echo "An example whose fsync does not sync finishes \"1 MiB writes, end_fsync\" without waiting for the disk; the seqwrite column's *best passthrough* leaves it out (its ratio is still in its row, and in the verdicts)."
fi
echo
echo "### Micro benchmarks"
echo
echo "| measure | figure |"
echo "|---|---:|"
echo "| ssefs AES-256-XTS, 4096-byte sectors, one core (encrypt) | $(mget xts_aes_mbs) MB/s |"
echo "| \`openssl speed -evp aes-256-xts\`, 4096 bytes, one core | $(mget openssl_xts_mbs) MB/s |"
echo "| ratio | $(mget xts_ratio) |"
echo "| ssefs Camellia-256-XTS (generic XTS), one core | $(mget xts_camellia_mbs) MB/s |"
for bits in 2048 3072 4096; do
	for n in 1 100 1000; do
		r=$(mget "rewrap rsa$bits n$n" 2>/dev/null)
		r=$(awk -v b="rsa$bits" -v n="n$n" '$1 == "rewrap" && $2 == b && $3 == n {print $4, $5}' "$OUTDIR/$MODE.micro" | tail -1)
		[ -n "$r" ] || continue
		set -- $r
		echo "| rewrap $n disk(s), RSA-$bits ($2) | $1 s total, $(awk -v s="$1" -v n="$n" 'BEGIN { printf "%.1f", s / n * 1000 }') ms per disk |"
	done
done
r=$(mget mount1000)
[ "$r" != NA ] && { set -- $r; echo "| mount of a store of 1000 disks (until mountpoint -q) | $1 s ($2 disks shown) |"; }
awk '$1 == "rss" { printf "| daemon memory after the fio jobs, %s | VmRSS %.1f MiB, VmHWM %.1f MiB |\n", $2, $3 / 1024, $4 / 1024 }' "$OUTDIR/$MODE.micro"
grep '^MISSING' "$OUTDIR/$MODE.micro" | sed 's/^/| /; s/$/ | - |/'
} >"$FRAG.tmp"

# ------------------------------------------------------------- verdicts
have_ssefs=0
printf '%s\n' "$TARGETS" | grep -qx ssefs && have_ssefs=1
for j in $JOBS; do
	set -- $(best "$j" "$(pts_for "$j")"); bp=$1 bpt=$2
	set -- $(best "$j" "$PEERS"); be=$1 bet=$2
	v=$(val "$j" ssefs)
	if [ $have_ssefs = 0 ] || [ "$v" = NA ]; then
		verdict MISS "$j: ssefs not measured (>= 0.9 x passthrough, >= 1.25 x peer)"
		continue
	fi
	r1=$(ratio "$v" "$bp") r2=$(ratio "$v" "$be")
	if [ "$r1" != - ] && awk -v r="$r1" 'BEGIN { exit !(r >= 0.9) }'; then s=PASS; else s=MISS; fi
	note= extra=
	if [ "$j" = seqwrite ]; then
		[ -n "$(nosync_pts)" ] && note=" whose fsync syncs"
		for t in $PTS; do
			w=$(val "$j" "$t")
			[ "$w" = NA ] && continue
			extra="$extra; $(ratio "$v" "$w") x $t $w"
			[ "$(fsync_of "$t")" = no ] &&
				extra="$extra (left out: its fsync does not reach the disk)"
		done
	fi
	verdict $s "$j: ssefs $v = $r1 x best passthrough$note ($bpt $bp), target >= 0.9$extra"
	if [ "$r2" != - ] && awk -v r="$r2" 'BEGIN { exit !(r >= 1.25) }'; then s=PASS; else s=MISS; fi
	verdict $s "$j: ssefs $v = $r2 x best encrypted peer ($bet $be), target >= 1.25"
done
# ext4 on an attached disk against ext4 on a loop device over a plain file
for j in seqread seqwrite randread randwrite; do
	case $j in seq*) want=0.6 ;; *) want=0.8 ;; esac
	v=$(val "$j" ssefs-attach) p=$(val "$j" plain-loop)
	r=$(ratio "$v" "$p")
	if [ "$r" != - ] && awk -v r="$r" -v w="$want" 'BEGIN { exit !(r >= w) }'; then s=PASS; else s=MISS; fi
	verdict $s "$j: ext4 on ssefs disk attach $v = $r x ext4 on a loop device over a plain file ($p), target >= $want"
done
x=$(mget xts_ratio); x=${x:-NA}
if [ "$x" != NA ] && awk -v r="$x" 'BEGIN { exit !(r >= 0.7) }'; then s=PASS; else s=MISS; fi
verdict $s "xts: ssefs AES-XTS = ${x} x openssl speed, target >= 0.7"
r=$(awk '$1 == "rewrap" && $2 == "rsa3072" && $3 == "n1000" {print $4}' "$OUTDIR/$MODE.micro" | tail -1)
if [ -z "$r" ]; then	# short run with per-disk rewrap: 100 disks, x10
	r=$(awk '$1 == "rewrap" && $2 == "rsa3072" && $3 == "n100" {printf "%.1f (100 disks x 10)", $4 * 10}' "$OUTDIR/$MODE.micro" | tail -1)
fi
if [ -n "$r" ] && awk -v r="${r%% *}" 'BEGIN { exit !(r < 10) }'; then s=PASS; else s=MISS; fi
verdict $s "rewrap: 1000 disks with RSA-3072 in ${r:-(not measured)} s, target < 10 s"
r=$(mget mount1000); r=${r%% *}; r=${r:-NA}
if [ "$r" != NA ] && awk -v r="$r" 'BEGIN { exit !(r < 1) }'; then s=PASS; else s=MISS; fi
verdict $s "mount: store of 1000 disks in ${r/NA/(not measured)} s, target < 1 s"
r=$(awk '$1 == "rss" && $2 == "ssefs" {print $3}' "$OUTDIR/$MODE.micro" | tail -1)
if [ -n "$r" ] && [ "$r" -lt $((32 * 1024)) ]; then s=PASS; else s=MISS; fi
verdict $s "rss: ssefs daemon VmRSS $( [ -n "$r" ] && echo "$((r / 1024)) MiB" || echo "(not measured)") after the fio jobs, target < 32 MiB"

{
	cat "$FRAG.tmp"
	echo
	echo "### Verdicts (issue 7 and 17 targets)"
	echo
	sed 's/^/    /' "$VERDICTS"
	echo
	echo "![throughput, $MODE run](bench/throughput-$MODE.png)"
} >"$FRAG"
rm -f "$FRAG.tmp"

# ---------------------------------------------------------------- chart
DAT=$OUTDIR/$MODE.dat
{
	printf 'job'; for t in $TARGETS; do printf '\t%s' "$t"; done; echo
	for j in $JOBS; do
		printf '"%s"' "$(label "$j" | sed 's/ [A-Za-z/]*$//')"
		for t in $TARGETS; do v=$(val "$j" "$t"); printf '\t%s' "${v/NA/0}"; done
		echo
	done
} >"$DAT"
if command -v gnuplot >/dev/null; then
	gnuplot -e "datafile='$DAT'; outfile='$PNG'; ncols=$(($(printf '%s\n' $TARGETS | wc -l) + 1)); runname='$MODE'" \
		"$HERE/chart.gp" 2>"$OUTDIR/$MODE.gnuplot.log" ||
		printf 'bench: gnuplot failed (see %s)\n' "$OUTDIR/$MODE.gnuplot.log" >&2
	[ -s "$OUTDIR/$MODE.gnuplot.log" ] || rm -f "$OUTDIR/$MODE.gnuplot.log"
fi

# ------------------------------------------------------- BENCHMARKS.md
TRIED=$OUTDIR/tried.tmp
if [ -f "$BM" ] && grep -q '^## What was tried' "$BM"; then
	sed -n '/^## What was tried/,$p' "$BM" >"$TRIED"
else
	printf '## What was tried\n\n(hand-written; bench/run.sh keeps this section as it is)\n' >"$TRIED"
fi
{
	cat "$HERE/BENCHMARKS.head.md"
	echo
	for m in short full; do
		if [ -f "$OUTDIR/$m.md" ]; then cat "$OUTDIR/$m.md"
		else echo "## $m run"; echo; echo "(not run yet)"; fi
		echo
	done
	cat "$TRIED"
} >"$BM.tmp" && mv "$BM.tmp" "$BM"
rm -f "$TRIED"
printf 'bench: wrote %s, %s and %s\n' "$BM" "$FRAG" "$PNG" >&2
