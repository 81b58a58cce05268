// The projections of a node's log: tallies, the member registry, transfer pairing and
// retraction marks (DESIGN.md "Projections", engine/FORMAT.md for the keys).
//
// C2: the projections are a pure function of the set of events applied, whatever the order.
// Every rule here is written so: tallies are sums; a member's state is the fold of its history
// sorted by (effectiveDate, origin, seq); members.inTransit counts |outs - ins| per (member,
// from, to); a retracted event contributes nothing whether its retraction is applied before
// or after it (of two retractions of one event, the smaller id is kept).
//
// A ProjectionBatch stages what a group of events changes, reading the state it builds on
// through a KeyValueReader (the RocksDB store, or a map in tests), and hands back the key
// changes for one WriteBatch. Deltas are summed in memory per batch, so a thousand events of one
// commune touch a few dozen tally keys, each read once.
//
// Ownership: a batch is used by one thread and must not outlive its reader and RollupPaths.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/column_families.h"
#include "engine/member_rules.h"
#include "engine/status.h"
#include "engine/tally_rows.h"
#include "engine/types.h"
#include "engine/unit_map.h"
#include "schema/event.capnp.h"

namespace rollcall {

class LogBatchView;

// Bump when the projections' keys or rules change: a data dir with another version needs
// `rollcall rebuild` before a writer opens it.
inline constexpr uint32_t kProjectionVersion = 2;

// How events roll up at one node: an event counts at its unit's heir and at each of the heir's
// ancestors within the node's subtree, under the node's current map (UnitMap::rollup_chain).
// Caches the chains it computes; set_map() starts over under a new map.
class RollupPaths {
 public:
  // `seed` is the data dir's seed map, `map` the current one (the seed folded with the map
  // events held).
  RollupPaths(std::shared_ptr<const UnitMap> seed, std::shared_ptr<const UnitMap> map, UnitCode node)
      : seed_(std::move(seed)), map_(std::move(map)), node_(std::move(node)) {}
  // A node whose map is still its seed (a copy is kept).
  RollupPaths(const UnitMap& seed, UnitCode node)
      : seed_(std::make_shared<const UnitMap>(seed)), map_(seed_), node_(std::move(node)) {}
  // [heir, parent, ..., node] when the unit rolls up to the node; [unit] otherwise.
  const std::vector<std::string>& chain(std::string_view unit);
  // The units of the node's subtree whose subtree holds both a and b, lowest first.
  std::vector<std::string> common_chain(std::string_view a, std::string_view b);
  const UnitMap& map() const { return *map_; }
  const UnitMap& seed() const { return *seed_; }
  const std::shared_ptr<const UnitMap>& map_ptr() const { return map_; }
  const std::shared_ptr<const UnitMap>& seed_ptr() const { return seed_; }
  const UnitCode& node() const { return node_; }
  void set_map(std::shared_ptr<const UnitMap> map);

 private:
  std::shared_ptr<const UnitMap> seed_;
  std::shared_ptr<const UnitMap> map_;
  UnitCode node_;
  std::unordered_map<std::string, std::vector<std::string>> chains_;
};

// The map that `seed` and the map events in `store` (and `staged`, keyed by map_event_key)
// fold to, with the changes dated up to `through` only (YYYY-MM-DD; empty: all). A change that
// does not apply at its place is skipped (EventLog::map_changes says why).
Result<UnitMap> fold_map(const UnitMap& seed, const KeyValueReader& store,
                         const std::map<std::string, std::string>& staged = {}, std::string_view through = {});

// An event the node holds, kept alive by its batch (or by the caller, for staged events).
struct HeldEvent {
  schema::Event::Reader event;
  std::shared_ptr<const LogBatchView> batch;
};
// Finds an event the node holds (applied before), for a retraction's target.
using EventLookup = std::function<Result<std::optional<HeldEvent>>(const OriginSeq&)>;

class ProjectionBatch {
 public:
  ProjectionBatch(const KeyValueReader& base, RollupPaths& paths) : base_(base), paths_(paths) {}
  ProjectionBatch(const ProjectionBatch&) = delete;
  ProjectionBatch& operator=(const ProjectionBatch&) = delete;

  // The member as this batch sees it (stored, plus what the batch staged).
  Result<std::optional<MemberRecord>> member(const std::string& id);
  // The retraction that retracted `id`, if any.
  Result<std::optional<std::string>> retracted_by(const std::string& id);

  // Stages the contribution of a numbered event (origin and seq set).
  Status apply(schema::Event::Reader event, const EventLookup& lookup);

  // The key changes of everything staged, in (cf, key) order. Call once.
  Result<std::vector<KeyChange>> changes();
  // After changes(): the map the batch's map events lead to, or nullptr when it held none.
  const std::shared_ptr<const UnitMap>& new_map() const { return new_map_; }

 private:
  struct StagedMember {
    std::optional<std::string> base_unit;  // the unit indexed in member_units before the batch
    std::optional<MemberRecord> record;
    bool dirty = false;
  };
  struct StagedTransfer {
    uint32_t base_outs = 0;  // as stored before the batch
    uint32_t base_ins = 0;
    uint32_t outs = 0;
    uint32_t ins = 0;
    bool dirty = false;
  };

  // Adds (sign +1) or removes (sign -1) an event's contribution everywhere.
  Status contribute(schema::Event::Reader event, int sign);
  Status contribute_member(schema::Event::Reader event, int sign);
  Status contribute_transfer(schema::Event::Reader event, int sign);
  Status retract(schema::Event::Reader retraction, const EventLookup& lookup);
  Result<StagedMember*> staged_member(const std::string& id);
  Status tally_changes(std::vector<KeyChange>& out);
  // With map events staged: folds the new map and stages what it moves (the stored own rows of
  // every unit whose chain changed, and members.inTransit of unmatched transfers).
  Status change_map();
  Status move_in_transit(RollupPaths& before, RollupPaths& after);
  void stage_in_transit_changes();

  // Units and metrics are summed by a number each, given by this batch: the keys of the tally
  // rows are built once per row, at the end, not once per event and ancestor.
  uint32_t unit_id(std::string_view unit);
  uint32_t metric_id(std::string_view metric);
  // The numbers of [unit, parent, ..., node] (RollupPaths::chain). Valid until the next call.
  const std::vector<uint32_t>& chain_of(uint32_t unit);

  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  const KeyValueReader& base_;
  RollupPaths& paths_;
  std::vector<std::string> units_;                                                // by number
  std::unordered_map<std::string, uint32_t, TextHash, std::equal_to<>> unit_ids_;
  std::vector<std::vector<uint32_t>> chains_;                                    // by unit number
  std::vector<std::string_view> metrics_;  // by number: dated_metric_names() and kInTransitMetric
  std::unordered_map<std::string_view, uint32_t> metric_ids_;
  // Dated deltas at their own unit: tally_rows::kOwn rows (unit, yyyymmdd, metric numbers).
  tally_rows::RowSums own_tallies_;
  // Day deltas at one unit only (no chain), as kOwn rows: what a map change moves.
  tally_rows::RowSums moved_tallies_;
  std::map<std::string, std::string> map_events_;  // map_event_key -> encoded change, staged
  std::shared_ptr<const UnitMap> new_map_;
  std::unique_ptr<RollupPaths> new_paths_;  // under new_map_
  RollupPaths* final_paths_ = nullptr;      // where this batch's own deltas roll up
  bool in_transit_moved_ = false;           // change_map() staged every transfer's inTransit
  std::map<std::string, int64_t> in_transit_;  // unit -> delta of members.inTransit
  std::unordered_map<std::string, StagedMember> members_;
  std::unordered_map<std::string, StagedTransfer> transfers_;  // transfers key -> counts
  std::map<std::string, std::string> retracted_;               // target id -> retraction id
};

}  // namespace rollcall
