// gRPC's own log lines ("E1124 ... ssl_transport_security.cc:1501] ...")
// repeat on every connection attempt and name no agent; tallyctl reports
// each agent's failure itself. They stay off unless asked for: --verbose, or
// GRPC_VERBOSITY / GRPC_TRACE in the environment (gRPC's own switches).
#ifndef TALLY_CLIENT_GRPC_LOGGING_H_
#define TALLY_CLIENT_GRPC_LOGGING_H_

namespace tally::cli {

// Call before the first channel is made.
void ConfigureGrpcLogging(bool verbose);

}  // namespace tally::cli

#endif  // TALLY_CLIENT_GRPC_LOGGING_H_
