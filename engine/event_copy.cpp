#include "engine/event_copy.h"

#include <capnp/any.h>
#include <capnp/dynamic.h>
#include <capnp/schema.h>

namespace rollcall {
namespace {

void copy_struct(capnp::DynamicStruct::Reader from, capnp::DynamicStruct::Builder to);

void copy_field(capnp::DynamicStruct::Reader from, capnp::DynamicStruct::Builder to,
                capnp::StructSchema::Field field) {
  const auto type = field.getType();
  if (type.isStruct()) {
    if (!from.has(field)) return;
    copy_struct(from.get(field).as<capnp::DynamicStruct>(), to.init(field).as<capnp::DynamicStruct>());
  } else if (type.isList()) {
    if (!from.has(field)) return;
    auto source = from.get(field).as<capnp::DynamicList>();
    auto target = to.init(field, source.size()).as<capnp::DynamicList>();
    const auto element = type.asList().getElementType();
    for (unsigned i = 0; i < source.size(); ++i) {
      if (element.isStruct()) {
        copy_struct(source[i].as<capnp::DynamicStruct>(), target[i].as<capnp::DynamicStruct>());
      } else {
        target.set(i, source[i]);  // text and primitives: read through the accessor
      }
    }
  } else if (type.isText() || type.isData()) {
    if (from.has(field)) to.set(field, from.get(field));
  } else {
    to.set(field, from.get(field));  // primitives and enums (raw values are kept)
  }
}

void copy_struct(capnp::DynamicStruct::Reader from, capnp::DynamicStruct::Builder to) {
  auto schema = from.getSchema();
  for (auto field : schema.getNonUnionFields()) copy_field(from, to, field);
  KJ_IF_MAYBE(active, from.which()) { copy_field(from, to, *active); }
}

}  // namespace

void copy_event_checked(schema::Event::Reader from, schema::Event::Builder to) {
  copy_struct(capnp::toDynamic(from), capnp::toDynamic(to));
  auto proto = capnp::Schema::from<schema::Event>().getProto().getStruct();
  if (capnp::toDynamic(from).which() == nullptr) {
    // Unknown kind: carry the discriminant so the validator can name it.
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
