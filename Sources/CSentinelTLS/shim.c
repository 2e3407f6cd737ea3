#include "CSentinelTLS.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509.h>
#include <string.h>
#include <time.h>

int sentinel_tls_ctx_configure(SSL_CTX *ctx, int is_server, int tickets) {
    uint64_t options = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION;
    if (is_server) {
        options |= SSL_OP_CIPHER_SERVER_PREFERENCE;
        if (!tickets) options |= SSL_OP_NO_TICKET;
    }
    SSL_CTX_set_options(ctx, options);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (!SSL_CTX_set_max_early_data(ctx, 0)) return 0;
    if (is_server) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        if (!SSL_CTX_set_num_tickets(ctx, tickets > 0 ? (size_t)tickets : 0)) return 0;
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    }
    return 1;
}

int sentinel_tls_ctx_set_versions(SSL_CTX *ctx, int min_version, int max_version) {
    if (!SSL_CTX_set_min_proto_version(ctx, min_version)) return 0;
    if (!SSL_CTX_set_max_proto_version(ctx, max_version)) return 0;
    return 1;
}

int sentinel_tls_ctx_set_groups(SSL_CTX *ctx, const char *groups) {
    return SSL_CTX_set1_groups_list(ctx, groups) == 1;
}

void sentinel_tls_ctx_set_max_cert_list(SSL_CTX *ctx, long bytes) {
    SSL_CTX_set_max_cert_list(ctx, bytes);
}

int sentinel_tls_ctx_set_status_cb(SSL_CTX *ctx, int (*cb)(SSL *, void *)) {
    return (int)SSL_CTX_set_tlsext_status_cb(ctx, cb);
}

int sentinel_tls_set_ocsp_response(SSL *ssl, const unsigned char *der, size_t len) {
    if (len == 0 || len > (size_t)0x7fffffff) return 0;
    unsigned char *copy = OPENSSL_malloc(len);
    if (copy == NULL) return 0;
    memcpy(copy, der, len);
    if (!SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)len)) {
        OPENSSL_free(copy);
        return 0;
    }
    return 1;
}

long sentinel_tls_get_ocsp_response(SSL *ssl, const unsigned char **der) {
    unsigned char *p = NULL;
    long len = SSL_get_tlsext_status_ocsp_resp(ssl, &p);
    *der = p;
    return len;
}

int sentinel_tls_request_ocsp(SSL *ssl) {
    return (int)SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp);
}

int sentinel_tls_set_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

int sentinel_tls_set1_verify_cert_store(SSL *ssl, X509_STORE *store) {
    return (int)SSL_set1_verify_cert_store(ssl, store);
}

int sentinel_tls_ticket_hmac_init(EVP_MAC_CTX *hctx, const unsigned char *key, size_t len) {
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)key, len);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    return EVP_MAC_CTX_set_params(hctx, params);
}

int sentinel_tls_ssl_ex_index(void) {
    return SSL_get_ex_new_index(0, (void *)"sentinel engine", NULL, NULL, NULL);
}

int sentinel_tls_ctx_ex_index(void) {
    return SSL_CTX_get_ex_new_index(0, (void *)"sentinel context set", NULL, NULL, NULL);
}

void sentinel_tls_bio_set_retry_read(BIO *bio) { BIO_set_retry_read(bio); }

void sentinel_tls_bio_clear_retry(BIO *bio) { BIO_clear_retry_flags(bio); }

const char *sentinel_tls_negotiated_group(SSL *ssl) {
    int nid = SSL_get_negotiated_group(ssl);
    if (nid <= 0) return NULL;
    return SSL_group_to_name(ssl, nid);
}

int sentinel_tls_err_lib(unsigned long code) { return ERR_GET_LIB(code); }

int sentinel_tls_err_reason(unsigned long code) { return ERR_GET_REASON(code); }

int sentinel_tls_store_enable_crl_check(X509_STORE *store) {
    return X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
}

unsigned long sentinel_tls_xn_flags_rfc2253(void) { return XN_FLAG_RFC2253; }

static int sentinel_tls_time_to_epoch(const ASN1_GENERALIZEDTIME *t, long long *out) {
    struct tm parts;
    memset(&parts, 0, sizeof parts);
    if (t == NULL || ASN1_TIME_to_tm(t, &parts) != 1) return 0;
    *out = (long long)timegm(&parts);
    return 1;
}

/* Whether the CertID `cid` names `leaf`: same serial, same issuer-name hash (with the CertID's
 * own hash algorithm) and, when the issuer is known, the same issuer-key hash. */
static int sentinel_tls_ocsp_id_matches(const OCSP_CERTID *cid, X509 *leaf, X509 *issuer) {
    ASN1_OCTET_STRING *name_hash = NULL, *key_hash = NULL;
    ASN1_OBJECT *md_oid = NULL;
    ASN1_INTEGER *serial = NULL;
    if (!OCSP_id_get0_info(&name_hash, &md_oid, &key_hash, &serial, (OCSP_CERTID *)cid)) return 0;
    if (serial == NULL || ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(leaf)) != 0) return 0;
    const EVP_MD *md = EVP_get_digestbyobj(md_oid);
    if (md == NULL || name_hash == NULL) return 0;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (!X509_NAME_digest(X509_get_issuer_name(leaf), md, digest, &digest_len)) return 0;
    if ((unsigned int)ASN1_STRING_length(name_hash) != digest_len
        || memcmp(ASN1_STRING_get0_data(name_hash), digest, digest_len) != 0) return 0;
    if (issuer != NULL) {
        if (key_hash == NULL || !X509_pubkey_digest(issuer, md, digest, &digest_len)) return 0;
        if ((unsigned int)ASN1_STRING_length(key_hash) != digest_len
            || memcmp(ASN1_STRING_get0_data(key_hash), digest, digest_len) != 0) return 0;
    }
    return 1;
}

int sentinel_tls_ocsp_inspect(const unsigned char *der, size_t len, X509 *leaf, X509 *issuer,
                              sentinel_tls_ocsp_facts *facts) {
    facts->cert_status = -1;
    facts->this_update = 0;
    facts->next_update = 0;
    facts->response_status = -1;
    if (der == NULL || len == 0 || len > 0x7fffffff) return 1;
    const unsigned char *p = der;
    OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
    if (resp == NULL) return 1;
    int rc = 4;
    OCSP_BASICRESP *basic = NULL;
    facts->response_status = OCSP_response_status(resp);
    if (facts->response_status != OCSP_RESPONSE_STATUS_SUCCESSFUL) { rc = 2; goto done; }
    basic = OCSP_response_get1_basic(resp);
    if (basic == NULL) { rc = 3; goto done; }
    int count = OCSP_resp_count(basic);
    for (int i = 0; i < count; i++) {
        OCSP_SINGLERESP *single = OCSP_resp_get0(basic, i);
        if (single == NULL || !sentinel_tls_ocsp_id_matches(OCSP_SINGLERESP_get0_id(single), leaf, issuer)) continue;
        int reason = 0;
        ASN1_GENERALIZEDTIME *revoked = NULL, *this_update = NULL, *next_update = NULL;
        facts->cert_status = OCSP_single_get0_status(single, &reason, &revoked, &this_update, &next_update);
        if (!sentinel_tls_time_to_epoch(this_update, &facts->this_update)) { rc = 5; goto done; }
        if (next_update != NULL && !sentinel_tls_time_to_epoch(next_update, &facts->next_update)) { rc = 5; goto done; }
        rc = 0;
        break;
    }
done:
    OCSP_BASICRESP_free(basic);
    OCSP_RESPONSE_free(resp);
    ERR_clear_error();
    return rc;
}

/* Acknowledge the client's server_name (an empty server_name extension in the ServerHello or
 * EncryptedExtensions, RFC 6066 §3): OpenSSL sends it only when a servername callback accepts
 * the name. The host was already chosen by the ClientHello callback; this only says "used". */
static int sentinel_tls_ack_server_name(SSL *ssl, int *alert, void *arg) {
    (void)alert;
    (void)arg;
    return SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) != NULL ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_NOACK;
}

void sentinel_tls_ctx_ack_server_name(SSL_CTX *ctx) {
    SSL_CTX_set_tlsext_servername_callback(ctx, sentinel_tls_ack_server_name);
}
