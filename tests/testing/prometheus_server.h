// A real Prometheus server (Debian's `prometheus` binary) for tests: on
// loopback, with a generated config scraping the given targets every
// second and its own temporary storage, queried through its HTTP API.
#ifndef TALLY_TESTS_TESTING_PROMETHEUS_SERVER_H_
#define TALLY_TESTS_TESTING_PROMETHEUS_SERVER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/subprocess.h"

namespace tally::testing {

// A loopback TCP port free now (bound, then released): for a server that
// must listen on the same port across its restarts.
int FreeLoopbackPort();

class PrometheusServer {
 public:
  struct Series {
    std::map<std::string, std::string> labels;
    // (unix seconds, value): one for an instant query, many for a range.
    std::vector<std::pair<double, double>> values;
  };

  // Scrapes each "HOST:PORT" target's /metrics every `interval` (job
  // "tally"). FAILED_PRECONDITION without the binary (scripts/setup.sh).
  static absl::StatusOr<std::unique_ptr<PrometheusServer>> Start(
      const std::vector<std::string>& targets,
      absl::Duration interval = absl::Seconds(1));
  ~PrometheusServer();  // kills it and removes its storage

  // An instant query (at `at`, else now).
  absl::StatusOr<std::vector<Series>> Query(
      const std::string& expr, std::optional<absl::Time> at = std::nullopt);
  absl::StatusOr<std::vector<Series>> QueryRange(const std::string& expr,
                                                 absl::Time start,
                                                 absl::Time end,
                                                 absl::Duration step);
  // The single value of an instant query; NOT_FOUND when it has no result,
  // FAILED_PRECONDITION when it has several.
  absl::StatusOr<double> Scalar(const std::string& expr,
                                std::optional<absl::Time> at = std::nullopt);

  const std::string& address() const { return address_; }
  std::string Log() const;

 private:
  PrometheusServer() = default;
  absl::StatusOr<std::vector<Series>> Get(const std::string& target);

  std::unique_ptr<Child> process_;
  std::string dir_;
  std::string address_;
};

}  // namespace tally::testing

#endif  // TALLY_TESTS_TESTING_PROMETHEUS_SERVER_H_
