#!/bin/bash
# interleaved A/B: ext4 on `ssefs disk attach` (A = /tmp/ssefs-A, B = worktree build)
# plus fio on the .vhd directly; usage: ab.sh REPS JOBS...
# ABBA=1: every other repetition runs the targets in reverse order
set -u
cd /var/tmp/ap; export HOME=/var/tmp/ap
A=${SSEFS_A:-/tmp/ssefs-A}; B=${SSEFS_B:-/work/wt-attachperf/ssefs}
REPS=$1; shift; JOBS="$*"
TARGETS=${TARGETS:-"attA attB"}
for x in A B; do
  bin=$A; [ $x = B ] && bin=$B
  if ! mountpoint -q m$x; then
    mkdir -p store$x m$x fs$x
    [ -f store$x/a.vhd ] || { $B disk create store$x/a.vhd --size 2G >/dev/null; $B disk create store$x/v.vhd --size 1G >/dev/null; }
    $bin mount -f store$x m$x >m$x.log 2>&1 &
    for i in $(seq 50); do mountpoint -q m$x && break; sleep 0.1; done
    dev=$($B disk attach m$x/a.vhd) || exit 1
    mkfs.ext4 -q -F $dev && mount $dev fs$x || exit 1
    fio --name=lay --filename=fs$x/f --size=1G --rw=write --bs=1M --end_fsync=1 >/dev/null
    fio --name=lay --filename=m$x/v.vhd --size=1G --rw=write --bs=1M --end_fsync=1 >/dev/null
  fi
done
if [[ " $TARGETS " == *" plain "* ]] && ! mountpoint -q fsP; then
  mkdir -p fsP; truncate -s 2G plain.img
  dev=$(losetup --find --show --direct-io=on --sector-size 4096 plain.img); mkfs.ext4 -q -F $dev; mount $dev fsP
  fio --name=lay --filename=fsP/f --size=1G --rw=write --bs=1M --end_fsync=1 >/dev/null
fi
file_of() { case $1 in attA) echo fsA/f;; attB) echo fsB/f;; plain) echo fsP/f;; ptloop) echo fsT/f;; vhdA) echo mA/v.vhd;; vhdB) echo mB/v.vhd;; esac; }
for r in $(seq $REPS); do
  for j in $JOBS; do
    order=$TARGETS
    [ "${ABBA:-0}" = 1 ] && [ $((r % 2)) = 0 ] &&
      order=$(echo $TARGETS | tr ' ' '\n' | tac | tr '\n' ' ')
    for t in $order; do
      f=$(file_of $t)
      args=(--name=$j --filename=$f --size=1G --fallocate=none --ioengine=psync --iodepth=1 --output-format=terse --terse-version=3 --group_reporting)
      case $j in
        seqwrite) args+=(--rw=write --bs=1M --end_fsync=1 --runtime=8);;
        seqread) args+=(--rw=read --bs=1M --runtime=8);;
        rand*) args+=(--bs=4k --time_based --runtime=5 --ramp_time=1 --norandommap --randrepeat=0);;
      esac
      case $j in randread*) args+=(--rw=randread);; randwrite*) args+=(--rw=randwrite);; esac
      case $j in *2*) args+=(--numjobs=2);; esac
      case $j in *direct*) args+=(--direct=1);; esac
      case $j in *qd8*) args+=(--ioengine=libaio --iodepth=8 --direct=1);; esac
      sync; echo 3 >/proc/sys/vm/drop_caches
      [ -n "${WARM:-}" ] && cat storeA/a.vhd storeB/a.vhd bpt/pt.img >/dev/null
      out=$(fio "${args[@]}" 2>>fio.err | grep '^3;' | tail -1)
      val=$(echo "$out" | awk -F';' -v j="$j" '{ if (j ~ /^seq/) printf "%.0f", ($7 + $48) * 1024 / 1e6; else printf "%.0f", $8 + $49 }')
      echo "$r $j $t $val $(cut -d' ' -f1 /proc/loadavg)"
    done
  done
done
