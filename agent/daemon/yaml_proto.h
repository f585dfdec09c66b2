// Reads YAML into a protobuf message through its descriptor: every message,
// field and enum the proto defines, and nothing else, with errors that say
// FILE:LINE. The proto is the schema; there is no field-by-field mapping.
#ifndef TALLY_AGENT_DAEMON_YAML_PROTO_H_
#define TALLY_AGENT_DAEMON_YAML_PROTO_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace tally {

// Parses `text` (named `file` in messages) into `out`. Keys are field names;
// enum values are their full names (GROUP_BY_COMM) or, case-insensitively,
// the part after the enum's own prefix (comm); google.protobuf.Duration
// fields take "90s", "15m", "1h30m". INVALID_ARGUMENT with "FILE:LINE: "
// and the field's path for YAML syntax errors, unknown fields, wrong types
// and bad values.
//
// `lines`, when given, gets the 1-based line of every value by its path
// ("probes[1]", "probes[1].hook"), for errors found later.
absl::Status ParseYamlInto(const std::string& text, const std::string& file,
                           google::protobuf::Message* out,
                           std::map<std::string, int>* lines = nullptr);

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_YAML_PROTO_H_
