// The demo's output: one table, a row per policy, and a paragraph that reads
// it. Pure formatting over the rows' results; the main thread calls it once
// the rows have run.
#pragma once

#include <string>
#include <vector>

#include "workload.hpp"

namespace meridian::demo {

struct ReportContext {
    std::vector<std::string> region_names;  // table column order
    std::string home_region;                // where the home row's account lives
    std::string latency_region;             // where write latency was measured
    std::string isolated_region;            // the region cut off mid-run
};

// The table: a header line, then one line per row whose first word is the
// row's label and whose remaining words are its columns ("-" where a value is
// unknown, "?" where it cannot be told), then notes per row.
std::string format_table(const std::vector<RowResult>& rows, const ReportContext& context);

// What the table shows, in a few sentences drawn from this run's numbers.
std::string explain(const std::vector<RowResult>& rows, const ReportContext& context);

}  // namespace meridian::demo
