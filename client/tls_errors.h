// What a failed TLS connection to an agent most likely means, in words an
// operator can act on ("the agent does not trust this client's certificate")
// rather than OpenSSL's ("tlsv1 alert unknown ca") or gRPC's ("Socket
// closed").
#ifndef TALLY_CLIENT_TLS_ERRORS_H_
#define TALLY_CLIENT_TLS_ERRORS_H_

#include <string>

#include "absl/time/time.h"

namespace tally::cli {

struct TlsFailure {
  // ERR_GET_REASON of OpenSSL's last error (SSL_R_*), 0 when none.
  int reason = 0;
  // SSL_get_verify_result: why the agent's certificate did not verify.
  long verify_result = 0;  // X509_V_OK
  bool sent_client_certificate = false;
  // What tallyctl noticed about its own certificate at start ("it has
  // expired", ...), empty when nothing.
  std::string client_certificate_note;
  // The agent closed the connection (or reset it: errno ECONNRESET).
  bool closed = false;
  int sys_errno = 0;
  // The handshake completed on our side: a failure now is the agent
  // rejecting us (TLS 1.3 servers check the client certificate late).
  bool after_handshake = false;
  std::string verify_name;
  std::string openssl_text;  // ERR_reason_error_string, for the fallback
};

// "UNAVAILABLE: <what most likely happened>".
std::string DescribeTlsFailure(const TlsFailure& failure);

// "UNAVAILABLE: connection refused ..." and the like for a TCP connect()
// error.
std::string DescribeConnectError(int error);

// "DEADLINE_EXCEEDED: ..." for a tunnel not up after `waited`: `connected`
// says whether TCP got through (an agent that accepts but never answers is
// most likely stopped or hung).
std::string DescribeTunnelTimeout(bool connected, absl::Duration waited);

}  // namespace tally::cli

#endif  // TALLY_CLIENT_TLS_ERRORS_H_
