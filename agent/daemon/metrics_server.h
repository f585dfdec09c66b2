// tallyd --metrics_listen: /metrics over plain HTTP, served by civetweb
// (Debian's libcivetweb; no HTTP parsing here). GET and HEAD of /metrics
// only (also as an absolute URI naming this port): another path is 404,
// another method 405, any other target 400; civetweb answers malformed or
// oversized requests (over 8 KiB of headers) with 400. Every connection
// holds one of kThreads threads until closed: a silent one for 2 s, one
// trickling its request head for 4 s at most, one not reading its answer
// until a write makes no progress for 2 s; a request body is never read.
// So up to kMaxStalledConnections stalled clients never delay a scrape.
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

  // Stalled connections that never delay a scrape: each holds a worker
  // thread until it is cut, and one more thread is left for the scrape.
  static constexpr int kMaxStalledConnections = 32;
  static constexpr int kThreads = kMaxStalledConnections + 1;

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
