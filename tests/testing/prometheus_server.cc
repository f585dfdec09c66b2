#include "tests/testing/prometheus_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/http_client.h"

namespace tally::testing {
namespace {

namespace pb = google::protobuf;

std::string UnixSeconds(absl::Time t) {
  return absl::StrFormat("%.3f", absl::ToUnixMicros(t) / 1e6);
}

absl::StatusOr<std::pair<double, double>> Point(const pb::Value& v) {
  const pb::ListValue& pair = v.list_value();
  double value = 0;
  if (pair.values_size() != 2 ||
      !absl::SimpleAtod(pair.values(1).string_value(), &value)) {
    return absl::DataLossError("a result point is not [time, \"value\"]");
  }
  return std::make_pair(pair.values(0).number_value(), value);
}

}  // namespace

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

absl::StatusOr<std::unique_ptr<PrometheusServer>> PrometheusServer::Start(
    const std::vector<std::string>& targets, absl::Duration interval) {
  if (Run({"prometheus", "--version"}).exit_code != 0) {
    return absl::FailedPreconditionError(
        "the prometheus binary is missing; run scripts/setup.sh");
  }
  std::unique_ptr<PrometheusServer> p(new PrometheusServer());
  p->dir_ = MakeTempDir();
  std::string list;
  for (const std::string& t : targets) {
    absl::StrAppend(&list, list.empty() ? "" : ", ", "'", t, "'");
  }
  const std::string interval_text =
      absl::StrCat(absl::ToInt64Milliseconds(interval), "ms");
  std::ofstream(p->dir_ + "/prometheus.yml")
      << "global:\n  scrape_interval: " << interval_text
      << "\n  scrape_timeout: " << interval_text
      << "\nscrape_configs:\n  - job_name: tally\n    static_configs:\n"
      << "      - targets: [" << list << "]\n";
  // The port is chosen before Prometheus binds it: retry a lost race.
  for (int attempt = 0; attempt < 5; ++attempt) {
    p->address_ = absl::StrCat("127.0.0.1:", FreeLoopbackPort());
    p->process_ = std::make_unique<Child>(std::vector<std::string>{
        "prometheus", "--config.file=" + p->dir_ + "/prometheus.yml",
        "--storage.tsdb.path=" + p->dir_ + "/data",
        "--web.listen-address=" + p->address_, "--log.level=warn"});
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      absl::StatusOr<HttpResponse> r =
          HttpRequest(p->address_, "GET", "/-/ready", absl::Seconds(2));
      if (r.ok() && r->status == 200) return p;
      if (p->process_->Wait(absl::Milliseconds(50)) != -1000) break;  // died
    }
  }
  return absl::UnavailableError(
      absl::StrCat("prometheus did not become ready: ", p->Log()));
}

PrometheusServer::~PrometheusServer() {
  process_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string PrometheusServer::Log() const {
  return process_ ? process_->Stderr() : "";
}

absl::StatusOr<std::vector<PrometheusServer::Series>> PrometheusServer::Get(
    const std::string& target) {
  absl::StatusOr<HttpResponse> r = HttpRequest(address_, "GET", target);
  if (!r.ok()) return r.status();
  pb::Struct json;
  if (!pb::util::JsonStringToMessage(r->body, &json).ok()) {
    return absl::DataLossError(absl::StrCat("not JSON: ", r->body));
  }
  const auto& f = json.fields();
  if (r->status != 200 || !f.count("status") ||
      f.at("status").string_value() != "success") {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP ", r->status, ": ", r->body));
  }
  std::vector<Series> out;
  const pb::Struct& data = f.at("data").struct_value();
  for (const pb::Value& item :
       data.fields().at("result").list_value().values()) {
    const auto& fields = item.struct_value().fields();
    Series s;
    if (fields.count("metric")) {
      for (const auto& [k, v] : fields.at("metric").struct_value().fields()) {
        s.labels[k] = v.string_value();
      }
    }
    if (fields.count("value")) {
      absl::StatusOr<std::pair<double, double>> point =
          Point(fields.at("value"));
      if (!point.ok()) return point.status();
      s.values.push_back(*point);
    }
    if (fields.count("values")) {
      for (const pb::Value& v : fields.at("values").list_value().values()) {
        absl::StatusOr<std::pair<double, double>> point = Point(v);
        if (!point.ok()) return point.status();
        s.values.push_back(*point);
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::vector<PrometheusServer::Series>> PrometheusServer::Query(
    const std::string& expr, std::optional<absl::Time> at) {
  std::string target = absl::StrCat("/api/v1/query?query=", UrlEncode(expr));
  if (at.has_value()) absl::StrAppend(&target, "&time=", UnixSeconds(*at));
  return Get(target);
}

absl::StatusOr<std::vector<PrometheusServer::Series>>
PrometheusServer::QueryRange(const std::string& expr, absl::Time start,
                             absl::Time end, absl::Duration step) {
  return Get(absl::StrCat("/api/v1/query_range?query=", UrlEncode(expr),
                          "&start=", UnixSeconds(start),
                          "&end=", UnixSeconds(end), "&step=",
                          absl::ToDoubleSeconds(step)));
}

absl::StatusOr<double> PrometheusServer::Scalar(const std::string& expr,
                                                std::optional<absl::Time> at) {
  absl::StatusOr<std::vector<Series>> r = Query(expr, at);
  if (!r.ok()) return r.status();
  if (r->empty()) return absl::NotFoundError(absl::StrCat("no result: ", expr));
  if (r->size() > 1 || (*r)[0].values.size() != 1) {
    return absl::FailedPreconditionError(
        absl::StrCat(r->size(), " results: ", expr));
  }
  return (*r)[0].values[0].second;
}

}  // namespace tally::testing
