// Mutual TLS to the agents, done by tallyctl instead of by gRPC.
//
// gRPC 1.51 builds a fresh TLS context for every connection (parsing the
// CA, the client certificate and its key: about 1 ms of CPU with OpenSSL 3)
// and keeps about 120 KB of TLS buffers per connection; at thousands of
// agents that was most of tallyctl's CPU and memory. Here one SSL_CTX serves
// every connection and OpenSSL releases a connection's buffers while it is
// idle. gRPC speaks HTTP/2 in plaintext over one end of a socketpair; a pump
// thread carries the bytes over TLS on the other. A failed handshake is then
// known exactly: the agent's alert, or why its certificate did not verify,
// instead of gRPC's "Socket closed".
#ifndef TALLY_CLIENT_TLS_TUNNEL_H_
#define TALLY_CLIENT_TLS_TUNNEL_H_

#include <sys/socket.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace tally::cli {

struct TlsOptions {
  std::string ca;           // CA bundle that signed the agents' certificates
  std::string cert;         // client certificate (mutual TLS)
  std::string key;          // its private key
  std::string server_name;  // name to verify instead of the address's host
  bool enabled() const { return !ca.empty() || !cert.empty() || !key.empty(); }
};

// What became of one tunnel; written by its pump, read by whoever owns the
// gRPC channel on top.
class TunnelState {
 public:
  enum class Phase { kConnecting, kHandshaking, kUp, kFailed, kClosed };

  Phase phase() const ABSL_LOCKS_EXCLUDED(mu_);
  // "CODE: what most likely happened", once kFailed.
  std::string error() const ABSL_LOCKS_EXCLUDED(mu_);
  // kUp once application data has come from the agent: only then has it
  // accepted this client (TLS 1.3 servers check the client's certificate
  // after the client's side of the handshake is done).
  bool answered() const ABSL_LOCKS_EXCLUDED(mu_);

  // Runs `callback(up)` once, when the tunnel is up or has failed (or was
  // closed first): right here if that has happened, else on the pump's
  // thread. Must not block.
  void OnSettled(std::function<void(bool up)> callback)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The pump's side. kUp, kFailed and kClosed settle the tunnel.
  void Set(Phase phase, std::string error = "") ABSL_LOCKS_EXCLUDED(mu_);
  void MarkAnswered() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kConnecting;
  std::string error_ ABSL_GUARDED_BY(mu_);
  bool answered_ ABSL_GUARDED_BY(mu_) = false;
  bool settled_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void(bool)> on_settled_ ABSL_GUARDED_BY(mu_);
};

struct Tunnel {
  int grpc_fd = -1;  // gRPC's end; gRPC owns it once a channel is made
  std::shared_ptr<TunnelState> state;
};

class TlsTunnels {
 public:
  // INVALID_ARGUMENT when the files are unusable (unreadable, not PEM, key
  // not matching the certificate). `pumps` threads carry all tunnels.
  static absl::StatusOr<std::unique_ptr<TlsTunnels>> Create(
      const TlsOptions& tls, int pumps);
  ~TlsTunnels();

  // Starts a TCP connection to `address` and a TLS handshake verifying that
  // the agent's certificate names `verify_name` (a DNS name or an IP
  // address); returns at once. The tunnel fails when the agent keeps it
  // waiting longer than `patience` at any step (connect, each handshake
  // flight): time tallyctl itself takes, busy with other agents, is not held
  // against it. The tunnel closes when gRPC closes its end, or the agent
  // does. UNAVAILABLE/RESOURCE_EXHAUSTED when no socket can be made.
  absl::StatusOr<Tunnel> Open(const sockaddr_storage& address,
                              socklen_t address_len,
                              const std::string& verify_name,
                              absl::Duration patience);

  // File descriptors one tunnel holds: the TCP socket and a socketpair.
  static constexpr size_t kFdsPerTunnel = 3;

 private:
  class Pump;
  TlsTunnels() = default;

  SSL_CTX* ctx_ = nullptr;
  // See TlsFailure::client_certificate_note.
  std::string client_certificate_note_;
  std::vector<std::unique_ptr<Pump>> pumps_;
  absl::Mutex mu_;
  size_t next_pump_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tally::cli

#endif  // TALLY_CLIENT_TLS_TUNNEL_H_
