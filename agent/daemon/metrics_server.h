// tallyd --metrics_listen: /metrics over plain HTTP, served by civetweb
// (Debian's libcivetweb; no HTTP parsing here). GET and HEAD of /metrics
// only: another path is 404, another method 405; civetweb answers
// malformed or oversized requests (over 8 KiB of headers) with 400 and
// closes a connection whose request has not arrived whole within 5 s, so a
// slow or hostile client holds one of its few threads for 5 s at most.
#ifndef TALLY_AGENT_DAEMON_METRICS_SERVER_H_
#define TALLY_AGENT_DAEMON_METRICS_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct mg_connection;
struct mg_context;

namespace tally {

class MetricsServer {
 public:
  // The exposition text; called on civetweb's threads, maybe concurrently.
  using Render = std::function<std::string()>;

  // `listen`: HOST:PORT with an IPv4 address or a name (Debian's civetweb
  // has no IPv6); port 0 picks a free one. INVALID_ARGUMENT for another
  // form, UNAVAILABLE when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& listen, Render render);
  // Stops serving; returns once no request is being handled.
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // "HOST:PORT" as bound.
  const std::string& address() const { return address_; }

 private:
  explicit MetricsServer(Render render) : render_(std::move(render)) {}
  static int Handle(::mg_connection* conn, void* self);

  const Render render_;
  ::mg_context* ctx_ = nullptr;
  std::string address_;
};

// Checks `listen` as Start() would, without binding.
absl::Status ValidateMetricsListen(const std::string& listen);

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_METRICS_SERVER_H_
