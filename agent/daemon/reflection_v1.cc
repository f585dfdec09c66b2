#include "agent/daemon/reflection_v1.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"

namespace tally {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::DescriptorPool;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::FileDescriptor;
using ::grpc::reflection::v1::ServerReflectionRequest;
using ::grpc::reflection::v1::ServerReflectionResponse;

void Fail(ServerReflectionResponse* out, grpc::StatusCode code,
          const std::string& message) {
  out->mutable_error_response()->set_error_code(code);
  out->mutable_error_response()->set_error_message(message);
}

// `file` and everything it imports, each once, the file first.
void AddFileAndDeps(const FileDescriptor* file, std::set<std::string>* seen,
                    ServerReflectionResponse* out) {
  if (!seen->insert(file->name()).second) return;
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  proto.SerializeToString(
      out->mutable_file_descriptor_response()->add_file_descriptor_proto());
  for (int i = 0; i < file->dependency_count(); ++i) {
    AddFileAndDeps(file->dependency(i), seen, out);
  }
}

void AnswerFile(const FileDescriptor* file, const std::string& what,
                ServerReflectionResponse* out) {
  if (file == nullptr) {
    Fail(out, grpc::StatusCode::NOT_FOUND, absl::StrCat(what, " not found"));
    return;
  }
  std::set<std::string> seen;
  AddFileAndDeps(file, &seen, out);
}

// One request in, one response out, until the client closes its side.
class Reactor
    : public grpc::ServerBidiReactor<ServerReflectionRequest,
                                     ServerReflectionResponse> {
 public:
  explicit Reactor(const ReflectionV1Service* service) : service_(service) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    response_ = service_->Answer(request_);
    StartWrite(&response_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the stream broke while writing"));
      return;
    }
    StartRead(&request_);
  }

  void OnDone() override { delete this; }

 private:
  const ReflectionV1Service* const service_;
  ServerReflectionRequest request_;
  ServerReflectionResponse response_;
};

}  // namespace

grpc::ServerBidiReactor<ServerReflectionRequest, ServerReflectionResponse>*
ReflectionV1Service::ServerReflectionInfo(
    grpc::CallbackServerContext* /*context*/) {
  return new Reactor(this);
}

ServerReflectionResponse ReflectionV1Service::Answer(
    const ServerReflectionRequest& request) const {
  const DescriptorPool* pool = DescriptorPool::generated_pool();
  ServerReflectionResponse out;
  out.set_valid_host(request.host());
  *out.mutable_original_request() = request;
  switch (request.message_request_case()) {
    case ServerReflectionRequest::kListServices:
      for (const std::string& name : services_) {
        out.mutable_list_services_response()->add_service()->set_name(name);
      }
      break;
    case ServerReflectionRequest::kFileByFilename:
      AnswerFile(pool->FindFileByName(request.file_by_filename()),
                 absl::StrCat("file ", request.file_by_filename()), &out);
      break;
    case ServerReflectionRequest::kFileContainingSymbol:
      AnswerFile(
          pool->FindFileContainingSymbol(request.file_containing_symbol()),
          absl::StrCat("symbol ", request.file_containing_symbol()), &out);
      break;
    case ServerReflectionRequest::kFileContainingExtension: {
      const auto& ext = request.file_containing_extension();
      const Descriptor* type = pool->FindMessageTypeByName(ext.containing_type());
      const FieldDescriptor* field =
          type == nullptr
              ? nullptr
              : pool->FindExtensionByNumber(type, ext.extension_number());
      AnswerFile(field == nullptr ? nullptr : field->file(),
                 absl::StrCat("extension ", ext.extension_number(), " of ",
                              ext.containing_type()),
                 &out);
      break;
    }
    case ServerReflectionRequest::kAllExtensionNumbersOfType: {
      const Descriptor* type =
          pool->FindMessageTypeByName(request.all_extension_numbers_of_type());
      if (type == nullptr) {
        Fail(&out, grpc::StatusCode::NOT_FOUND,
             absl::StrCat("type ", request.all_extension_numbers_of_type(),
                          " not found"));
        break;
      }
      std::vector<const FieldDescriptor*> extensions;
      pool->FindAllExtensions(type, &extensions);
      auto* numbers = out.mutable_all_extension_numbers_response();
      numbers->set_base_type_name(type->full_name());
      for (const FieldDescriptor* f : extensions) {
        numbers->add_extension_number(f->number());
      }
      break;
    }
    default:
      Fail(&out, grpc::StatusCode::INVALID_ARGUMENT,
           "the request asks for nothing this server knows");
  }
  return out;
}

}  // namespace tally
