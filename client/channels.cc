#include "client/channels.h"

#include <arpa/inet.h>
#include <grpcpp/create_channel_posix.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "client/tls_errors.h"

namespace tally::cli {
namespace {

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

// Splits "host:port", "[v6]:port", "ipv4:host:port" or "ipv6:[v6]:port".
bool SplitTarget(absl::string_view target, std::string* host, int* port) {
  absl::ConsumePrefix(&target, "ipv4:") ||
      absl::ConsumePrefix(&target, "ipv6:");
  size_t colon = target.rfind(':');
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(target.substr(colon + 1), port)) {
    return false;
  }
  absl::string_view h = target.substr(0, colon);
  if (absl::ConsumePrefix(&h, "[")) absl::ConsumeSuffix(&h, "]");
  *host = std::string(h);
  return !host->empty();
}

// The address to connect to: an IP literal as is, a name through the
// resolver (its first address; dns:NAME targets are literals already).
absl::Status Resolve(const std::string& host, int port, sockaddr_storage* out,
                     socklen_t* len) {
  std::memset(out, 0, sizeof(*out));
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof(*v4);
    return absl::OkStatus();
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof(*v6);
    return absl::OkStatus();
  }
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
  if (rc != 0 || result == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", host, ": ", gai_strerror(rc)));
  }
  std::memcpy(out, result->ai_addr, result->ai_addrlen);
  *len = result->ai_addrlen;
  v4->sin_port = htons(port);  // sin_port and sin6_port share the offset
  freeaddrinfo(result);
  return absl::OkStatus();
}

grpc::ChannelArguments BaseArguments() {
  grpc::ChannelArguments args;
  // Each command makes its own channels; sharing subchannels across them
  // buys nothing and keeps dead agents' state around.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // Updates are a few hundred bytes: no need for BDP probing to grow the
  // windows and read buffers.
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  return args;
}

// gRPC's "failed to connect to all addresses; last error: UNKNOWN:
// ipv4:10.0.0.7:7070: Failed to connect to remote host: Connection refused"
// says, once the plumbing is taken out, "Connection refused".
std::string TransportReason(const std::string& message) {
  absl::string_view m = message;
  if (!absl::ConsumePrefix(&m,
                           "failed to connect to all addresses; last "
                           "error: ")) {
    return "";
  }
  // "CODE: ADDRESS: reason": the reason follows the address.
  size_t code_end = m.find(": ");
  if (code_end == absl::string_view::npos) return std::string(m);
  m.remove_prefix(code_end + 2);
  for (absl::string_view scheme : {"ipv4:", "ipv6:", "unix:"}) {
    if (absl::StartsWith(m, scheme)) {
      size_t end = m.find(": ", scheme.size());
      if (scheme == "ipv6:" && absl::StartsWith(m, "ipv6:[")) {
        end = m.find(": ", m.find(']'));
      }
      if (end != absl::string_view::npos) m.remove_prefix(end + 2);
      break;
    }
  }
  absl::ConsumePrefix(&m, "Failed to connect to remote host: ");
  return std::string(m);
}

}  // namespace

std::string DescribeStatus(const grpc::Status& status) {
  return absl::StrCat(CodeName(status.error_code()), ": ",
                      status.error_message());
}

std::string DescribeStatus(const absl::Status& status) {
  return absl::StrCat(CodeName(static_cast<grpc::StatusCode>(status.code())),
                      ": ", status.message());
}

absl::StatusOr<ChannelFactory> ChannelFactory::Create(const TlsOptions& tls) {
  ChannelFactory f;
  f.tls_ = tls;
  if (!tls.enabled()) return f;
  if (tls.cert.empty() != tls.key.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key go together (the agents require a client "
        "certificate)");
  }
  // Handshakes are CPU work: one pump per core, a few at most.
  const int pumps =
      static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
  absl::StatusOr<std::unique_ptr<TlsTunnels>> tunnels =
      TlsTunnels::Create(tls, pumps);
  if (!tunnels.ok()) return tunnels.status();
  f.tunnels_ = std::shared_ptr<TlsTunnels>(std::move(*tunnels));
  return f;
}

void AgentConnection::WhenReady(std::function<void(bool)> ready) const {
  if (channel == nullptr) return ready(false);
  if (tunnel == nullptr) return ready(true);
  tunnel->OnSettled(std::move(ready));
}

AgentConnection ChannelFactory::Connect(const AgentTarget& target,
                                        absl::Duration patience) const {
  AgentConnection c;
  c.patience = patience;
  grpc::ChannelArguments args = BaseArguments();
  const bool unix_socket = absl::StartsWith(target.grpc_target, "unix:");
  if (unix_socket || tunnels_ == nullptr) {
    c.plaintext_tcp = !unix_socket;
    c.channel = grpc::CreateCustomChannel(
        target.grpc_target, grpc::InsecureChannelCredentials(), args);
    return c;
  }
  std::string host;
  int port = 0;
  if (!SplitTarget(target.grpc_target, &host, &port)) {
    c.error = absl::InvalidArgumentError(
        absl::StrCat("not an address: ", target.grpc_target));
    return c;
  }
  sockaddr_storage address;
  socklen_t len = 0;
  c.error = Resolve(host, port, &address, &len);
  if (!c.error.ok()) return c;
  const std::string& verify = !tls_.server_name.empty()  ? tls_.server_name
                              : !target.tls_name.empty() ? target.tls_name
                                                         : host;
  absl::StatusOr<Tunnel> tunnel =
      tunnels_->Open(address, len, verify, patience);
  if (!tunnel.ok()) {
    c.error = tunnel.status();
    return c;
  }
  c.tunnel = tunnel->state;
  c.channel = grpc::CreateCustomInsecureChannelFromFd(target.label,
                                                      tunnel->grpc_fd, args);
  return c;
}

std::string ChannelFactory::Describe(const grpc::Status& status,
                                     const AgentConnection& c) const {
  if (!c.error.ok()) return DescribeStatus(c.error);
  const absl::Duration waited = c.patience;
  if (c.tunnel != nullptr) {
    switch (c.tunnel->phase()) {
      case TunnelState::Phase::kFailed:
        return c.tunnel->error();
      case TunnelState::Phase::kConnecting:
      case TunnelState::Phase::kHandshaking:
        if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
          return DescribeTunnelTimeout(
              c.tunnel->phase() == TunnelState::Phase::kHandshaking, waited);
        }
        break;
      default:
        if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
            !c.tunnel->answered()) {
          return absl::StrCat(
              "DEADLINE_EXCEEDED: TLS is up, but the agent did not answer "
              "within ",
              absl::FormatDuration(waited), ": it is most likely hung");
        }
        break;
    }
  }
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
      status.error_message() == "Deadline Exceeded") {
    return absl::StrCat("DEADLINE_EXCEEDED: no answer within ",
                        absl::FormatDuration(waited));
  }
  const std::string reason = TransportReason(status.error_message());
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE || reason.empty()) {
    return DescribeStatus(status);
  }
  if (absl::StrContains(reason, "Connection refused")) {
    return "UNAVAILABLE: connection refused (no agent listening there)";
  }
  if (absl::StrContains(reason, "No such file or directory")) {
    return "UNAVAILABLE: no such socket (is tallyd running, and listening "
           "there?)";
  }
  if (absl::StrContains(reason, "Permission denied")) {
    return "UNAVAILABLE: permission denied (tallyd's unix socket is for "
           "root only)";
  }
  if (absl::StrContains(reason, "Socket closed") ||
      absl::StrContains(reason, "Connection reset")) {
    // A TLS agent hangs up on a plaintext client without a word.
    if (c.plaintext_tcp) {
      return "UNAVAILABLE: the agent closed the connection without answering: "
             "most likely it requires TLS (pass --tls-ca, --tls-cert and "
             "--tls-key)";
    }
  }
  return absl::StrCat("UNAVAILABLE: ", reason);
}

}  // namespace tally::cli
