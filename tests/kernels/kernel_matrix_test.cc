// Compile once, run everywhere, proven: the very tallyd and tallyctl this
// build produced count one probe of every kind on Debian's 5.10, 6.1 and
// 6.12 cloud kernels (booted under QEMU with an initramfs holding them) and
// on the host kernel. Prints a kernel x mechanism matrix; a wrong count
// fails, and "not supported" passes only where the kernel really lacks the
// mechanism and the agent said so.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tally/v1/cli_output.pb.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/bpf_test_env.h"
#include "tests/testing/subprocess.h"

namespace tally {
namespace {

using ::tally::testing::RunfilePath;

constexpr uint64_t kEvents = 1000;

// Rows: scenario probe name, and the attach kind its errors name.
const std::vector<std::pair<std::string, std::string>> kRows = {
    {"tracepoint", "tracepoint"},
    {"rawtracepoint", "raw_tp"},
    {"tp_btf", "tp_btf"},
    {"kprobe", "kprobe"},
    {"kretprobe", "kretprobe"},
    {"fentry", "fentry"},
    {"fexit", "fexit"},
    {"uprobe", "uprobe"},
    {"uretprobe", "uretprobe"},
    {"syscall", ""},
    {"comm", ""},
};

// Rows of the key-reading rounds (scenario.sh keys_round), after the
// probes': each map-read method, reclaiming, and the restarted agents'
// kernel features coming from the boot's cache.
constexpr int kThreads = 40;
const std::vector<std::string> kReadMethods = {"batch", "walk"};
const std::vector<std::pair<std::string, std::string>> kKeyRows = {
    {"keys_batch", "keys by pid, batched reads (BPF_MAP_LOOKUP_BATCH)"},
    {"keys_walk", "keys by pid, key walk (the pre-5.6 path)"},
    {"reclaim", "ended threads' keys reclaimed, counts kept"},
    {"feature_cache", "restart: kernel features from this boot's cache"},
};

// Rows of the durable round: each kind pinned, then N events before, N
// during and N after an agent's kill -9 and restart.
const std::vector<std::pair<std::string, std::string>> kPinRows = {
    {"tracepoint", "tracepoint"}, {"rawtracepoint", "raw_tp"},
    {"tp_btf", "tp_btf"},         {"kprobe", "kprobe"},
    {"kretprobe", "kretprobe"},   {"fentry", "fentry"},
    {"fexit", "fexit"},           {"uprobe", "uprobe"},
    {"uretprobe", "uretprobe"},   {"comm", ""},
};

struct Suite {
  const char* name;
  const char* label;
};
const Suite kSuites[] = {
    {"bullseye", "Debian 11 (5.10)"},
    {"bookworm", "Debian 12 (6.1)"},
    {"trixie", "Debian 13 (6.12)"},
};

// kGap: re-adopted with the window it could not count reported (the kernel
// cannot pin that kind of link).
enum class Result { kCounted, kUnsupported, kWrong, kGap };

struct Cell {
  Result result = Result::kWrong;
  std::string detail;     // count, or the agent's message
  std::string mechanism;  // what it attached with
};

struct Column {
  std::string label;
  std::string release;
  bool kprobe_pmu = false;
  std::map<std::string, Cell> cells;
  std::string failure;  // the run itself failed (boot, crash)
};

std::string CacheDir() {
  const char* env = std::getenv("TALLY_KERNEL_CACHE");
  return env != nullptr && *env ? env : "/var/cache/tally/kernels";
}

bool Required() {
  const char* env = std::getenv("TALLY_REQUIRE_KERNELS");
  return env != nullptr && std::string(env) == "1";
}

v1::AgentLine ParseLine(const std::string& json) {
  v1::AgentLine line;
  (void)google::protobuf::util::JsonStringToMessage(json, &line);
  return line;
}

uint64_t Sum(const std::map<std::string, uint64_t>& m) {
  uint64_t sum = 0;
  for (const auto& [k, v] : m) sum += v;
  return sum;
}

std::map<std::string, bool> Kinds(const v1::AgentLine& line) {
  std::map<std::string, bool> out;
  for (const auto& k : line.info().attach_kinds())
    out[k.kind()] = k.supported();
  return out;
}

// The key-reading rounds: every live thread's key holds exactly its calls
// (read with each method); once they end, every key is reclaimed with all
// its counts; each restart took its kernel features from the cache.
void ParseKeyRounds(
    const std::map<std::string, std::map<std::string, uint64_t>>& tids,
    const std::map<std::string, v1::WatchLine>& keys_read,
    const std::map<std::string, v1::WatchLine>& reclaimed,
    const std::map<std::string, v1::AgentLine>& infos, Column* column) {
  Cell& reclaim = column->cells["reclaim"];
  Cell& cache = column->cells["feature_cache"];
  reclaim.result = cache.result = Result::kCounted;
  auto first = infos.find("");
  for (const std::string& method : kReadMethods) {
    Cell& cell = column->cells["keys_" + method];
    auto want = tids.find(method);
    auto got = keys_read.find(method);
    if (want == tids.end() || want->second.size() != kThreads ||
        got == keys_read.end()) {
      cell.detail = absl::StrCat("no keys read with ", method);
      reclaim.result = cache.result = Result::kWrong;
      reclaim.detail = cache.detail = cell.detail;
      continue;
    }
    std::map<std::string, uint64_t> keys;
    for (const auto& kc : got->second.top_keys()) keys[kc.key()] = kc.count();
    const uint64_t sum = Sum(want->second);
    cell.result = keys == want->second && got->second.agent_total() == sum &&
                          got->second.dropped_keys() == 0
                      ? Result::kCounted
                      : Result::kWrong;
    cell.detail = absl::StrCat(keys.size(), " keys adding up to ", Sum(keys),
                               " of ", got->second.agent_total(), "; expected ",
                               kThreads, " adding up to ", sum);
    auto after = reclaimed.find(method);
    if (after == reclaimed.end() ||
        after->second.reclaimed_keys() != kThreads ||
        after->second.reclaimed() != sum ||
        after->second.top_keys_size() != 0 ||
        after->second.agent_total() != sum) {
      reclaim.result = Result::kWrong;
      reclaim.detail = absl::StrCat(
          method, ": ",
          after == reclaimed.end()
              ? "no update"
              : absl::StrCat(after->second.reclaimed_keys(), " keys, ",
                             after->second.reclaimed(), " events reclaimed, ",
                             after->second.top_keys_size(), " keys left"),
          "; expected ", kThreads, " keys, ", sum, " events");
    }
    auto info = infos.find(method);
    if (info == infos.end() || first == infos.end() ||
        !absl::StartsWith(info->second.info().attach_kinds_source(),
                          "cached: ") ||
        Kinds(info->second) != Kinds(first->second)) {
      cache.result = Result::kWrong;
      cache.detail = absl::StrCat(
          method, " restart: ",
          info == infos.end() ? "no info"
                              : info->second.info().attach_kinds_source());
    }
  }
}

// The durable round: a pinned link counts all 3N (downtime included); an
// unpinnable one is re-attached to its maps and counts 2N, with the window
// reported; anything else is wrong.
void ParsePinRound(const std::map<std::string, v1::AgentLine>& pinned,
                   const std::map<std::string, v1::Probe>& readopted,
                   const std::map<std::string, uint64_t>& comm_keys,
                   Column* column) {
  for (const auto& [row, kind] : kPinRows) {
    Cell& cell = column->cells["pin_" + row];
    auto start = pinned.find(row);
    if (start == pinned.end()) {
      cell.detail = "no start result";
      continue;
    }
    if (!start->second.error().empty()) {
      cell.detail = start->second.error();
      if (!kind.empty() &&
          absl::StrContains(cell.detail,
                            absl::StrCat("cannot attach ", kind))) {
        cell.result = Result::kUnsupported;
      }
      continue;
    }
    auto it = readopted.find(row);
    if (it == readopted.end()) {
      cell.detail = "not listed after the restart";
      continue;
    }
    const v1::Probe& p = it->second;
    cell.mechanism = p.attached();
    const bool same =
        p.readopted() && p.probe_id() == start->second.probe().probe_id();
    if (same && p.uncounted_size() == 0 && p.total() == 3 * kEvents) {
      cell.result = Result::kCounted;
    } else if (same && p.uncounted_size() == 1 && p.total() == 2 * kEvents) {
      cell.result = Result::kGap;
    }
    cell.detail =
        absl::StrCat(p.total(), " of ", 3 * kEvents, ", ", p.uncounted_size(),
                     " uncounted window(s); ", p.continuity());
    if (row == "comm" && cell.result != Result::kWrong) {
      // The helper renames itself (task_rename events) after its first
      // getppid() calls: the first round is under its binary's name, later
      // ones under the names it took. Keys carried over add up to the total.
      auto first = comm_keys.find("tally-events");
      if (first == comm_keys.end() || first->second != kEvents ||
          Sum(comm_keys) != p.total()) {
        cell.result = Result::kWrong;
        cell.detail = absl::StrCat(
            "key tally-events=", first == comm_keys.end() ? 0 : first->second,
            ", keys add up to ", Sum(comm_keys), " of ", p.total());
      }
    }
  }
}

// Reads the scenario's "@@" markers and tallyctl JSON lines into a column.
Column Parse(const std::string& label, const std::string& output) {
  Column column;
  column.label = label;
  std::map<std::string, v1::AgentLine> started;
  std::map<std::string, uint64_t> totals;
  std::map<std::string, uint64_t> comm_keys;
  // By round (read method): TID -> calls, the keys read, the reclaimed
  // update, the restarted agent's info ("" : the first start's).
  std::map<std::string, std::map<std::string, uint64_t>> tids;
  std::map<std::string, v1::WatchLine> keys_read, reclaimed;
  std::map<std::string, v1::AgentLine> infos;
  // The durable round: start results, the re-adopted listing, comm keys.
  std::map<std::string, v1::AgentLine> pinned;
  std::map<std::string, v1::Probe> readopted;
  std::map<std::string, uint64_t> readopted_keys;
  std::string section, current;
  bool done = false;
  for (absl::string_view raw : absl::StrSplit(output, '\n')) {
    std::string line(absl::StripTrailingAsciiWhitespace(raw));
    if (absl::StartsWith(line, "@@")) {
      std::vector<std::string> words = absl::StrSplit(line.substr(2), ' ');
      section = words[0];
      if (section == "KERNEL" && words.size() > 1) column.release = words[1];
      if (section == "KPROBE_PMU")
        column.kprobe_pmu = words.size() > 1 && words[1] == "yes";
      if ((section == "START" || section == "PIN") && words.size() > 1) {
        current = words[1];
      }
      if (section == "DONE") done = true;
      continue;
    }
    if (absl::StartsWith(section, "TIDS_")) {
      std::vector<std::string> words = absl::StrSplit(line, ' ');
      uint64_t calls = 0;
      if (words.size() == 2 && absl::SimpleAtoi(words[1], &calls)) {
        tids[section.substr(5)][words[0]] = calls;
      }
      continue;
    }
    if (line.empty() || line[0] != '{') continue;
    if (absl::StartsWith(section, "KEYS_") ||
        absl::StartsWith(section, "RECLAIM_")) {
      v1::WatchLine update;
      (void)google::protobuf::util::JsonStringToMessage(line, &update);
      (section[0] == 'K' ? keys_read
                         : reclaimed)[section.substr(section.find('_') + 1)] =
          update;
      continue;
    }
    if (section == "INFO" || absl::StartsWith(section, "INFO_")) {
      infos[section == "INFO" ? "" : section.substr(5)] = ParseLine(line);
      continue;
    }
    if (section == "KEYS" || section == "READOPTED_KEYS") {
      v1::WatchLine update;
      (void)google::protobuf::util::JsonStringToMessage(line, &update);
      for (const auto& kc : update.top_keys()) {
        (section == "KEYS" ? comm_keys : readopted_keys)[kc.key()] = kc.count();
      }
      continue;
    }
    if (section == "PIN") {
      pinned[current] = ParseLine(line);
      continue;
    }
    if (section == "READOPTED") {
      v1::AgentLine parsed = ParseLine(line);
      readopted[parsed.probe().name()] = parsed.probe();
      continue;
    }
    v1::AgentLine parsed = ParseLine(line);
    if (section == "START") started[current] = parsed;
    if (section == "LIST")
      totals[parsed.probe().name()] = parsed.probe().total();
  }
  if (!done) {
    column.failure = "the scenario did not finish (see the test log)";
    return column;
  }
  for (const auto& [row, kind] : kRows) {
    Cell& cell = column.cells[row];
    auto it = started.find(row);
    if (it == started.end()) {
      cell.detail = "no start result";
      continue;
    }
    const v1::AgentLine& start = it->second;
    if (!start.error().empty()) {
      cell.detail = start.error();
      if (!kind.empty() &&
          absl::StartsWith(start.error(), "FAILED_PRECONDITION") &&
          absl::StrContains(start.error(),
                            absl::StrCat("cannot attach ", kind))) {
        cell.result = Result::kUnsupported;
      }
      continue;
    }
    cell.mechanism = start.probe().attached();
    uint64_t total = totals.count(row) ? totals[row] : 0;
    cell.result = total == kEvents ? Result::kCounted : Result::kWrong;
    cell.detail = absl::StrCat(total);
    if (row == "comm") {
      // Every call came from the helper, named after its binary.
      uint64_t keyed =
          comm_keys.count("tally-events") ? comm_keys["tally-events"] : 0;
      if (keyed != kEvents || comm_keys.size() != 1) {
        cell.result = Result::kWrong;
        cell.detail = absl::StrCat("key tally-events=", keyed, " of ",
                                   comm_keys.size(), " keys");
      }
    }
  }
  ParseKeyRounds(tids, keys_read, reclaimed, infos, &column);
  ParsePinRound(pinned, readopted, readopted_keys, &column);
  return column;
}

// Where "not supported" is the truth rather than a bug: kprobes exactly when
// the kernel has no kprobe PMU; fentry/fexit only on the host kernel, which
// refuses them (EPERM; see design.md). Every Debian kernel has both.
bool MayBeUnsupported(const Column& c, const std::string& row, bool host) {
  if (row == "kprobe" || row == "kretprobe") return !c.kprobe_pmu;
  if (row == "fentry" || row == "fexit") return host;
  return false;
}

void Check(const Column& c, bool host) {
  ASSERT_EQ(c.failure, "") << c.label;
  for (const auto& [row, label] : kKeyRows) {
    SCOPED_TRACE(absl::StrCat(c.label, " ", label));
    auto it = c.cells.find(row);
    ASSERT_NE(it, c.cells.end());
    EXPECT_EQ(it->second.result, Result::kCounted) << it->second.detail;
  }
  for (const auto& [row, kind] : kRows) {
    const Cell& cell = c.cells.at(row);
    SCOPED_TRACE(absl::StrCat(c.label, " ", row));
    switch (cell.result) {
      case Result::kCounted:
        break;
      case Result::kUnsupported:
        EXPECT_TRUE(MayBeUnsupported(c, row, host))
            << "the agent says unsupported, but this kernel has it: "
            << cell.detail;
        break;
      case Result::kWrong:
      case Result::kGap:
        ADD_FAILURE() << "wrong: " << cell.detail << " (expected " << kEvents
                      << ")";
        break;
    }
  }
  for (const auto& [row, kind] : kPinRows) {
    const Cell& cell = c.cells.at("pin_" + row);
    SCOPED_TRACE(absl::StrCat(c.label, " durable ", row));
    switch (cell.result) {
      case Result::kCounted:
      case Result::kGap:
        break;
      case Result::kUnsupported:
        EXPECT_TRUE(MayBeUnsupported(c, row, host)) << cell.detail;
        break;
      case Result::kWrong:
        ADD_FAILURE() << "wrong: " << cell.detail;
        break;
    }
  }
  // syscall: must take fentry wherever fentry works, else the tracepoint.
  const Cell& syscall = c.cells.at("syscall");
  if (c.cells.at("fentry").result == Result::kCounted) {
    EXPECT_TRUE(absl::StartsWith(syscall.mechanism, "fentry:"))
        << c.label << ": syscall: attached " << syscall.mechanism;
  } else {
    EXPECT_TRUE(absl::StartsWith(syscall.mechanism, "tracepoint:"))
        << c.label << ": syscall: attached " << syscall.mechanism;
  }
}

std::string CellText(const Cell& cell) {
  switch (cell.result) {
    case Result::kCounted:
      return "counted";
    case Result::kUnsupported:
      return "not supported";
    case Result::kWrong:
      return absl::StrCat("WRONG (", cell.detail, ")");
    case Result::kGap:
      return "re-adopted, gap reported";
  }
  return "?";
}

// The matrix as markdown, plus the agent's own words for each "not
// supported" cell.
std::string Matrix(const std::vector<Column>& columns) {
  std::string out = "| mechanism |";
  for (const Column& c : columns) absl::StrAppend(&out, " ", c.label, " |");
  absl::StrAppend(&out, "\n| --- |");
  for (size_t i = 0; i < columns.size(); ++i) absl::StrAppend(&out, " --- |");
  absl::StrAppend(&out, "\n| kernel release |");
  for (const Column& c : columns) absl::StrAppend(&out, " ", c.release, " |");
  absl::StrAppend(&out, "\n");
  for (const auto& [row, kind] : kRows) {
    absl::StrAppend(&out, "| ",
                    row == "syscall" ? "syscall:getppid"
                    : row == "comm"  ? "group by comm (CO-RE read)"
                                     : row,
                    " |");
    for (const Column& c : columns) {
      auto it = c.cells.find(row);
      std::string text = !c.failure.empty()    ? "run failed"
                         : it == c.cells.end() ? "-"
                                               : CellText(it->second);
      if (row == "syscall" && it != c.cells.end() &&
          it->second.result == Result::kCounted) {
        absl::StrAppend(&text, " via ", it->second.mechanism);
      }
      absl::StrAppend(&out, " ", text, " |");
    }
    absl::StrAppend(&out, "\n");
  }
  for (const auto& [row, label] : kKeyRows) {
    absl::StrAppend(&out, "| ", label, " |");
    for (const Column& c : columns) {
      auto it = c.cells.find(row);
      absl::StrAppend(
          &out, " ",
          !c.failure.empty()    ? "run failed"
          : it == c.cells.end() ? "-"
          : it->second.result == Result::kCounted
              ? std::string(row == "feature_cache" ? "yes" : "exact")
              : CellText(it->second),
          " |");
    }
    absl::StrAppend(&out, "\n");
  }
  for (const auto& [row, kind] : kPinRows) {
    absl::StrAppend(&out, "| durable ", row == "comm" ? "group by comm" : row,
                    ": kill -9, restart |");
    for (const Column& c : columns) {
      auto it = c.cells.find("pin_" + row);
      absl::StrAppend(&out, " ",
                      !c.failure.empty()    ? "run failed"
                      : it == c.cells.end() ? "-"
                      : it->second.result == Result::kCounted
                          ? std::string("re-adopted, downtime counted")
                          : CellText(it->second),
                      " |");
    }
    absl::StrAppend(&out, "\n");
  }
  std::string notes;
  for (const Column& c : columns) {
    for (const auto& [row, cell] : c.cells) {
      if (cell.result == Result::kUnsupported) {
        absl::StrAppend(&notes, "- ", c.label, ", ", row, ": ", cell.detail,
                        "\n");
      }
    }
  }
  if (!notes.empty())
    absl::StrAppend(&out, "\nThe agent's own words:\n\n", notes);
  return out;
}

class KernelMatrixTest : public ::testing::Test {
 protected:
  void SetUp() override { TALLY_REQUIRE_BPF(); }

  // Reports a missing prerequisite: fail when required (CI), else skip.
  bool Missing(const std::string& why) {
    if (Required()) {
      ADD_FAILURE() << "TALLY_REQUIRE_KERNELS=1 but " << why;
    } else {
      std::cout << "skipped: " << why << "\n";
    }
    return true;
  }
};

TEST_F(KernelMatrixTest, SameBinariesCountCorrectlyOnEveryKernel) {
  std::vector<Column> columns;

  // The host kernel: no VM.
  {
    std::string rundir = ::tally::testing::MakeTempDir();
    std::string cmd = absl::StrCat(
        "TALLYD=", RunfilePath("agent/tallyd"),
        " TALLYCTL=", RunfilePath("client/tallyctl"),
        " EVENTS=", RunfilePath("tests/kernels/tally-events"), " N=", kEvents,
        " RUNDIR=", rundir, " PINS=/sys/fs/bpf/tally-matrix-", getpid(), " sh ",
        RunfilePath("tests/kernels/scenario.sh"));
    ::tally::testing::RunResult r =
        ::tally::testing::Run({"sh", "-c", cmd}, absl::Minutes(5));
    std::system(("rm -rf " + rundir).c_str());
    Column host = Parse("host", r.out);
    if (!host.failure.empty()) std::cout << r.out << r.err;
    Check(host, /*host=*/true);
    columns.push_back(std::move(host));
  }

  // The Debian kernels, booted concurrently (software emulation).
  std::string qemu = "qemu-system-x86_64";
  if (std::system(("command -v " + qemu + " >/dev/null").c_str()) != 0) {
    Missing(
        "qemu-system-x86_64 is not installed (scripts/setup.sh installs it)");
  } else {
    std::string work = ::tally::testing::MakeTempDir();
    std::string initrd = work + "/initrd.gz";
    ::tally::testing::RunResult packed = ::tally::testing::Run(
        {RunfilePath("tests/kernels/make-initramfs.sh"), initrd,
         RunfilePath("agent/tallyd"), RunfilePath("client/tallyctl"),
         RunfilePath("tests/kernels/tally-events"),
         RunfilePath("tests/kernels/scenario.sh"),
         RunfilePath("tests/kernels/init.sh")},
        absl::Minutes(2));
    ASSERT_EQ(packed.exit_code, 0) << packed.err;

    std::vector<
        std::pair<const Suite*, std::future<::tally::testing::RunResult>>>
        runs;
    for (const Suite& suite : kSuites) {
      std::string vmlinuz =
          absl::StrCat(CacheDir(), "/", suite.name, "/vmlinuz");
      if (access(vmlinuz.c_str(), R_OK) != 0) {
        Missing(absl::StrCat("no ", suite.name, " kernel at ", vmlinuz,
                             "; run tests/kernels/fetch-kernels.sh"));
        continue;
      }
      runs.emplace_back(&suite, std::async(std::launch::async, [=] {
        return ::tally::testing::Run(
            {qemu,
             "-machine",
             "accel=tcg",
             "-cpu",
             "max",
             "-smp",
             "1",
             "-m",
             "1024",
             "-kernel",
             vmlinuz,
             "-initrd",
             initrd,
             "-append",
             absl::StrCat("console=ttyS0 quiet panic=-1 tally.n=", kEvents),
             "-display",
             "none",
             "-serial",
             "stdio",
             "-monitor",
             "none",
             "-no-reboot"},
            absl::Minutes(8));
      }));
    }
    for (auto& [suite, future] : runs) {
      ::tally::testing::RunResult r = future.get();
      Column column = Parse(suite->label, r.out);
      const bool failed_before = ::testing::Test::HasFailure();
      Check(column, /*host=*/false);
      if (!column.failure.empty() ||
          (::testing::Test::HasFailure() && !failed_before)) {
        std::cout << "---- " << suite->label << " console ----\n"
                  << r.out << r.err << "\n";
      }
      columns.push_back(std::move(column));
    }
    std::system(("rm -rf " + work).c_str());
  }

  std::string matrix = Matrix(columns);
  std::cout << "\nkernel x mechanism (" << kEvents << " events each):\n\n"
            << matrix << std::endl;
  if (const char* dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR")) {
    std::ofstream(absl::StrCat(dir, "/kernels.md")) << matrix;
  }
}

}  // namespace
}  // namespace tally
