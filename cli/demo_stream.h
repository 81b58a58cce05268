// The events `rollcall demo` submits: a year of a few real wards of two districts, as their
// Youth Union secretaries would record them. Each ward has a roster admitted in earlier years,
// new admissions through the year, a member who matures out and one struck off, monthly
// campaign reports (eID registration, cashless merchants, digital teams, online dossiers...),
// members transferred to a ward of the other district (the out-half recorded at the ward they
// leave, the in-half at the ward they reach, a few days later), and every member present at the
// year's end rated in December.
//
// Every ward's lines are in effective-date order, so the member rules accept them all when each
// ward's node takes its own lines in order (the in-half of a transfer needs no earlier event at
// the receiving ward). Deterministic for a seed.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/types.h"
#include "engine/unit_map.h"

namespace rollcall::cli {

struct DemoLine {
  std::string date;  // effective date, YYYY-MM-DD
  std::string json;  // the line to submit at the ward's node
};

// Per ward, its lines in date order. `districts` are two districts of `map`; `wards_each` of the
// first wards (in code order) of each take part.
std::map<UnitCode, std::vector<DemoLine>> demo_year(const UnitMap& map, const std::vector<UnitCode>& districts,
                                                    size_t wards_each, int year, uint64_t seed);

}  // namespace rollcall::cli
