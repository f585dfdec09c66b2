#include "agent/daemon/metrics_server.h"

#include <civetweb.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/daemon/metrics_exposition.h"
#include "common/quote.h"
#include "glog/logging.h"

namespace tally {
namespace {

// Enough for any scraper; more is a 400.
constexpr char kMaxRequestBytes[] = "8192";
// For the request head to arrive, from when a thread takes the connection
// (checked after each read, which waits as long: a head still trickling in
// is cut by twice this), and for each write of the answer to make progress.
// A scraper sends its head at once; this bounds what a silent or slow client
// costs a thread beyond MetricsServer::kMaxStalledConnections.
constexpr char kRequestTimeoutMs[] = "2000";
constexpr char kBadTarget[] =
    "the request target must be a path, or an absolute URI naming this "
    "server's port\n";

void InitLibrary() {
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
}

// civetweb's own messages (bad requests, timeouts): for debugging only.
int LogMessage(const mg_connection* /*conn*/, const char* message) {
  VLOG(1) << "metrics server: " << message;
  return 1;  // handled: civetweb prints nothing itself
}

// Through civetweb's response state (not raw mg_printf), so that
// AnswerIfUnanswered sees that this connection has had its answer.
void Reply(mg_connection* conn, int code, const char* allow,
           const std::string& body, bool head) {
  if (mg_response_header_start(conn, code) != 0) return;
  mg_response_header_add(
      conn, "Content-Type",
      code == 200 ? kExpositionContentType : "text/plain; charset=utf-8", -1);
  mg_response_header_add(conn, "Content-Length",
                         absl::StrCat(body.size()).c_str(), -1);
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  if (allow != nullptr) mg_response_header_add(conn, "Allow", allow, -1);
  mg_response_header_add(conn, "Connection", "close", -1);
  mg_response_header_send(conn);
  if (!head) mg_write(conn, body.data(), body.size());
}

// civetweb closes some requests it parsed without a word: an absolute URI
// naming another port (a proxy request; civetweb is no proxy) and "*". Any
// answer already sent (ours or civetweb's 4xx) makes
// mg_response_header_start refuse; a connection that never sent a request
// has no method and gets nothing.
void AnswerIfUnanswered(const mg_connection* const_conn) {
  // civetweb's callback type is const; answering needs the connection.
  mg_connection* conn = const_cast<mg_connection*>(const_conn);
  const mg_request_info* request = mg_get_request_info(conn);
  if (request == nullptr || request->request_method == nullptr) return;
  // The request is over: headers added now are never freed (civetweb frees
  // them with the request; LeakSanitizer found them). The status line, then
  // a body that ends with the connection.
  if (mg_response_header_start(conn, 400) != 0) return;
  mg_response_header_send(conn);
  if (std::strcmp(request->request_method, "HEAD") != 0) {
    mg_write(conn, kBadTarget, std::strlen(kBadTarget));
  }
}

// Opens and closes a connection to "HOST:PORT" (0.0.0.0 reaches this host).
void Poke(const std::string& address) {
  const size_t colon = address.rfind(':');
  addrinfo hints = {};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(address.substr(0, colon).c_str(),
                  address.substr(colon + 1).c_str(), &hints, &res) != 0) {
    return;
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    (void)connect(fd, res->ai_addr, res->ai_addrlen);
    close(fd);
  }
  freeaddrinfo(res);
}

}  // namespace

absl::Status ValidateMetricsListen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics_listen=", Quote(listen),
        " is not HOST:PORT (e.g. 127.0.0.1:9464, 0.0.0.0:9464)"));
  }
  const std::string host = listen.substr(0, colon);
  uint32_t port = 0;
  if (!absl::SimpleAtoi(listen.substr(colon + 1), &port) || port > 65535 ||
      listen.substr(colon + 1).find_first_not_of("0123456789") !=
          std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics_listen=", Quote(listen), ": the port must be 0 to 65535"));
  }
  if (absl::StrContains(host, ":") || absl::StrContains(host, "[")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics_listen=", Quote(listen),
        ": IPv6 addresses are not supported (Debian's civetweb is built "
        "without IPv6); use an IPv4 address such as 0.0.0.0"));
  }
  if (host.find_first_of(" ,") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics_listen=", Quote(listen), ": not a host name or address"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen, Render render) {
  if (absl::Status s = ValidateMetricsListen(listen); !s.ok()) return s;
  InitLibrary();
  std::unique_ptr<MetricsServer> server(new MetricsServer(std::move(render)));
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  callbacks.log_message = &LogMessage;
  callbacks.connection_close = &AnswerIfUnanswered;
  // Each connection holds a thread from accept to close, so a stalled one
  // costs a thread, not a scrape's time, while threads are left. Measured in
  // tallyd, a thread costs ~40 KiB of RSS idle (the static TLS copied into
  // its 100 KiB stack) and ~70 KiB once used: 33 cost ~2 MB more than 4.
  const std::string threads = absl::StrCat(kThreads);
  const char* options[] = {"listening_ports",
                           listen.c_str(),
                           "num_threads",
                           threads.c_str(),
                           "request_timeout_ms",
                           kRequestTimeoutMs,
                           "max_request_size",
                           kMaxRequestBytes,
                           "enable_keep_alive",
                           "no",
                           // Serve an absolute-form target for this port
                           // whatever host it names (civetweb otherwise
                           // wants its authentication_domain there).
                           "enable_auth_domain_check",
                           "no",
                           nullptr};
  server->ctx_ = mg_start(&callbacks, server.get(), options);
  if (server->ctx_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on --metrics_listen=", listen,
                     " (in use, or not an address of this host)"));
  }
  mg_set_request_handler(server->ctx_, "/metrics$", &MetricsServer::Handle,
                         server.get());
  mg_server_port port;
  if (mg_get_server_ports(server->ctx_, 1, &port) != 1) {
    return absl::UnavailableError(
        absl::StrCat("--metrics_listen=", listen, ": no port bound"));
  }
  server->address_ =
      absl::StrCat(listen.substr(0, listen.rfind(':')), ":", port.port);
  LOG(INFO) << "metrics (plaintext HTTP) on http://" << server->address_
            << "/metrics";
  return server;
}

MetricsServer::~MetricsServer() {
  if (ctx_ == nullptr) return;
  // civetweb's listening thread sees the stop flag only between polls of
  // its sockets, which last up to 2 s: a connection ends the poll at once.
  std::atomic<bool> stopped{false};
  std::thread stopper([this, &stopped] {
    mg_stop(ctx_);
    stopped = true;
  });
  for (int i = 0; i < 100 && !stopped; ++i) {
    if (!address_.empty()) Poke(address_);
    absl::SleepFor(absl::Milliseconds(20));
  }
  stopper.join();
}

int MetricsServer::Handle(mg_connection* conn, void* self) {
  const mg_request_info* request = mg_get_request_info(conn);
  const bool head = std::strcmp(request->request_method, "HEAD") == 0;
  // No request here needs a body: civetweb then closes without draining
  // one, which a client trickling bytes could make last for ever.
  mg_disable_connection_keep_alive(conn);
  if (!head && std::strcmp(request->request_method, "GET") != 0) {
    Reply(conn, 405, "GET, HEAD", "only GET and HEAD\n", false);
    return 405;
  }
  // "/metrics$" matches only the exact path; a query string is ignored.
  std::string body = static_cast<MetricsServer*>(self)->render_();
  Reply(conn, 200, nullptr, body, head);
  return 200;
}

}  // namespace tally
