// Words for one-line messages about TOML files a person wrote or may have
// damaged (the cluster file, a backup manifest).
#pragma once

#include <string>
#include <string_view>
#include <toml++/toml.h>

namespace meridian::node {

// `text` in double quotes, escaped and cut short at 80 bytes.
std::string quote(std::string_view text);
// "a string", "an integer", ...
std::string_view with_article(toml::node_type type);

}  // namespace meridian::node
