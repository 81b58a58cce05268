#include "engine/logged_event.h"

#include <cstring>
#include <limits>

#include "engine/capnp_guard.h"

namespace rollcall {
namespace {

capnp::ReaderOptions stored_reader_options() {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = std::numeric_limits<uint64_t>::max() / 2;  // our own data
  options.nestingLimit = 16;
  return options;
}

}  // namespace

LogBatchView::LogBatchView(Lsn first_lsn, kj::Array<capnp::word> words)
    : first_lsn_(first_lsn),
      words_(kj::mv(words)),
      reader_(words_.asPtr(), stored_reader_options()),
      events_(reader_.getRoot<storage::LogBatch>().getEvents()),
      size_(events_.size()) {}

Result<std::shared_ptr<const LogBatchView>> LogBatchView::decode(Lsn first_lsn,
                                                                 std::string_view bytes) {
  const std::string context = "log batch at LSN " + std::to_string(first_lsn.value);
  if (bytes.size() % sizeof(capnp::word) != 0 || bytes.empty())
    return Error(ErrorKind::kCorruption, context + ": not a whole number of words");
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  return guard_capnp(
      context,
      [&]() -> std::shared_ptr<const LogBatchView> {
        auto view = std::make_shared<const LogBatchView>(first_lsn, kj::mv(words));
        if (view->size() == 0) KJ_FAIL_REQUIRE("empty batch");
        return view;
      },
      ErrorKind::kCorruption);
}

}  // namespace rollcall
