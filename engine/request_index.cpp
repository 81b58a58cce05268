#include "engine/request_index.h"

#include "engine/keys.h"
#include "engine/store.h"

namespace rollcall {

std::optional<RememberedRequest> RequestWrites::staged(const std::string& key) const {
  auto it = added_.find(key);
  if (it == added_.end()) return std::nullopt;
  return it->second;
}

void RequestWrites::stage(const std::string& key, RememberedRequest request,
                          std::optional<RememberedRequest> replaced) {
  added_[key] = request;
  if (replaced) replaced_seqs_.insert(replaced->seq);
}

Result<std::optional<RememberedRequest>> RequestIndex::stored(const Store& store, const std::string& key) {
  auto value = store.get(Cf::kRequests, key);
  if (!value.ok()) return value.error();
  if (!value->has_value()) return std::optional<RememberedRequest>();
  RememberedRequest request;
  if (!keys::decode_seq_at(**value, &request.seq, &request.recorded_at.micros))
    return Error(ErrorKind::kCorruption, "a requests entry of unexpected size");
  return std::optional<RememberedRequest>(request);
}

bool RequestIndex::remembered(const RememberedRequest& request, uint64_t own_head, Timestamp now) const {
  const bool recent_enough = own_head < window_.max_events || request.seq > own_head - window_.max_events;
  const bool young_enough = now.micros - request.recorded_at.micros <= window_.max_age_us;
  return recent_enough && young_enough;
}

Result<uint64_t> RequestIndex::add_to_batch(const Store& store, const RequestWrites& writes, uint64_t own_head,
                                            std::optional<Timestamp> now, rocksdb::WriteBatch& batch) const {
  uint64_t expired_through = expired_through_;
  // Replaced entries first: their keys are written again below.
  for (uint64_t seq : writes.replaced_seqs_) batch.Delete(store.cf(Cf::kRequestExpiry), keys::be64_key(seq));
  for (const auto& [key, request] : writes.added_) {
    batch.Put(store.cf(Cf::kRequests), key, keys::encode_seq_at(request.seq, request.recorded_at.micros));
    std::string expiry;
    keys::put_be64(expiry, static_cast<uint64_t>(request.recorded_at.micros));
    expiry.append(key);
    batch.Put(store.cf(Cf::kRequestExpiry), keys::be64_key(request.seq), expiry);
  }
  if (!now) return expired_through;

  // Expire from the oldest. The seek starts past what earlier writes deleted, so it does not
  // wade through their tombstones.
  const uint64_t budget = kMaxExpiredPerWrite + 2 * writes.added_.size();
  auto it = store.iterator(Cf::kRequestExpiry);
  uint64_t expired = 0;
  for (it->Seek(keys::be64_key(expired_through_ + 1)); it->Valid() && expired < budget; it->Next()) {
    const auto key = it->key().ToStringView();
    const auto value = it->value().ToStringView();
    if (key.size() != 8 || value.size() < 8)
      return Error(ErrorKind::kCorruption, "a request_expiry entry of unexpected size");
    const RememberedRequest request{keys::get_be64(key), Timestamp{static_cast<int64_t>(keys::get_be64(value))}};
    if (remembered(request, own_head, *now)) break;
    if (writes.replaced_seqs_.count(request.seq) == 0) {
      // Not replaced in this write: its requests key still names this seq (a replacement
      // deletes the expiry entry of the seq it replaces).
      batch.Delete(store.cf(Cf::kRequests), value.substr(8));
      batch.Delete(store.cf(Cf::kRequestExpiry), key);
    }
    expired_through = request.seq;
    ++expired;
  }
  if (!it->status().ok()) return to_error(it->status(), "reading the request ids");
  return expired_through;
}

}  // namespace rollcall
