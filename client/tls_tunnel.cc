#include "client/tls_tunnel.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/tls_errors.h"

namespace tally::cli {
namespace {

// The largest TLS record's plaintext, plus slack.
constexpr size_t kScratch = 16 * 1024 + 512;
// What is taken from gRPC's side at once.
constexpr size_t kChunk = 16 * 1024;
constexpr unsigned char kAlpnH2[] = {2, 'h', '2'};

std::string OpenSslError() {
  unsigned long e = ERR_peek_last_error();
  const char* reason = e == 0 ? nullptr : ERR_reason_error_string(e);
  return reason != nullptr ? reason : "unknown OpenSSL error";
}

// Agents usually trust the CA that signed their own certificate, the one in
// --tls-ca: a client certificate that does not chain to it, or has expired,
// is worth mentioning when an agent hangs up on us.
std::string CheckOwnCertificate(SSL_CTX* ctx) {
  X509* cert = SSL_CTX_get0_certificate(ctx);
  if (cert == nullptr) return "";
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx, &chain);
  X509_STORE_CTX* verify = X509_STORE_CTX_new();
  std::string note;
  if (verify != nullptr &&
      X509_STORE_CTX_init(verify, SSL_CTX_get_cert_store(ctx), cert, chain) ==
          1) {
    X509_STORE_CTX_set_purpose(verify, X509_PURPOSE_SSL_CLIENT);
    if (X509_verify_cert(verify) != 1) {
      const int error = X509_STORE_CTX_get_error(verify);
      note = error == X509_V_ERR_CERT_HAS_EXPIRED
                 ? "note that --tls-cert has expired"
                 : absl::StrCat(
                       "note that --tls-cert does not verify against "
                       "--tls-ca either: ",
                       X509_verify_cert_error_string(error));
    }
  }
  X509_STORE_CTX_free(verify);
  ERR_clear_error();
  return note;
}

bool IsIpAddress(const std::string& name) {
  in6_addr v6;
  in_addr v4;
  return inet_pton(AF_INET, name.c_str(), &v4) == 1 ||
         inet_pton(AF_INET6, name.c_str(), &v6) == 1;
}

// One tunnel, owned by its pump thread once handed over.
struct Conn {
  enum Stage { kConnect, kHandshake, kUp };

  int net = -1;  // TCP socket to the agent
  int app = -1;  // our end of the socketpair; gRPC has the other
  SSL* ssl = nullptr;
  std::shared_ptr<TunnelState> state;
  std::string verify_name;
  const std::string* client_certificate_note = nullptr;
  absl::Duration patience;
  absl::Time deadline;  // when the agent has kept us waiting too long
  Stage stage = kConnect;
  bool want_read = false;         // the last SSL call wants the socket readable
  bool want_write = false;        // ... or writable
  bool read_wants_write = false;  // an SSL_read waits for the socket writable
  bool answered = false;          // application data came from the agent
  bool dead = false;              // closed; deleted after this batch of events
  int connect_error = 0;          // connect() failed at once
  std::string to_net;             // plaintext SSL_write has not taken yet
  std::string to_app;             // plaintext gRPC has not read yet
  uint32_t net_events = 0;
  uint32_t app_events = 0;
};

}  // namespace

TunnelState::Phase TunnelState::phase() const {
  absl::MutexLock lock(&mu_);
  return phase_;
}

std::string TunnelState::error() const {
  absl::MutexLock lock(&mu_);
  return error_;
}

bool TunnelState::answered() const {
  absl::MutexLock lock(&mu_);
  return answered_;
}

void TunnelState::OnSettled(std::function<void(bool up)> callback) {
  bool up;
  {
    absl::MutexLock lock(&mu_);
    if (!settled_) {
      on_settled_ = std::move(callback);
      return;
    }
    up = phase_ == Phase::kUp;
  }
  callback(up);
}

void TunnelState::Set(Phase phase, std::string error) {
  std::function<void(bool)> callback;
  {
    absl::MutexLock lock(&mu_);
    phase_ = phase;
    if (!error.empty()) error_ = std::move(error);
    if (settled_ || phase == Phase::kConnecting ||
        phase == Phase::kHandshaking) {
      return;
    }
    settled_ = true;
    callback.swap(on_settled_);
  }
  if (callback) callback(phase == Phase::kUp);
}

void TunnelState::MarkAnswered() {
  absl::MutexLock lock(&mu_);
  answered_ = true;
}

// One thread moving bytes for its share of the tunnels, on epoll.
class TlsTunnels::Pump {
 public:
  Pump() : scratch_(kScratch) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event e = {};
    e.events = EPOLLIN;
    e.data.u64 = 0;  // the wake-up fd; tunnels are never at address 0
    epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &e);
    thread_ = std::thread([this] { Run(); });
  }

  ~Pump() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    Wake();
    thread_.join();
    for (Conn* c : conns_) Destroy(c);
    {
      absl::MutexLock lock(&mu_);
      for (Conn* c : incoming_) Destroy(c);
    }
    close(wake_);
    close(epoll_);
  }

  void Add(Conn* c) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      incoming_.push_back(c);
    }
    Wake();
  }

 private:
  void Wake() {
    uint64_t one = 1;
    ssize_t ignored = write(wake_, &one, sizeof(one));
    (void)ignored;
  }

  static void Destroy(Conn* c) {
    if (c->ssl != nullptr) SSL_free(c->ssl);
    if (c->net >= 0) close(c->net);
    if (c->app >= 0) close(c->app);
    delete c;
  }

  void Run() ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<epoll_event> events(256);
    while (true) {
      int timeout_ms = -1;
      if (!deadlines_.empty()) {
        absl::Duration left = deadlines_.begin()->first - absl::Now();
        timeout_ms = static_cast<int>(
            std::max<int64_t>(0, absl::ToInt64Milliseconds(
                                     absl::Ceil(left, absl::Milliseconds(1)))));
      }
      int n = epoll_wait(epoll_, events.data(), events.size(), timeout_ms);
      for (int i = 0; i < n; ++i) {
        const uint64_t tag = events[i].data.u64;
        if (tag == 0) {
          uint64_t count;
          ssize_t ignored = read(wake_, &count, sizeof(count));
          (void)ignored;
          continue;
        }
        Conn* c = reinterpret_cast<Conn*>(tag & ~uint64_t{1});
        if (c->dead) continue;
        if (tag & 1) {
          OnApp(c, events[i].events);
        } else {
          OnNet(c, events[i].events);
        }
        if (!c->dead) Update(c);
      }
      const absl::Time now = absl::Now();
      while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
        Conn* c = deadlines_.begin()->second;
        // The agent may have answered while this thread was busy with
        // others: then it is not the one keeping us waiting.
        pollfd p = {c->net, static_cast<short>(c->net_events), 0};
        if (poll(&p, 1, 0) == 1 && (p.revents & c->net_events) != 0) {
          OnNet(c, p.revents);  // its patience starts over
          if (!c->dead) Update(c);
          continue;
        }
        Fail(c, DescribeTunnelTimeout(c->stage != Conn::kConnect, c->patience));
      }
      for (Conn* c : graveyard_) Destroy(c);
      graveyard_.clear();
      std::vector<Conn*> incoming;
      {
        absl::MutexLock lock(&mu_);
        if (stop_) return;
        incoming.swap(incoming_);
      }
      for (Conn* c : incoming) Start(c);
    }
  }

  void Start(Conn* c) {
    conns_.insert(c);
    deadlines_.insert({c->deadline, c});
    if (c->connect_error != 0) {
      return Fail(c, DescribeConnectError(c->connect_error));
    }
    epoll_event e = {};
    e.data.u64 = reinterpret_cast<uint64_t>(c);
    e.events = c->net_events = EPOLLOUT;  // connect() completes
    epoll_ctl(epoll_, EPOLL_CTL_ADD, c->net, &e);
    // Nothing wanted from gRPC until the handshake is done, but a hang-up
    // (its deadline passed and it dropped the channel) is always reported.
    e.data.u64 = reinterpret_cast<uint64_t>(c) | 1;
    e.events = c->app_events = 0;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, c->app, &e);
  }

  // Interest that matches what each side waits for.
  void Update(Conn* c) {
    uint32_t net = 0, app = 0;
    switch (c->stage) {
      case Conn::kConnect:
        net = EPOLLOUT;
        break;
      case Conn::kHandshake:
        net = (c->want_read ? EPOLLIN : 0) | (c->want_write ? EPOLLOUT : 0);
        break;
      case Conn::kUp:
        if (c->to_app.empty()) net |= EPOLLIN;
        if (!c->to_net.empty() || c->want_write || c->read_wants_write) {
          net |= EPOLLOUT;
        }
        // gRPC's bytes wait until the agent has spoken (see Handshake).
        if (c->to_net.empty() && c->answered) app |= EPOLLIN;
        if (!c->to_app.empty()) app |= EPOLLOUT;
        break;
    }
    epoll_event e = {};
    if (net != c->net_events) {
      e.events = c->net_events = net;
      e.data.u64 = reinterpret_cast<uint64_t>(c);
      epoll_ctl(epoll_, EPOLL_CTL_MOD, c->net, &e);
    }
    if (app != c->app_events) {
      e.events = c->app_events = app;
      e.data.u64 = reinterpret_cast<uint64_t>(c) | 1;
      epoll_ctl(epoll_, EPOLL_CTL_MOD, c->app, &e);
    }
  }

  // The agent did something: its patience starts over.
  void Progress(Conn* c) {
    deadlines_.erase({c->deadline, c});
    c->deadline = absl::Now() + c->patience;
    deadlines_.insert({c->deadline, c});
  }

  void OnNet(Conn* c, uint32_t events) {
    if (c->stage != Conn::kUp) Progress(c);
    if (c->stage == Conn::kConnect) {
      int error = 0;
      socklen_t len = sizeof(error);
      getsockopt(c->net, SOL_SOCKET, SO_ERROR, &error, &len);
      if (error != 0) return Fail(c, DescribeConnectError(error));
      c->stage = Conn::kHandshake;
      c->state->Set(TunnelState::Phase::kHandshaking);
      return Handshake(c);
    }
    if (c->stage == Conn::kHandshake) return Handshake(c);
    if ((events & EPOLLOUT) != 0) FlushToNet(c);
    const bool read_was_waiting = c->read_wants_write && (events & EPOLLOUT);
    if (read_was_waiting) c->read_wants_write = false;
    if (!c->dead &&
        ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 || read_was_waiting)) {
      ToApp(c);
    }
  }

  void OnApp(Conn* c, uint32_t events) {
    if (c->stage != Conn::kUp) {
      // gRPC hung up before the tunnel was up: its call is over.
      if ((events & (EPOLLHUP | EPOLLERR)) != 0) Close(c);
      return;
    }
    if ((events & EPOLLOUT) != 0) FlushToApp(c);
    if (!c->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
      ToNet(c);
    }
  }

  // Records why an SSL call failed and ends the tunnel.
  void FailSsl(Conn* c, int ssl_error) {
    TlsFailure f;
    unsigned long e = ERR_peek_last_error();
    if (ssl_error == SSL_ERROR_SSL && e != 0 &&
        ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
      f.closed = true;
    } else if (ssl_error == SSL_ERROR_SSL && e != 0) {
      f.reason = ERR_GET_REASON(e);
      f.openssl_text = OpenSslError();
    } else if (ssl_error == SSL_ERROR_ZERO_RETURN ||
               (ssl_error == SSL_ERROR_SYSCALL && errno == 0)) {
      f.closed = true;
    } else if (ssl_error == SSL_ERROR_SYSCALL) {
      f.sys_errno = errno;
    } else {
      f.reason = ERR_GET_REASON(e);
      f.openssl_text = OpenSslError();
    }
    f.verify_result = SSL_get_verify_result(c->ssl);
    f.sent_client_certificate = SSL_get_certificate(c->ssl) != nullptr;
    f.client_certificate_note = *c->client_certificate_note;
    f.after_handshake = c->stage == Conn::kUp;
    f.verify_name = c->verify_name;
    ERR_clear_error();
    Fail(c, DescribeTlsFailure(f));
  }

  void Handshake(Conn* c) {
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
      const unsigned char* alpn = nullptr;
      unsigned int alpn_len = 0;
      SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
      if (alpn_len != 2 || std::memcmp(alpn, "h2", 2) != 0) {
        return Fail(c,
                    "UNAVAILABLE: the server did not agree to HTTP/2 (no h2 "
                    "protocol): is this a tally agent's port?");
      }
      c->stage = Conn::kUp;
      c->want_read = c->want_write = false;
      c->state->Set(TunnelState::Phase::kUp);
      // Up in time: from here gRPC's deadlines and the watch's liveness
      // checks judge the agent.
      deadlines_.erase({c->deadline, c});
      // A TLS 1.3 agent judges our certificate only now. gRPC's bytes stay
      // in the socketpair until it has spoken (an HTTP/2 server sends its
      // SETTINGS at once): an agent that refuses then finds nothing unread,
      // closes cleanly, and its alert reaches us instead of a reset.
      ToApp(c);
      return;
    }
    int error = SSL_get_error(c->ssl, r);
    c->want_read = error == SSL_ERROR_WANT_READ;
    c->want_write = error == SSL_ERROR_WANT_WRITE;
    if (!c->want_read && !c->want_write) FailSsl(c, error);
  }

  // gRPC -> agent.
  void ToNet(Conn* c) {
    // One read takes what gRPC wrote; a full buffer may mean more.
    for (int round = 0; round < 4 && c->to_net.empty(); ++round) {
      ssize_t n = read(c->app, scratch_.data(), kChunk);
      if (n == 0) return Close(c);  // gRPC closed the channel
      if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) Close(c);
        return;
      }
      WriteSsl(c, scratch_.data(), static_cast<size_t>(n));
      if (static_cast<size_t>(n) < kChunk) return;
    }
  }

  void WriteSsl(Conn* c, const char* data, size_t len) {
    ERR_clear_error();
    int w = SSL_write(c->ssl, data, static_cast<int>(len));
    if (w > 0) {
      if (static_cast<size_t>(w) < len) c->to_net.assign(data + w, len - w);
      return;
    }
    int error = SSL_get_error(c->ssl, w);
    if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) {
      c->want_write = error == SSL_ERROR_WANT_WRITE;
      c->to_net.assign(data, len);  // retried whole: moving buffer allowed
      return;
    }
    FailSsl(c, error);
  }

  void FlushToNet(Conn* c) {
    c->want_write = false;
    if (c->to_net.empty()) return;
    std::string pending;
    pending.swap(c->to_net);
    WriteSsl(c, pending.data(), pending.size());
  }

  // agent -> gRPC: what the socket has now and what OpenSSL holds already
  // (read-ahead takes a burst of records in one read); epoll says when
  // there is more, so no read ends in EAGAIN just to find out.
  void ToApp(Conn* c) {
    for (bool first = true;
         c->to_app.empty() && !c->dead && (first || SSL_has_pending(c->ssl));
         first = false) {
      ERR_clear_error();
      int k = SSL_read(c->ssl, scratch_.data(), static_cast<int>(kScratch));
      if (k <= 0) {
        int error = SSL_get_error(c->ssl, k);
        if (error == SSL_ERROR_WANT_READ) return;
        if (error == SSL_ERROR_WANT_WRITE) {
          c->read_wants_write = true;
          return;
        }
        // Before the agent has said anything, a failure is its verdict on
        // this client; after, the connection just ended.
        if (!c->answered) return FailSsl(c, error);
        return Close(c);
      }
      if (!c->answered) {
        c->answered = true;
        c->state->MarkAnswered();
      }
      ssize_t w = send(c->app, scratch_.data(), k, MSG_NOSIGNAL);
      if (w < 0 && errno != EAGAIN) return Close(c);
      if (w < k) {
        c->to_app.assign(scratch_.data() + std::max<ssize_t>(w, 0),
                         k - std::max<ssize_t>(w, 0));
      }
    }
  }

  void FlushToApp(Conn* c) {
    ssize_t w = send(c->app, c->to_app.data(), c->to_app.size(), MSG_NOSIGNAL);
    if (w < 0) {
      if (errno != EAGAIN) Close(c);
      return;
    }
    c->to_app.erase(0, w);
    if (c->to_app.empty()) {
      std::string().swap(c->to_app);  // give the memory back
      ToApp(c);                       // OpenSSL may hold more already decrypted
    }
  }

  void Fail(Conn* c, std::string error) {
    c->state->Set(TunnelState::Phase::kFailed, std::move(error));
    End(c);
  }

  void Close(Conn* c) {
    if (c->stage == Conn::kUp && c->state->phase() == TunnelState::Phase::kUp) {
      SSL_shutdown(c->ssl);  // close_notify, best effort
      c->state->Set(TunnelState::Phase::kClosed);
    } else if (c->state->phase() != TunnelState::Phase::kFailed) {
      c->state->Set(TunnelState::Phase::kClosed);
    }
    End(c);
  }

  // Closing our end tells gRPC; the rest goes after this batch of events.
  void End(Conn* c) {
    if (c->dead) return;
    c->dead = true;
    deadlines_.erase({c->deadline, c});
    conns_.erase(c);
    // Explicitly out of the epoll set: closing leaves it only if no other
    // descriptor shares the socket (a child forked but not yet exec'd has
    // copies), and a later event would name a Conn already deleted.
    epoll_ctl(epoll_, EPOLL_CTL_DEL, c->app, nullptr);
    epoll_ctl(epoll_, EPOLL_CTL_DEL, c->net, nullptr);
    close(c->app);
    close(c->net);
    c->app = c->net = -1;
    graveyard_.push_back(c);
  }

  int epoll_ = -1;
  int wake_ = -1;
  std::thread thread_;
  // The pump thread's own.
  std::vector<char> scratch_;
  std::set<Conn*> conns_;
  std::set<std::pair<absl::Time, Conn*>> deadlines_;
  std::vector<Conn*> graveyard_;

  absl::Mutex mu_;
  std::vector<Conn*> incoming_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
};

absl::StatusOr<std::unique_ptr<TlsTunnels>> TlsTunnels::Create(
    const TlsOptions& tls, int pumps) {
  // A write to a connection the agent closed must be an error, not a
  // signal that ends tallyctl (OpenSSL writes with plain write()).
  signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<TlsTunnels> t(new TlsTunnels());
  t->ctx_ = SSL_CTX_new(TLS_client_method());
  if (t->ctx_ == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot set up TLS: ", OpenSslError()));
  }
  SSL_CTX* ctx = t->ctx_;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  auto bad = [](const std::string& what) {
    std::string why = OpenSslError();
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", why));
  };
  if (!tls.ca.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, tls.ca.c_str(), nullptr) != 1) {
      return bad(absl::StrCat("--tls-ca ", tls.ca, " is not a usable CA file"));
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    return bad("cannot load the system's CA certificates");
  }
  if (!tls.cert.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert.c_str()) != 1) {
      return bad(absl::StrCat("--tls-cert ", tls.cert,
                              " is not a usable certificate"));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, tls.key.c_str(), SSL_FILETYPE_PEM) !=
        1) {
      if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
        ERR_clear_error();
        return absl::InvalidArgumentError(absl::StrCat(
            "--tls-key ", tls.key, " does not match --tls-cert ", tls.cert));
      }
      return bad(absl::StrCat("--tls-key ", tls.key, " is not a usable key"));
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return bad(absl::StrCat("--tls-key ", tls.key,
                              " does not match --tls-cert ", tls.cert));
    }
  }
  if (!tls.cert.empty() && !tls.ca.empty()) {
    t->client_certificate_note_ = CheckOwnCertificate(ctx);
  }
  // Idle connections (a watch between updates) give their record buffers
  // back: ~33 KB each.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
                            SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // A burst of records in one read() (the buffer goes back when idle).
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_alpn_protos(ctx, kAlpnH2, sizeof(kAlpnH2));
  for (int i = 0; i < std::max(1, pumps); ++i) {
    t->pumps_.push_back(std::make_unique<Pump>());
  }
  return t;
}

TlsTunnels::~TlsTunnels() {
  pumps_.clear();
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

absl::StatusOr<Tunnel> TlsTunnels::Open(const sockaddr_storage& address,
                                        socklen_t address_len,
                                        const std::string& verify_name,
                                        absl::Duration patience) {
  auto no_socket = [](int error) {
    if (error == EMFILE || error == ENFILE) {
      return absl::ResourceExhaustedError(absl::StrCat(
          std::strerror(error), " (see the file descriptor warning at start)"));
    }
    return absl::UnavailableError(
        absl::StrCat("cannot make a socket: ", std::strerror(error)));
  };
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                 pair) != 0) {
    return no_socket(errno);
  }
  int net =
      socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (net < 0) {
    int error = errno;
    close(pair[0]);
    close(pair[1]);
    return no_socket(error);
  }
  int one = 1;
  setsockopt(net, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  auto* c = new Conn();
  c->net = net;
  c->app = pair[0];
  c->state = std::make_shared<TunnelState>();
  c->verify_name = verify_name;
  c->client_certificate_note = &client_certificate_note_;
  c->patience = patience;
  c->deadline = absl::Now() + patience;
  c->ssl = SSL_new(ctx_);
  SSL_set_fd(c->ssl, net);
  SSL_set_connect_state(c->ssl);
  if (IsIpAddress(verify_name)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), verify_name.c_str());
  } else {
    SSL_set_tlsext_host_name(c->ssl, verify_name.c_str());
    SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    SSL_set1_host(c->ssl, verify_name.c_str());
  }
  Tunnel tunnel{pair[1], c->state};
  if (connect(net, reinterpret_cast<const sockaddr*>(&address), address_len) !=
          0 &&
      errno != EINPROGRESS) {
    c->connect_error = errno;  // the pump reports it like any other failure
  }
  Pump* pump;
  {
    absl::MutexLock lock(&mu_);
    pump = pumps_[next_pump_++ % pumps_.size()].get();
  }
  pump->Add(c);
  return tunnel;
}

}  // namespace tally::cli
