# bench/chart.gp - the throughput table as two clustered bar charts:
# sequential jobs in MB/s on the left, random jobs in IOPS on the right.
# gnuplot -e "datafile='X.dat'; outfile='X.png'; ncols=N; runname='short'" chart.gp
# X.dat: a header line "job target..." then one line per job (6 jobs, the
# first two sequential).

set terminal pngcairo size 1100,420 font "Sans,9" noenhanced
set output outfile
set datafile separator "\t"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top left font ",8" autotitle columnhead
set logscale y
set yrange [10:*]
set xtics nomirror

set multiplot layout 1,2 title sprintf("ssefs and its peers, %s run (medians)", runname)
set title "sequential 1 MiB (MB/s, log scale)"
plot for [i=2:ncols] datafile every ::0::1 using i:xtic(1)
set title "random 4 KiB, psync, iodepth 1 (IOPS, log scale)"
plot for [i=2:ncols] datafile every ::2::5 using i:xtic(1)
unset multiplot
