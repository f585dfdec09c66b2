// Small measurement helpers: order statistics and per-process counters.
#ifndef TALLY_BENCH_STATS_H_
#define TALLY_BENCH_STATS_H_

#include <sys/types.h>

#include <vector>

namespace tally::bench {

double Median(std::vector<double> values);
// p in [0, 100], nearest-rank.
double Percentile(std::vector<double> values, double p);

// From /proc/PID/status, in kB; -1 if unreadable.
long RssKb(pid_t pid);
long PeakRssKb(pid_t pid);
// User + system CPU time of PID so far, in seconds.
double CpuSeconds(pid_t pid);

}  // namespace tally::bench

#endif  // TALLY_BENCH_STATS_H_
