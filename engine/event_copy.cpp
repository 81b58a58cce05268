#include "engine/event_copy.h"

#include <capnp/any.h>
#include <capnp/dynamic.h>
#include <capnp/schema.h>

#include <unordered_map>
#include <vector>

namespace rollcall {
namespace {

enum class Shape { kStruct, kStructList, kPointerList, kBlob, kPrimitive };

struct FieldPlan {
  capnp::StructSchema::Field field;
  Shape shape;
};

// What to copy per struct, computed once for every struct reachable from Event (schema
// lookups such as Field::getType are too slow to repeat per event).
class CopyPlan {
 public:
  CopyPlan() { add(capnp::Schema::from<schema::Event>()); }

  const std::vector<FieldPlan>& plain(capnp::StructSchema s) const { return plans_.at(s.getProto().getId()).plain; }
  const FieldPlan* in_union(capnp::StructSchema s, const capnp::StructSchema::Field& active) const {
    const auto& u = plans_.at(s.getProto().getId()).by_discriminant;
    const auto it = u.find(active.getProto().getDiscriminantValue());
    return it == u.end() ? nullptr : &it->second;
  }

 private:
  struct StructPlan {
    std::vector<FieldPlan> plain;
    std::unordered_map<uint16_t, FieldPlan> by_discriminant;
  };

  void add(capnp::StructSchema s) {
    if (plans_.count(s.getProto().getId())) return;
    StructPlan& plan = plans_[s.getProto().getId()];
    for (auto field : s.getFields()) {
      const auto type = field.getType();
      Shape shape = Shape::kPrimitive;
      if (type.isStruct()) {
        shape = Shape::kStruct;
        add(type.asStruct());
      } else if (type.isList()) {
        const auto element = type.asList().getElementType();
        shape = element.isStruct() ? Shape::kStructList : Shape::kPointerList;
        if (element.isStruct()) add(element.asStruct());
      } else if (type.isText() || type.isData()) {
        shape = Shape::kBlob;
      }
      const FieldPlan fp{field, shape};
      const auto discriminant = field.getProto().getDiscriminantValue();
      if (discriminant == capnp::schema::Field::NO_DISCRIMINANT) plan.plain.push_back(fp);
      else plan.by_discriminant.emplace(discriminant, fp);
    }
  }

  std::unordered_map<uint64_t, StructPlan> plans_;
};

const CopyPlan& copy_plan() {
  static const CopyPlan plan;
  return plan;
}

void copy_struct(capnp::DynamicStruct::Reader from, capnp::DynamicStruct::Builder to);

void copy_field(capnp::DynamicStruct::Reader from, capnp::DynamicStruct::Builder to, const FieldPlan& plan) {
  const auto& field = plan.field;
  switch (plan.shape) {
    case Shape::kPrimitive:
      to.set(field, from.get(field));  // primitives and enums (raw values are kept)
      return;
    case Shape::kBlob:
      if (from.has(field)) to.set(field, from.get(field));  // read through the accessor
      return;
    case Shape::kStruct:
      if (from.has(field))
        copy_struct(from.get(field).as<capnp::DynamicStruct>(), to.init(field).as<capnp::DynamicStruct>());
      return;
    case Shape::kStructList:
    case Shape::kPointerList: {
      if (!from.has(field)) return;
      auto source = from.get(field).as<capnp::DynamicList>();
      auto target = to.init(field, source.size()).as<capnp::DynamicList>();
      for (unsigned i = 0; i < source.size(); ++i) {
        if (plan.shape == Shape::kStructList)
          copy_struct(source[i].as<capnp::DynamicStruct>(), target[i].as<capnp::DynamicStruct>());
        else
          target.set(i, source[i]);
      }
      return;
    }
  }
}

void copy_struct(capnp::DynamicStruct::Reader from, capnp::DynamicStruct::Builder to) {
  const auto schema = from.getSchema();
  for (const FieldPlan& plan : copy_plan().plain(schema)) copy_field(from, to, plan);
  KJ_IF_MAYBE(active, from.which()) {
    if (const FieldPlan* plan = copy_plan().in_union(schema, *active)) copy_field(from, to, *plan);
  }
}

}  // namespace

void copy_event_checked(schema::Event::Reader from, schema::Event::Builder to) {
  auto dynamic = capnp::toDynamic(from);
  copy_struct(dynamic, capnp::toDynamic(to));
  if (dynamic.which() == nullptr) {
    // Unknown kind: carry the discriminant so the validator can name it.
    auto proto = capnp::Schema::from<schema::Event>().getProto().getStruct();
    const size_t offset = proto.getDiscriminantOffset() * 2;
    auto source = capnp::AnyStruct::Reader(from).getDataSection();
    auto target = capnp::AnyStruct::Builder(kj::mv(to)).getDataSection();
    if (source.size() >= offset + 2 && target.size() >= offset + 2) {
      target[offset] = source[offset];
      target[offset + 1] = source[offset + 1];
    }
  }
}

}  // namespace rollcall
