#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H

/* The system OpenSSL 3 headers SentinelTLS calls into (Debian 12: libssl-dev 3.0). Macros are
 * not importable; CSentinelTLS wraps the ones Sentinel needs. */
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>
#include <openssl/pem.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <openssl/bio.h>

#endif
