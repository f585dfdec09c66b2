// grpc.reflection.v1.ServerReflection, beside gRPC's own v1alpha plugin:
// current grpcurl and other clients ask for v1 first. Answers from the
// protobuf descriptors linked into tallyd.
#ifndef TALLY_AGENT_DAEMON_REFLECTION_V1_H_
#define TALLY_AGENT_DAEMON_REFLECTION_V1_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "grpc/reflection/v1/reflection.grpc.pb.h"

namespace tally {

class ReflectionV1Service final
    : public grpc::reflection::v1::ServerReflection::CallbackService {
 public:
  // `services`: the fully qualified names ListServices reports.
  explicit ReflectionV1Service(std::vector<std::string> services)
      : services_(std::move(services)) {}

  grpc::ServerBidiReactor<grpc::reflection::v1::ServerReflectionRequest,
                          grpc::reflection::v1::ServerReflectionResponse>*
  ServerReflectionInfo(grpc::CallbackServerContext* context) override;

  // The answer to one request (exposed for tests).
  grpc::reflection::v1::ServerReflectionResponse Answer(
      const grpc::reflection::v1::ServerReflectionRequest& request) const;

 private:
  const std::vector<std::string> services_;
};

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_REFLECTION_V1_H_
