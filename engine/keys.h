// Key and fixed-width value encodings of the on-disk format (engine/FORMAT.md).
// Engine-internal. Integers are big-endian so that byte order is numeric order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rollcall::keys {

inline void put_be64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}
inline void put_be32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}
inline uint64_t get_be64(std::string_view in, size_t pos = 0) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = v << 8 | static_cast<uint8_t>(in[pos + i]);
  return v;
}
inline uint32_t get_be32(std::string_view in, size_t pos = 0) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<uint8_t>(in[pos + i]);
  return v;
}

// log: BE64(first LSN)
inline std::string log_key(uint64_t first_lsn) {
  std::string k;
  put_be64(k, first_lsn);
  return k;
}

// origin_index: origin 0x00 BE64(first seq). Unit codes never contain 0x00.
inline std::string origin_prefix(std::string_view origin) {
  std::string k(origin);
  k.push_back('\0');
  return k;
}
inline std::string origin_index_key(std::string_view origin, uint64_t first_seq) {
  std::string k = origin_prefix(origin);
  put_be64(k, first_seq);
  return k;
}
// value: BE64(batch first LSN) BE32(offset in batch) BE32(count) BE64(chain hash at the run's
// last event), so the chain hash at any seq costs one seek and at most one batch of hashing.
struct OriginRun {
  uint64_t batch_lsn = 0;
  uint32_t offset = 0;
  uint32_t count = 0;
  uint64_t chain_hash = 0;
};
inline std::string encode_origin_run(const OriginRun& run) {
  std::string v;
  put_be64(v, run.batch_lsn);
  put_be32(v, run.offset);
  put_be32(v, run.count);
  put_be64(v, run.chain_hash);
  return v;
}
inline bool decode_origin_run(std::string_view v, OriginRun* run) {
  if (v.size() != 24) return false;
  *run = OriginRun{get_be64(v, 0), get_be32(v, 8), get_be32(v, 12), get_be64(v, 16)};
  return true;
}

// unit_index: unit 0x00 BE64(batch first LSN) -> BE32(count of the unit's events in it)
inline std::string unit_index_key(std::string_view unit, uint64_t batch_lsn) {
  std::string k(unit);
  k.push_back('\0');
  put_be64(k, batch_lsn);
  return k;
}

// watermarks: origin -> BE64(seq) BE64(chain hash) BE64(newest recordedAt micros)
struct WatermarkValue {
  uint64_t seq = 0;
  uint64_t chain_hash = 0;
  int64_t newest_recorded_at = 0;
};
inline std::string encode_watermark(const WatermarkValue& w) {
  std::string v;
  put_be64(v, w.seq);
  put_be64(v, w.chain_hash);
  put_be64(v, static_cast<uint64_t>(w.newest_recorded_at));
  return v;
}
inline bool decode_watermark(std::string_view v, WatermarkValue* w) {
  if (v.size() != 24) return false;
  *w = WatermarkValue{get_be64(v, 0), get_be64(v, 8), static_cast<int64_t>(get_be64(v, 16))};
  return true;
}

// tallies: unit 0x00 granularity BE32(bucket) metric -> BE64 two's complement sum of deltas.
// Granularity 'Y' (bucket 2024), 'M' (202403) or 'D' (20240326): every event's delta is in
// all three. The current count members.inTransit is unit 0x00 'T' metric (no bucket).
// Granularity 'O' (bucket yyyymmdd) holds the deltas of the unit's own events only, by the code
// the events name, whatever the map: a map change moves these rows between roll-up chains.
inline constexpr char kCurrentGranularity = 'T';
inline constexpr char kOwnGranularity = 'O';
inline std::string tally_prefix(std::string_view unit, char granularity) {
  std::string k(unit);
  k.push_back('\0');
  k.push_back(granularity);
  return k;
}
inline std::string tally_key(std::string_view unit, char granularity, uint32_t bucket,
                             std::string_view metric) {
  std::string k = tally_prefix(unit, granularity);
  put_be32(k, bucket);
  k.append(metric);
  return k;
}
inline std::string current_tally_key(std::string_view unit, std::string_view metric) {
  std::string k = tally_prefix(unit, kCurrentGranularity);
  k.append(metric);
  return k;
}
inline std::string encode_i64(int64_t v) {
  std::string out;
  put_be64(out, static_cast<uint64_t>(v));
  return out;
}
inline bool decode_i64(std::string_view v, int64_t* out) {
  if (v.size() != 8) return false;
  *out = static_cast<int64_t>(get_be64(v));
  return true;
}

// member_units: unit 0x00 memberId -> "" (the member's current unit in the registry)
inline std::string member_unit_key(std::string_view unit, std::string_view member) {
  std::string k(unit);
  k.push_back('\0');
  k.append(member);
  return k;
}

// transfers: memberId 0x00 from 0x00 to -> BE32(outs held) BE32(ins held)
inline std::string transfer_key(std::string_view member, std::string_view from, std::string_view to) {
  std::string k(member);
  k.push_back('\0');
  k.append(from);
  k.push_back('\0');
  k.append(to);
  return k;
}

// A seq and a time: BE64(seq) BE64(micros) (requests, fork records).
inline std::string encode_seq_at(uint64_t seq, int64_t micros) {
  std::string v;
  put_be64(v, seq);
  put_be64(v, static_cast<uint64_t>(micros));
  return v;
}
inline bool decode_seq_at(std::string_view v, uint64_t* seq, int64_t* micros) {
  if (v.size() != 16) return false;
  *seq = get_be64(v, 0);
  *micros = static_cast<int64_t>(get_be64(v, 8));
  return true;
}

// A BE64 number as a whole key (request_expiry: a seq).
inline std::string be64_key(uint64_t v) {
  std::string k;
  put_be64(k, v);
  return k;
}

// requests: unit 0x00 requestId -> BE64(seq) BE64(recordedAt micros) of the node's own event
// that the request appended. request_expiry: BE64(seq) -> BE64(recordedAt micros) followed by
// the requests key, so the oldest remembered requests are the first keys.
inline std::string request_key(std::string_view unit, std::string_view request_id) {
  std::string k(unit);
  k.push_back('\0');
  k.append(request_id);
  return k;
}

// meta keys (column family "default")
inline constexpr std::string_view kFormatVersionKey = "format_version";
inline constexpr std::string_view kUnitKey = "unit";
inline constexpr std::string_view kIncarnationKey = "incarnation";
inline constexpr std::string_view kUnitsKey = "units";  // the seed map, UnitMap::to_csv()
// child_incarnation 0x00 unit -> the 16-byte incarnation id this node last saw that child with.
inline std::string child_incarnation_key(std::string_view child) {
  std::string k("child_incarnation");
  k.push_back('\0');
  k.append(child);
  return k;
}
// fork 0x00 origin 0x00 peer unit -> BE64(first differing seq, 0: not known) BE64(seen at micros):
// a fork of that origin's history found on the link with that peer (a parent or a child).
inline constexpr std::string_view kForkPrefix = std::string_view("fork\0", 5);
inline std::string fork_key(std::string_view origin, std::string_view peer) {
  std::string k(kForkPrefix);
  k.append(origin);
  k.push_back('\0');
  k.append(peer);
  return k;
}
// BE32 version of the projections' layout and rules; absent while a rebuild is under way.
inline constexpr std::string_view kProjectionVersionKey = "projection_version";

}  // namespace rollcall::keys
