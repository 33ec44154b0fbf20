#include "storage/checked_file.hpp"

#include "storage/crc32c.hpp"
#include "storage/file_copy.hpp"
#include "storage/little_endian.hpp"

namespace meridian::node {

namespace {
constexpr std::size_t kHeaderBytes = 8 + 4 + 4;
}

Expected<void, std::string> write_checked_file(Env& env, const std::string& path,
                                               std::string_view magic, std::string_view body) {
    std::string out(magic);
    put_u32(out, static_cast<std::uint32_t>(body.size()));
    put_u32(out, crc32c(body));
    out.append(body);
    return write_file_durably(env, path, out);
}

Expected<std::optional<std::string>, std::string> read_checked_file(Env& env,
                                                                    const std::string& path,
                                                                    std::string_view magic) {
    if (!env.file_size(path)) return std::optional<std::string>();
    auto text = env.read_file(path);
    if (!text) return unexpected(path + ": " + text.error());
    const std::string& t = *text;
    if (t.size() < kHeaderBytes || std::string_view(t).substr(0, 8) != magic)
        return unexpected(path + ": not a " + std::string(magic) + " file");
    const std::uint32_t length = get_u32(t.data() + 8);
    if (t.size() - kHeaderBytes != length)
        return unexpected(path + ": " + std::to_string(t.size() - kHeaderBytes) +
                          " bytes of body, the header says " + std::to_string(length));
    std::string body = t.substr(kHeaderBytes);
    if (crc32c(body) != get_u32(t.data() + 12)) return unexpected(path + ": checksum mismatch");
    return std::optional<std::string>(std::move(body));
}

}  // namespace meridian::node
