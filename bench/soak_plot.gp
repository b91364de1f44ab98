# bench/soak_plot.gp - bench/soak.sh's chart: pixd's RSS, open descriptors, open connections and
# buffered bytes over the run, one panel each, from the sampler's CSV (bench/soak_driver.py).
#
#   gnuplot -e "csv='samples.csv'; png='soak.png'; warm=12; win=6; load=60" bench/soak_plot.gp
#
# warm: end of the warm-up (s); win: length of the two windows the growth check compares
# (shaded: right after the warm-up, and the end of the load); load: end of the load (s).
# Columns (by name): t_s, rss_kib, fds, conns_open, read_buffers, bodies.

set terminal pngcairo size 1200,800 font 'DejaVu Sans,10' noenhanced
set output png
set datafile separator ','
set datafile missing ''
set key autotitle columnhead top left
set grid lc rgb '#dddddd'
set border 3
set xtics nomirror
set ytics nomirror
set xlabel 'seconds since the load started'
set style line 1 lc rgb '#1f77b4' lw 1.5
set style line 2 lc rgb '#d62728' lw 1.5
set style line 3 lc rgb '#2ca02c' lw 1.5
set style line 4 lc rgb '#9467bd' lw 1.5

# The windows compared, shaded; the end of the warm-up and of the load, dashed.
set object 1 rect from warm, graph 0 to warm + win, graph 1 fc rgb '#2ca02c' fs transparent solid 0.12 noborder behind
set object 2 rect from load - win, graph 0 to load, graph 1 fc rgb '#d62728' fs transparent solid 0.12 noborder behind
set arrow 1 from warm, graph 0 to warm, graph 1 nohead dt 2 lc rgb '#888888'
set arrow 2 from load, graph 0 to load, graph 1 nohead dt 2 lc rgb '#888888'

set multiplot layout 2,2 title sprintf('pixd soak: %s (warm-up to %gs, load to %gs)', csv, warm, load)

set title 'resident memory (VmRSS)'
set ylabel 'MiB'
plot csv using (column('t_s')):(column('rss_kib') / 1024.0) with lines ls 1 title 'RSS'

set yrange [0:*]
set title 'open file descriptors'
set ylabel 'descriptors'
plot csv using (column('t_s')):(column('fds')) with lines ls 2 title 'fds'

set title 'open connections (/status)'
set ylabel 'connections'
plot csv using (column('t_s')):(column('conns_open')) with lines ls 3 title 'open'

set title 'buffered bytes (/status memory)'
set ylabel 'KiB'
plot csv using (column('t_s')):(column('read_buffers') / 1024.0) with lines ls 1 title 'read buffers', \
     csv using (column('t_s')):(column('bodies') / 1024.0) with lines ls 4 title 'bodies'

unset multiplot
