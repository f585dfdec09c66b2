#include "client/tls_errors.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tally::cli {
namespace {

constexpr char kUnavailable[] = "UNAVAILABLE: ";

std::string VerifyFailure(const TlsFailure& f) {
  switch (f.verify_result) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return absl::StrCat(
          "the agent's certificate does not name ", f.verify_name,
          " (pass --tls-server-name with a name the certificate carries)");
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "the agent's certificate is not signed by the CA in --tls-ca "
             "(a different CA file, or the agent has a certificate from "
             "another CA)";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "the agent's certificate has expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "the agent's certificate is not valid yet (check both "
             "clocks)";
    default:
      return absl::StrCat("the agent's certificate did not verify: ",
                          X509_verify_cert_error_string(f.verify_result));
  }
}

}  // namespace

std::string DescribeTlsFailure(const TlsFailure& f) {
  switch (f.reason) {
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
      return absl::StrCat(kUnavailable, VerifyFailure(f));
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
      return absl::StrCat(
          kUnavailable,
          "the agent does not trust this client's certificate: it is not "
          "signed by the CA the agent checks clients against (tallyd "
          "--tls_client_ca)");
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return absl::StrCat(kUnavailable,
                          "the agent requires a client certificate: pass "
                          "--tls-cert and --tls-key");
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
      if (!f.sent_client_certificate) {
        return absl::StrCat(kUnavailable,
                            "the agent refused the handshake, most likely "
                            "for want of a client certificate: pass "
                            "--tls-cert and --tls-key");
      }
      return absl::StrCat(kUnavailable,
                          "the agent refused the TLS handshake (no common "
                          "protocol version or cipher)");
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
      return absl::StrCat(kUnavailable,
                          "the agent rejected this client's certificate (",
                          f.openssl_text, ")");
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
      return absl::StrCat(kUnavailable,
                          "the agent says this client's certificate has "
                          "expired");
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
      return absl::StrCat(kUnavailable,
                          "the agent says this client's certificate is "
                          "revoked");
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
    case SSL_R_UNEXPECTED_RECORD:
      return absl::StrCat(kUnavailable,
                          "the agent does not speak TLS: if it serves "
                          "plaintext (tallyd --insecure_plaintext), drop the "
                          "--tls-* options");
    case SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL:
      return absl::StrCat(kUnavailable,
                          "the server does not speak gRPC over TLS (no h2 "
                          "protocol): is this a tally agent's port?");
    default:
      break;
  }
  const bool hung_up =
      f.closed || f.sys_errno == ECONNRESET || f.sys_errno == EPIPE;
  if (f.reason == 0 && hung_up) {
    const char* how =
        f.closed ? "closed the connection" : "reset the connection";
    if (f.after_handshake) {
      // A TLS 1.3 agent checks the client's certificate after the client's
      // side of the handshake is done, and gRPC agents hang up on a refusal
      // without sending the alert: what we sent is the likely reason.
      if (!f.sent_client_certificate) {
        return absl::StrCat(kUnavailable, "the agent ", how,
                            " right after the TLS handshake: most likely it "
                            "requires a client certificate: pass --tls-cert "
                            "and --tls-key");
      }
      return absl::StrCat(
          kUnavailable, "the agent ", how,
          " right after the TLS handshake: most likely it does not trust this "
          "client's certificate (not signed by the CA the agent checks "
          "clients against, tallyd --tls_client_ca)",
          f.client_certificate_note.empty() ? "" : "; ",
          f.client_certificate_note);
    }
    return absl::StrCat(kUnavailable, "the agent ", how,
                        " during the TLS handshake");
  }
  if (f.reason == 0 && f.sys_errno != 0) {
    return absl::StrCat(kUnavailable,
                        "TLS connection failed: ", std::strerror(f.sys_errno));
  }
  return absl::StrCat(
      kUnavailable, "TLS handshake failed: ",
      f.openssl_text.empty() ? "unknown error" : f.openssl_text);
}

std::string DescribeConnectError(int error) {
  switch (error) {
    case ECONNREFUSED:
      return "UNAVAILABLE: connection refused (no agent listening there)";
    case EHOSTUNREACH:
    case ENETUNREACH:
      return absl::StrCat("UNAVAILABLE: ", std::strerror(error));
    case ETIMEDOUT:
      return "UNAVAILABLE: TCP connection timed out";
    case EMFILE:
    case ENFILE:
      return absl::StrCat("RESOURCE_EXHAUSTED: ", std::strerror(error),
                          " (see the file descriptor warning at start)");
    default:
      return absl::StrCat("UNAVAILABLE: cannot connect: ",
                          std::strerror(error));
  }
}

std::string DescribeTunnelTimeout(bool connected, absl::Duration waited) {
  if (connected) {
    return absl::StrCat(
        "DEADLINE_EXCEEDED: connected, but no TLS handshake within ",
        absl::FormatDuration(waited),
        ": the agent is most likely hung (stopped, or stuck)");
  }
  return absl::StrCat("DEADLINE_EXCEEDED: no TCP connection within ",
                      absl::FormatDuration(waited),
                      " (the address does not answer)");
}

}  // namespace tally::cli
