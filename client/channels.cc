#include "client/channels.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status_macros.h"

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

}  // namespace

std::string DescribeStatus(const grpc::Status& status) {
  return absl::StrCat(CodeName(status.error_code()), ": ",
                      status.error_message());
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
  grpc::SslCredentialsOptions options;
  if (!tls.ca.empty()) {
    ASSIGN_OR_RETURN(options.pem_root_certs, ReadFile(tls.ca));
  }
  if (!tls.cert.empty()) {
    ASSIGN_OR_RETURN(options.pem_cert_chain, ReadFile(tls.cert));
    ASSIGN_OR_RETURN(options.pem_private_key, ReadFile(tls.key));
  }
  f.tls_creds_ = grpc::SslCredentials(options);
  return f;
}

std::shared_ptr<grpc::Channel> ChannelFactory::Channel(
    const AgentTarget& target) const {
  grpc::ChannelArguments args;
  // Each command makes its own short-lived channels; sharing subchannels
  // across them buys nothing and keeps dead agents' state around.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  const bool unix_socket = absl::StartsWith(target.grpc_target, "unix:");
  if (unix_socket || tls_creds_ == nullptr) {
    return grpc::CreateCustomChannel(target.grpc_target,
                                     grpc::InsecureChannelCredentials(), args);
  }
  std::string name =
      !tls_.server_name.empty() ? tls_.server_name : target.tls_name;
  if (!name.empty()) args.SetSslTargetNameOverride(name);
  return grpc::CreateCustomChannel(target.grpc_target, tls_creds_, args);
}

}  // namespace tally::cli
