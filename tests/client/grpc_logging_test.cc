// gRPC's own log lines stay off unless asked for.
#include "client/grpc_logging.h"

#include <grpc/support/log.h>
#include <stdlib.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::cli {
namespace {

TEST(GrpcLoggingTest, QuietByDefault) {
  unsetenv("GRPC_VERBOSITY");
  unsetenv("GRPC_TRACE");
  ConfigureGrpcLogging(false);
  ::testing::internal::CaptureStderr();
  gpr_log(GPR_ERROR, "Handshake failed with fatal error SSL_ERROR_SSL");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace tally::cli
