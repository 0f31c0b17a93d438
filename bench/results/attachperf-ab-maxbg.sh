#!/bin/bash
# FUSE max_background 12 (libfuse/kernel default) vs 64 on the B mount, same device, alternated
cd /var/tmp/ap
C=/sys/fs/fuse/connections/$(mountpoint -d mB | cut -d: -f2)
for r in $(seq $1); do
  for j in seqwrite seqread; do
    for mb in 12 64; do
      echo $mb > $C/max_background; echo $((mb * 3 / 4)) > $C/congestion_threshold
      sync; echo 3 >/proc/sys/vm/drop_caches
      case $j in seqwrite) a=(--rw=write --end_fsync=1);; seqread) a=(--rw=read);; esac
      v=$(fio --name=s --filename=fsB/f --size=1G --ioengine=psync --bs=1M "${a[@]}" --runtime=8 --output-format=terse --terse-version=3 | awk -F';' '{printf "%.0f", ($7+$48)*1024/1e6}')
      echo "$r $j max_background=$mb $v $(cut -d' ' -f1 /proc/loadavg)"
    done
  done
done
echo 12 > $C/max_background; echo 9 > $C/congestion_threshold
