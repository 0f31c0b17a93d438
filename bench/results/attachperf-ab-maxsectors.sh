#!/bin/bash
# loop queue max_sectors_kb 1280 (kernel default) vs 1024 (= FUSE max_write), same device, alternated
cd /var/tmp/ap
q=/sys/block/loop1/queue/max_sectors_kb
for r in $(seq $1); do
  for kb in 1280 1024; do
    for j in seqwrite; do
      echo $kb > $q
      sync; echo 3 >/proc/sys/vm/drop_caches
      case $j in seqwrite) a=(--rw=write --end_fsync=1);; seqread) a=(--rw=read);; esac
      v=$(fio --name=s --filename=fsB/f --size=1G --ioengine=psync --bs=1M "${a[@]}" --runtime=8 --output-format=terse --terse-version=3 | awk -F';' '{printf "%.0f", ($7+$48)*1024/1e6}')
      echo "$r $j max_sectors_kb=$kb $v $(cut -d' ' -f1 /proc/loadavg)"
    done
  done
done
echo 1280 > $q
