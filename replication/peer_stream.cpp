#include "replication/peer_stream.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl/error.hpp>

namespace meridian::replication {

namespace ssl = boost::asio::ssl;

Expected<std::unique_ptr<ssl::context>, std::string> make_tls_context(const std::string& cert_file,
                                                                      const std::string& key_file,
                                                                      const std::string& ca_file) {
    std::unique_ptr<ssl::context> context;
    try {
        // The constructor's only failure is OpenSSL refusing to allocate; it throws.
        context = std::make_unique<ssl::context>(ssl::context::tls);
    } catch (const boost::system::system_error& e) {
        return unexpected("cannot create a TLS context: " + describe_error(e.code()));
    }
    boost::system::error_code ec;
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                             ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                             ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                         ec);
    if (!ec && SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION) != 1)
        return unexpected(std::string("cannot require TLS 1.2 or later"));
    if (!ec) context->use_certificate_chain_file(cert_file, ec);
    if (ec)
        return unexpected("cannot load the TLS certificate " + cert_file + ": " +
                          describe_error(ec));
    context->use_private_key_file(key_file, ssl::context::pem, ec);
    if (ec) return unexpected("cannot load the TLS key " + key_file + ": " + describe_error(ec));
    if (SSL_CTX_check_private_key(context->native_handle()) != 1)
        return unexpected("the TLS key " + key_file + " does not match the certificate " +
                          cert_file);
    context->load_verify_file(ca_file, ec);
    if (ec) return unexpected("cannot load the TLS CA file " + ca_file + ": " + describe_error(ec));
    context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
    if (ec) return unexpected("cannot enable TLS peer verification: " + describe_error(ec));
    return context;
}

std::string describe_error(const boost::system::error_code& ec) {
    std::string text = ec.message();
    if (ec.category() == boost::asio::error::get_ssl_category()) {
        // OpenSSL's reason string alone ("certificate verify failed") is the useful part;
        // add the library name so it reads as a TLS failure.
        if (const char* lib = ERR_lib_error_string(static_cast<unsigned long>(ec.value())))
            text += std::string(" (") + lib + ")";
        return "TLS: " + text;
    }
    if (ec == ssl::error::stream_truncated) return "TLS: the peer closed the stream";
    return text;
}

}  // namespace meridian::replication
