// Errors a CRDT mutator or join can refuse with. They are values, returned in
// an Expected: a refused mutation changes nothing.
#pragma once

#include <cstdint>
#include <string_view>

namespace meridian::crdt {

enum class Error : std::uint8_t {
    overflow,             // the result would leave the 64-bit range
    insufficient_rights,  // a bounded counter replica holds fewer rights than asked
    type_mismatch,        // joining values of different CRDT types
    invalid_argument,     // e.g. a transfer to oneself
    retired,              // a bounded counter replica whose rights were handed over
};

constexpr std::string_view describe(Error error) {
    switch (error) {
        case Error::overflow: return "increment or decrement would overflow";
        case Error::insufficient_rights: return "insufficient rights";
        case Error::type_mismatch: return "values of different types cannot be joined";
        case Error::invalid_argument: return "invalid argument";
        case Error::retired:
            return "this replica's rights were handed over to its heir";
    }
    return "unknown error";
}

}  // namespace meridian::crdt
