// A list of failures as JSON, [{"type": …, "context": {…}}, …], and back:
// the shape Keylime's clients read and the stores keep.
#pragma once

#include <vector>

#include "common/appraisal.h"
#include "common/json_writer.h"
#include "common/value.h"

namespace attestd {

void WriteFailureList(JsonWriter& w, const std::vector<Failure>& failures);
// From a parsed list; entries that are not maps are skipped.
std::vector<Failure> FailureListFromValue(const Value& list);

}  // namespace attestd
