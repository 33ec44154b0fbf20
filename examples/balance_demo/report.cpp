#include "report.hpp"

#include <cstdio>
#include <sstream>

namespace meridian::demo {

namespace {

std::string number(const std::optional<std::int64_t>& value, const char* missing = "-") {
    return value ? std::to_string(*value) : missing;
}

std::string millis(const std::optional<double>& value, int decimals) {
    if (!value) return "-";
    char text[32];
    std::snprintf(text, sizeof text, "%.*f", decimals, *value);
    return text;
}

std::string cell(const std::string& text, int width) {
    return text.size() >= static_cast<std::size_t>(width)
               ? " " + text
               : std::string(width - text.size(), ' ') + text;
}

const RowResult* find(const std::vector<RowResult>& rows, PolicyKind kind) {
    for (const RowResult& row : rows) {
        if (row.account.kind == kind) return &row;
    }
    return nullptr;
}

std::string refusal_list(const RowResult& row) {
    std::string list;
    for (const auto& [reason, count] : row.refusals) {
        list += (list.empty() ? "" : ", ") + reason + " " + std::to_string(count);
    }
    return list;
}

std::string below_zero_phrase(const RowResult& row) {
    if (row.below_zero == 0) return "never went below zero";
    return "was seen below zero " + std::to_string(row.below_zero) + " times (lowest " +
           std::to_string(row.lowest) + ")";
}

// Breaks `text` into lines of at most `width` columns, at spaces.
std::string wrap(const std::string& text, std::size_t width) {
    std::string out, line;
    std::istringstream words(text);
    for (std::string word; words >> word;) {
        if (!line.empty() && line.size() + 1 + word.size() > width) {
            out += line + "\n";
            line.clear();
        }
        line += (line.empty() ? "" : " ") + word;
    }
    return out + line + "\n";
}

}  // namespace

std::string format_table(const std::vector<RowResult>& rows, const ReportContext& context) {
    std::ostringstream out;
    const int label_width = 8, region_width = 10, width = 9;
    out << "policy  ";
    for (const std::string& name : context.region_names) out << cell(name, region_width);
    for (const char* title : {"implied", "lost", "below-0", "refused", "p50-ms", "p99-ms"})
        out << cell(title, width);
    out << cell("converge-ms", 13) << '\n';
    for (const RowResult& row : rows) {
        std::string label = row.account.label;
        out << label
            << std::string(label.size() < label_width ? label_width - label.size() : 1, ' ');
        for (const auto& balance : row.final_balance) out << cell(number(balance), region_width);
        out << cell(std::to_string(row.implied), width) << cell(number(row.lost, "?"), width)
            << cell(std::to_string(row.below_zero), width)
            << cell(std::to_string(row.refused), width) << cell(millis(row.p50_ms, 2), width)
            << cell(millis(row.p99_ms, 2), width)
            << cell(row.converge_ms ? millis(row.converge_ms, 0) : std::string("never"), 13);
        if (!row.converged) out << "  NOT CONVERGED";
        out << '\n';
    }
    out << "\n"
        << "  columns: the final balance at each region; implied = what the acknowledged deposits\n"
        << "  and withdrawals add up to; lost = acknowledged updates missing from the final "
           "balance;\n"
        << "  below-0 = balance samples below zero (every region, every 10 ms); refused = writes "
           "the\n"
        << "  store refused; p50/p99 = write latency at " << context.latency_region
        << " (the home account lives in " << context.home_region << ");\n"
        << "  converge = from the heal until every region held every write made before it.\n\n";
    for (const RowResult& row : rows) {
        out << "  " << row.account.label << " (" << row.account.key << "): " << row.acknowledged
            << " writes acknowledged";
        if (row.declined)
            out << ", " << row.declined << " withdrawals declined by the client (balance too low)";
        if (row.refused) out << ", refused: " << refusal_list(row);
        if (row.read_errors) out << ", " << row.read_errors << " reads failed";
        if (row.unknown)
            out << ", " << row.unknown << " with unknown outcome (timeout or lost connection)";
        out << '\n';
        if (!row.problem.empty()) {
            std::istringstream lines(row.problem);
            for (std::string line; std::getline(lines, line);)
                out << "    problem: " << line << '\n';
        }
    }
    return out.str();
}

std::string explain(const std::vector<RowResult>& rows, const ReportContext& context) {
    std::vector<std::string> paragraphs;
    const RowResult* counter = find(rows, PolicyKind::counter);

    if (const RowResult* lww = find(rows, PolicyKind::lww)) {
        std::string p =
            "lww: every client read the balance, added or subtracted, and SET it back -- the way "
            "an app keeps a balance without a CRDT. ";
        if (lww->lost && *lww->lost > 0) {
            p += std::to_string(*lww->lost) + " of " + std::to_string(lww->acknowledged) +
                 " acknowledged updates were lost: a concurrent write (another client, another "
                 "region, or "
                 "the other side of the partition) overwrote them, and the last writer won. The "
                 "clients "
                 "were told their operations succeeded; those add up to " +
                 std::to_string(lww->implied) + ", the account shows " +
                 number(lww->final_balance.empty() ? std::nullopt : lww->final_balance[0]) + ".";
        } else {
            p += "This run lost no update, which takes luck: nothing prevents it.";
        }
        paragraphs.push_back(p);
    }
    if (counter) {
        std::string p = "counter: INCRBY and DECRBY from every region add up, so ";
        p += counter->lost && *counter->lost == 0
                 ? "every acknowledged update counts (final = implied). "
                 : "every update should count -- yet this run's final balance differs from the "
                   "implied one. ";
        p += "The client checks the balance before withdrawing, but regions spend the same money "
             "concurrently (" +
             context.isolated_region + " all through the partition), and the balance " +
             below_zero_phrase(*counter) + ".";
        paragraphs.push_back(p);
    }
    if (const RowResult* home = find(rows, PolicyKind::home)) {
        std::string p = "home: every write of the account runs at its home region, " +
                        context.home_region + ", which checks the floor, ";
        p += home->below_zero == 0
                 ? "so the balance never went below zero. "
                 : "so the balance should never go below zero -- yet it " +
                       below_zero_phrase(*home) + ": this node ran writes away from the home. ";
        p += "Writes elsewhere pay a round trip to the home (p50 " + millis(home->p50_ms, 2) +
             " ms at " + context.latency_region;
        if (counter) p += " against " + millis(counter->p50_ms, 2) + " ms for the local counter";
        p += "; here on loopback, between continents a round trip is ~100 ms) and fail while the "
             "home is "
             "out of reach, as " +
             context.isolated_region + " was during the partition. Refused: " +
             (home->refused ? refusal_list(*home) : std::string("none")) + ".";
        paragraphs.push_back(p);
    }
    if (const RowResult* bounded = find(rows, PolicyKind::bounded)) {
        std::string p =
            "bounded: a region spends the rights it holds (what it deposited, or rights moved to "
            "it on demand) without asking anyone, so writes stay local and the balance " +
            below_zero_phrase(*bounded) +
            ". A withdrawal is refused only when the region's own rights run out and no peer "
            "can give more in time (" +
            std::to_string(bounded->refused) + " refused).";
        paragraphs.push_back(p);
    }
    std::string out;
    for (const std::string& p : paragraphs) out += wrap(p, 78) + "\n";
    return out;
}

}  // namespace meridian::demo
