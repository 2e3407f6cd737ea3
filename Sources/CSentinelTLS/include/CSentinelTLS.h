#ifndef CSENTINEL_TLS_H
#define CSENTINEL_TLS_H

/* OpenSSL's macro APIs as functions. Only opaque struct pointers appear here (Swift imports
 * them as OpaquePointer, the same type COpenSSL's declarations give), so this header includes
 * no OpenSSL or libc header and owns none of their declarations. */

#include <stddef.h>
#include <stdint.h>

struct ssl_st;
struct ssl_ctx_st;
struct evp_mac_ctx_st;
struct x509_store_st;
struct bio_st;
struct x509_st;

/* Options and modes every Sentinel context gets: no renegotiation, no compression,
 * SSL_MODE_RELEASE_BUFFERS, no 0-RTT. Servers: server cipher preference, session cache off,
 * `tickets` stateless tickets per handshake (0 = SSL_OP_NO_TICKET). Clients: an external
 * session cache (the new-session callback), tickets on. Returns 1 or 0. */
int sentinel_tls_ctx_configure(struct ssl_ctx_st *ctx, int is_server, int tickets);

/* SSL_CTX_set_min/max_proto_version; 0 = no bound. Returns 1 or 0. */
int sentinel_tls_ctx_set_versions(struct ssl_ctx_st *ctx, int min_version, int max_version);

/* SSL_CTX_set1_groups_list. Returns 1 or 0. */
int sentinel_tls_ctx_set_groups(struct ssl_ctx_st *ctx, const char *groups);

/* SSL_CTX_set_max_cert_list: the largest certificate chain accepted from the peer. */
void sentinel_tls_ctx_set_max_cert_list(struct ssl_ctx_st *ctx, long bytes);

/* SSL_CTX_set_tlsext_status_cb (server: staple an OCSP response). */
int sentinel_tls_ctx_set_status_cb(struct ssl_ctx_st *ctx, int (*cb)(struct ssl_st *, void *));

/* SSL_set_tlsext_status_ocsp_resp with a copy of `der` (OpenSSL frees its copy). Returns 1 or 0. */
int sentinel_tls_set_ocsp_response(struct ssl_st *ssl, const unsigned char *der, size_t len);

/* SSL_get_tlsext_status_ocsp_resp (client): the stapled response, or -1 / NULL if none. */
long sentinel_tls_get_ocsp_response(struct ssl_st *ssl, const unsigned char **der);

/* SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp) (client: ask for a staple). */
int sentinel_tls_request_ocsp(struct ssl_st *ssl);

/* SSL_set_tlsext_host_name (client SNI). Returns 1 or 0. */
int sentinel_tls_set_host_name(struct ssl_st *ssl, const char *name);

/* SSL_set1_verify_cert_store. Returns 1 or 0. */
int sentinel_tls_set1_verify_cert_store(struct ssl_st *ssl, struct x509_store_st *store);

/* Keys an HMAC-SHA256 EVP_MAC_CTX (the ticket-key callback's hctx). Returns 1 or 0. */
int sentinel_tls_ticket_hmac_init(struct evp_mac_ctx_st *hctx, const unsigned char *key, size_t len);

/* Ex-data indices for the SSL (the engine) and SSL_CTX (the context set), allocated once. */
int sentinel_tls_ssl_ex_index(void);
int sentinel_tls_ctx_ex_index(void);

/* BIO retry flags (BIO_set_retry_read, BIO_clear_retry_flags). */
void sentinel_tls_bio_set_retry_read(struct bio_st *bio);
void sentinel_tls_bio_clear_retry(struct bio_st *bio);

/* The negotiated key-exchange group's name ("X25519", "prime256v1"…), or NULL. */
const char *sentinel_tls_negotiated_group(struct ssl_st *ssl);

/* ERR_GET_LIB / ERR_GET_REASON. */
int sentinel_tls_err_lib(unsigned long code);
int sentinel_tls_err_reason(unsigned long code);

/* X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL on a store. */
int sentinel_tls_store_enable_crl_check(struct x509_store_st *store);

/* XN_FLAG_RFC2253 for X509_NAME_print_ex. */
unsigned long sentinel_tls_xn_flags_rfc2253(void);

/* What sentinel_tls_ocsp_inspect found in a DER OCSPResponse for one certificate. */
typedef struct {
    /* 0 good, 1 revoked, 2 unknown (V_OCSP_CERTSTATUS_*); -1 when not found. */
    int cert_status;
    /* thisUpdate / nextUpdate in seconds since the epoch (next_update 0: none given). */
    long long this_update;
    long long next_update;
    /* The responseStatus (0 successful). */
    int response_status;
} sentinel_tls_ocsp_facts;

/* Parses `der` as an OCSPResponse and finds the single response for `leaf`: by serial number
 * and issuer-name hash, and with `issuer` (may be NULL) also by issuer-key hash. Returns 0 when
 * found (facts filled), 1 does not parse, 2 response status not successful, 3 not a basic
 * response, 4 no response for this certificate, 5 a time does not convert. */
int sentinel_tls_ocsp_inspect(const unsigned char *der, size_t len, struct x509_st *leaf, struct x509_st *issuer,
                              sentinel_tls_ocsp_facts *facts);

/* Sends the server_name acknowledgement when the client sent a name (a servername callback). */
void sentinel_tls_ctx_ack_server_name(struct ssl_ctx_st *ctx);

#endif
