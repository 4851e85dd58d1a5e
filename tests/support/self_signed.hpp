// A self-signed TLS certificate made at run time for the test servers on the loopback (the SMTP server's
// STARTTLS, the webhook receiver's https): no key or certificate file is kept in the repository.
#pragma once
#include <boost/asio/ssl/context.hpp>
#include <string>

namespace hoso::testing {

// Makes a certificate for 127.0.0.1 and localhost (subjectAltName IP:127.0.0.1, DNS:localhost; valid from an
// hour ago for a day) with a fresh P-256 key, installs both in `tls`, and returns the certificate as PEM, for
// the client to trust. Throws std::runtime_error when OpenSSL cannot.
std::string install_self_signed(boost::asio::ssl::context& tls);

}  // namespace hoso::testing
