#include "tests/support/self_signed.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>

namespace hoso::testing {

namespace ssl = boost::asio::ssl;

std::string install_self_signed(ssl::context& tls) {
  const auto require = [](bool ok) {
    if (!ok) throw std::runtime_error("test server: cannot make its certificate");
  };
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
  require(key && cert);
  X509* x = cert.get();
  require(X509_set_version(x, X509_VERSION_3) == 1 && ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1 &&
          X509_gmtime_adj(X509_getm_notBefore(x), -3600) && X509_gmtime_adj(X509_getm_notAfter(x), 86400) &&
          X509_set_pubkey(x, key.get()) == 1);
  X509_NAME* name = X509_get_subject_name(x);
  require(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0) == 1 &&
          X509_set_issuer_name(x, name) == 1);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  require(san != nullptr);
  const bool added = X509_add_ext(x, san, -1) == 1;
  X509_EXTENSION_free(san);
  require(added && X509_sign(x, key.get(), EVP_sha256()) > 0);
  require(SSL_CTX_use_certificate(tls.native_handle(), x) == 1 &&
          SSL_CTX_use_PrivateKey(tls.native_handle(), key.get()) == 1);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  require(bio && PEM_write_bio_X509(bio.get(), x) == 1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace hoso::testing
