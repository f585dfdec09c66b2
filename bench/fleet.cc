// Sections 4 and 5: tallyctl across 100, 500 and 2000 agents over mutual
// TLS. The agents are stand-ins (//tests/testing:standin_fleet: real gRPC
// servers with synthetic counts, many per process), since 2000 tallyd
// processes do not fit on one machine; they run on the same CPUs as
// tallyctl. Fan-out: start, list and stop wall time and CPU, and list with a
// quarter of the agents hung (a SIGSTOPped stand-in process). Watch: memory,
// CPU, whether every node's update arrives every interval, and how long
// `--for` really takes. With --tallyctl_before, an older tallyctl is measured
// the same way in the same run.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench.h"
#include "bench/stats.h"
#include "common/api_convert.h"
#include "glog/logging.h"
#include "google/protobuf/util/json_util.h"
#include "tally/v1/cli_output.pb.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/subprocess.h"

namespace tally::bench {
namespace {

using ::tally::testing::Child;

constexpr char kHook[] = "rawtracepoint:sched_process_exec";
constexpr char kProbe[] = "rawtracepoint-sched_process_exec";
constexpr absl::Duration kHungTimeout = absl::Seconds(2);

// One finished tallyctl run.
struct Timed {
  double wall = -1;  // seconds; -1 when it could not run
  double cpu = 0;    // user + system seconds
  int exit_code = -1;
  std::string err;
};

// Runs argv (stdout discarded) to completion, with its resource usage.
Timed TimedRun(const std::vector<std::string>& argv, absl::Duration timeout) {
  Timed t;
  char err_path[] = "/tmp/tally-bench-err-XXXXXX";
  int err_fd = mkstemp(err_path);
  const absl::Time t0 = absl::Now();
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(err_fd, 2);
    std::vector<std::string> copy = argv;
    std::vector<char*> args;
    for (std::string& a : copy) args.push_back(a.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  rusage usage = {};
  while (true) {
    pid_t r = wait4(pid, &status, WNOHANG, &usage);
    if (r == pid) break;
    if (absl::Now() - t0 > timeout) {
      kill(pid, SIGKILL);
      wait4(pid, &status, 0, &usage);
      break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  t.wall = absl::ToDoubleSeconds(absl::Now() - t0);
  t.cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
          usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
  t.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  t.err = ::tally::testing::ReadWholeFile(err_path);
  close(err_fd);
  unlink(err_path);
  return t;
}

// A standin_fleet process and the addresses of its agents.
class Standins {
 public:
  Standins(const BenchContext& ctx, const std::string& dir,
           const std::string& name, int n, const std::string& pki)
      : file_(dir + "/" + name) {
    child_ = std::make_unique<Child>(std::vector<std::string>{
        ctx.standin_fleet, absl::StrCat("--agents=", n), "--tls_dir=" + pki,
        "--addresses=" + file_, "--node_prefix=" + name + "-"});
    const absl::Time deadline = absl::Now() + absl::Minutes(2);
    while (absl::Now() < deadline) {
      std::ifstream in(file_);
      std::string line;
      while (std::getline(in, line)) addresses_.push_back(line);
      if (!addresses_.empty()) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  ~Standins() {
    child_->Signal(SIGCONT);
    child_->Signal(SIGKILL);
    child_->Wait(absl::Seconds(10));
  }
  bool ok() const { return !addresses_.empty(); }
  const std::vector<std::string>& addresses() const { return addresses_; }
  pid_t pid() const { return child_->pid(); }
  void Signal(int signo) { child_->Signal(signo); }

 private:
  std::string file_;
  std::unique_ptr<Child> child_;
  std::vector<std::string> addresses_;
};

std::string WriteList(const std::string& path,
                      const std::vector<std::string>& addresses) {
  std::ofstream out(path);
  for (const std::string& a : addresses) out << a << "\n";
  return "@" + path;
}

std::string F(double v, int decimals = 2) {
  return v < 0 ? "failed" : absl::StrFormat("%.*f", decimals, v);
}

std::string LoadAverage() {
  std::string load;
  std::getline(std::ifstream("/proc/loadavg"), load);
  return load.substr(0, load.find(' ', load.find(' ', load.find(' ') + 1) + 1));
}

struct Variant {
  std::string name;
  std::string binary;
};

// What one watch run showed.
struct WatchResult {
  double rss_mb = -1;
  double peak_mb = -1;
  double cpu_percent = -1;
  // Share of agents whose rows came at most 1.5 intervals apart, and the
  // longest gap between two rows of one agent.
  double on_time = -1;
  double max_gap = -1;
  double lag_p99_ms = -1;
  double for_took = -1;
  int exit_code = -1;
};

WatchResult MeasureWatch(const std::vector<std::string>& base, int n,
                         absl::Duration duration, absl::Duration steady) {
  WatchResult w;
  std::vector<std::string> argv = base;
  for (const char* a : {"--output", "json", "watch", "--interval", "1s"}) {
    argv.push_back(a);
  }
  argv.push_back("--for");
  argv.push_back(absl::FormatDuration(duration));
  const absl::Time t0 = absl::Now();
  Child watch(argv);
  const std::string all_up = absl::StrCat("\"agents_up\":", n, ",");
  const absl::Time ready_by = t0 + duration;
  bool ready = false;
  while (auto line = watch.ReadLine(ready_by)) {
    if (line->find("\"FLEET\"") != std::string::npos &&
        line->find(all_up) != std::string::npos) {
      ready = true;
      break;
    }
  }
  if (ready) {
    const double cpu0 = CpuSeconds(watch.pid());
    const absl::Time w0 = absl::Now();
    const absl::Time until = std::min(w0 + steady, t0 + duration);
    std::map<std::string, absl::Time> last_row;
    std::map<std::string, absl::Duration> gap;
    std::vector<double> lags_ms;
    while (auto line = watch.ReadLine(until)) {
      v1::WatchLine l;
      if (!google::protobuf::util::JsonStringToMessage(*line, &l).ok() ||
          l.kind() != v1::WatchLine::UPDATE) {
        continue;
      }
      const absl::Time now = absl::Now();
      auto [it, first] = last_row.try_emplace(l.agent(), w0);
      gap[l.agent()] = std::max(gap[l.agent()], now - it->second);
      it->second = now;
      lags_ms.push_back(absl::ToDoubleMilliseconds(now - FromProto(l.time())));
    }
    const absl::Time end = absl::Now();
    size_t on_time = 0;
    absl::Duration worst;
    for (const auto& [agent, at] : last_row) {
      absl::Duration g = std::max(gap[agent], end - at);
      worst = std::max(worst, g);
      on_time += g <= absl::Milliseconds(1500);
    }
    w.on_time = double(on_time) / n;  // agents with no row at all count late
    w.max_gap = last_row.size() < size_t(n) ? absl::ToDoubleSeconds(end - w0)
                                            : absl::ToDoubleSeconds(worst);
    w.cpu_percent = (CpuSeconds(watch.pid()) - cpu0) /
                    absl::ToDoubleSeconds(absl::Now() - w0) * 100;
    w.rss_mb = RssKb(watch.pid()) / 1024.0;
    w.peak_mb = PeakRssKb(watch.pid()) / 1024.0;
    if (!lags_ms.empty()) w.lag_p99_ms = Percentile(lags_ms, 99);
  }
  while (watch.ReadLine(t0 + duration + absl::Minutes(1))) {
  }
  w.exit_code = watch.Wait(absl::Minutes(1));
  w.for_took = absl::ToDoubleSeconds(absl::Now() - t0);
  return w;
}

}  // namespace

std::vector<SectionResult> RunFleet(const BenchContext& ctx) {
  const std::vector<int> sizes =
      ctx.smoke ? std::vector<int>{3} : std::vector<int>{100, 500, 2000};
  const int rounds = ctx.smoke ? 1 : 3;
  const absl::Duration watch_for =
      ctx.smoke ? absl::Seconds(4) : absl::Seconds(30);
  const absl::Duration steady =
      ctx.smoke ? absl::Seconds(2) : absl::Seconds(15);
  std::vector<Variant> variants = {{"this", ctx.tallyctl}};
  if (!ctx.tallyctl_before.empty()) {
    variants.push_back({"before", ctx.tallyctl_before});
  }
  const std::string load = LoadAverage();

  SectionResult fanout;
  Section& f = fanout.section;
  f.title = "Fleet fan-out";
  f.method = absl::StrCat(
      "N stand-in agents (`//tests/testing:standin_fleet`, one process, real "
      "gRPC servers over mutual TLS with synthetic counts) on the same 2 CPUs "
      "as tallyctl; the machine's load average when the section began: ",
      load,
      " (other builds share it). Wall time and tallyctl's own CPU (user + "
      "system, from wait4) of one `tallyctl --agents @FILE --tls-... "
      "--timeout 30s` (a generous deadline: the stand-ins share the CPUs, and "
      "what is measured is the time to answer every agent) for `",
      kHook, "` start, list and stop, median of ", rounds,
      " runs; \"agents' CPU\" is what the stand-in process spent serving the "
      "list (on a real fleet each agent spends its share on its own node). "
      "Hung: a quarter of the agents in a second stand-in process stopped "
      "with SIGSTOP (the kernel still completes TCP), `list --timeout ",
      absl::FormatDuration(kHungTimeout),
      "`. \"before\" is main's tallyctl (gRPC's TLS, at most --parallel 32 "
      "calls in flight) measured in the same run.");
  f.header = {"agents",
              "tallyctl",
              "start s",
              "list s",
              "stop s",
              "list: tallyctl CPU ms/agent",
              "list: agents' CPU s",
              "list, 25% hung s",
              "hung: exit, failed"};

  SectionResult watching;
  Section& w = watching.section;
  w.title = "Fleet watch";
  w.method = absl::StrCat(
      "The same stand-in agents, each counting the probe started above "
      "(1000 events/s); `tallyctl --output json watch --interval 1s --for ",
      absl::FormatDuration(watch_for),
      "`. Once a FLEET line has every agent up, for ",
      absl::FormatDuration(steady),
      ": RSS at the end and its peak (divided by N: the whole process, not "
      "just its per-agent share), CPU = (utime + stime) / wall, \"rows on "
      "time\" = the share of agents whose UPDATE lines never came more than "
      "1.5 intervals apart, \"max gap\" the longest wait for one agent's "
      "next row, lag = when a line was read minus the agent's sample time "
      "(p99). \"--for took\" is the whole run's wall time.");
  w.header = {"agents",
              "tallyctl",
              "RSS MB",
              "KB/agent",
              "peak MB",
              "CPU %",
              "CPU % per 1000 agents",
              "rows on time",
              "max gap s",
              "lag p99 ms",
              "--for took s"};

  const std::string dir = ::tally::testing::MakeTempDir();
  const std::string pki = dir + "/pki";
  if (std::system(
          absl::StrCat(ctx.gen_certs, " ", pki, " >/dev/null").c_str()) != 0) {
    LOG(ERROR) << "gen-certs.sh failed";
    return {fanout, watching};
  }
  auto tls = [&](const Variant& v, const std::string& agents) {
    return std::vector<std::string>{v.binary,
                                    "--agents",
                                    agents,
                                    "--tls-ca",
                                    pki + "/ca.pem",
                                    "--tls-cert",
                                    pki + "/client.pem",
                                    "--tls-key",
                                    pki + "/client.key"};
  };
  auto with = [](std::vector<std::string> argv,
                 std::initializer_list<std::string> more) {
    argv.insert(argv.end(), more.begin(), more.end());
    return argv;
  };

  for (int n : sizes) {
    Standins live(ctx, dir, absl::StrCat("live", n), n, pki);
    Standins hung(ctx, dir, absl::StrCat("hung", n), std::max(1, n / 4), pki);
    if (!live.ok() || !hung.ok()) {
      LOG(ERROR) << "stand-in agents did not start";
      continue;
    }
    const std::string all =
        WriteList(absl::StrCat(dir, "/all", n), live.addresses());
    std::vector<std::string> mixed(
        live.addresses().begin(),
        live.addresses().begin() + (n - hung.addresses().size()));
    mixed.insert(mixed.end(), hung.addresses().begin(), hung.addresses().end());
    const std::string with_hung =
        WriteList(absl::StrCat(dir, "/mixed", n), mixed);
    hung.Signal(SIGSTOP);

    for (const Variant& v : variants) {
      std::vector<double> start, list, stop, list_cpu, agents_cpu;
      for (int r = 0; r < rounds; ++r) {
        Timed s =
            TimedRun(with(tls(v, all), {"--timeout", "30s", "start", kHook}),
                     absl::Minutes(3));
        const double a0 = CpuSeconds(live.pid());
        Timed l = TimedRun(with(tls(v, all), {"--timeout", "30s", "list"}),
                           absl::Minutes(3));
        agents_cpu.push_back(CpuSeconds(live.pid()) - a0);
        Timed p =
            TimedRun(with(tls(v, all), {"--timeout", "30s", "stop", kProbe}),
                     absl::Minutes(3));
        for (const Timed* t : {&s, &l, &p}) {
          if (t->exit_code != 0) {
            LOG(ERROR) << v.name << " at " << n << " exited " << t->exit_code
                       << ": " << t->err.substr(0, 300);
          }
        }
        start.push_back(s.exit_code == 0 ? s.wall : -1);
        list.push_back(l.exit_code == 0 ? l.wall : -1);
        stop.push_back(p.exit_code == 0 ? p.wall : -1);
        list_cpu.push_back(l.cpu / n * 1000);
      }
      Timed h = TimedRun(
          with(tls(v, with_hung),
               {"--timeout", absl::FormatDuration(kHungTimeout), "list"}),
          absl::Minutes(5));
      size_t failed = 0;
      if (size_t semi = h.err.find(" agents ok"); semi != std::string::npos) {
        size_t slash = h.err.rfind('/', semi);
        size_t begin = h.err.rfind('\n', slash);
        begin = begin == std::string::npos ? 0 : begin + 1;
        failed = n - std::atoi(h.err.substr(begin, slash - begin).c_str());
      }
      f.rows.push_back({absl::StrCat(n), v.name, F(Median(start)),
                        F(Median(list)), F(Median(stop)),
                        F(Median(list_cpu), 2), F(Median(agents_cpu)),
                        F(h.wall), absl::StrCat(h.exit_code, ", ", failed)});
      if (v.name == "this" && n == 2000) {
        for (const auto& [what, value] :
             std::vector<std::pair<std::string, double>>{
                 {"start", Median(start)},
                 {"list", Median(list)},
                 {"stop", Median(stop)}}) {
          fanout.targets.push_back(
              {absl::StrCat("2000 agents over mTLS: ", what), "< 2 s wall",
               absl::StrCat(F(value), " s"), value >= 0 && value < 2});
        }
        const double bound = absl::ToDoubleSeconds(kHungTimeout) + 1;
        fanout.targets.push_back(
            {"2000 agents, 25% hung: list within --timeout + 1 s",
             absl::StrFormat("< %.0f s", bound), absl::StrCat(F(h.wall), " s"),
             h.wall >= 0 && h.wall < bound});
      }
      if (v.name == "this" && n == 100) {
        fanout.targets.push_back({"tallyctl start across 100 agents (mTLS)",
                                  "< 1 s", absl::StrCat(F(Median(start)), " s"),
                                  Median(start) >= 0 && Median(start) < 1});
      }
    }

    // Watch with the probe running, so every agent has a row each interval.
    TimedRun(with(tls(variants[0], all), {"start", kHook}), absl::Minutes(3));
    for (const Variant& v : variants) {
      WatchResult r = MeasureWatch(tls(v, all), n, watch_for, steady);
      const double kb = r.rss_mb < 0 ? -1 : r.rss_mb * 1024 / n;
      const double per_1000 = r.cpu_percent < 0 ? -1 : r.cpu_percent * 1000 / n;
      w.rows.push_back(
          {absl::StrCat(n), v.name, F(r.rss_mb, 1), F(kb, 0), F(r.peak_mb, 1),
           F(r.cpu_percent), F(per_1000),
           r.on_time < 0 ? "-" : absl::StrFormat("%.1f%%", r.on_time * 100),
           F(r.max_gap, 2), F(r.lag_p99_ms, 0), F(r.for_took, 1)});
      if (v.name == "this" && n == 2000) {
        watching.targets.push_back(
            {"watch at 1 s, 2000 agents: memory", "< 100 KB per agent",
             absl::StrCat(F(kb, 0), " KB"), kb >= 0 && kb < 100});
        watching.targets.push_back(
            {"watch at 1 s: CPU", "< 10% of a CPU per 1000 agents",
             absl::StrCat(F(per_1000), " %"), per_1000 >= 0 && per_1000 < 10});
        watching.targets.push_back(
            {"watch at 1 s, 2000 agents: every node's row on time",
             "every agent's rows at most 1.5 intervals apart",
             r.on_time < 0 ? "-" : absl::StrFormat("%.1f%%", r.on_time * 100),
             r.on_time >= 1});
      }
    }
    TimedRun(with(tls(variants[0], all), {"stop", kProbe}), absl::Minutes(3));
  }
  if (std::system(("rm -rf " + dir).c_str()) != 0) {
    LOG(WARNING) << "could not remove " << dir;
  }
  return {fanout, watching};
}

}  // namespace tally::bench
