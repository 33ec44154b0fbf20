// Text inside JSON strings, for the admin listener's /status and /conflicts.
#pragma once

#include <string>
#include <string_view>

namespace meridian::node {

// Escapes `text` for a JSON string: quote, backslash and control bytes. Bytes from 0x80 pass
// through (UTF-8 names stay readable) unless `ascii_only`, which writes each as \u00XX, so that
// arbitrary binary (keys and values) still makes valid JSON.
std::string json_escape(std::string_view text, bool ascii_only = false);

}  // namespace meridian::node
