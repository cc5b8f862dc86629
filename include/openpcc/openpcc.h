/*
 * openpcc.h: the stable C API of the OpenPCC client (libopenpcc.so.0, libopenpcc.a).
 *
 * Private inference from C (or from any language with a C FFI): each request is encrypted to attested compute nodes,
 * paid with an anonymous credit, and sent through the OHTTP relay; the answer is decrypted as it streams in.
 *
 *   openpcc_client* client = NULL;
 *   openpcc_error* error = NULL;
 *   if (openpcc_client_create("openpcc-dev/client.json", &client, &error) != OPENPCC_OK) {
 *     fprintf(stderr, "%s\n", openpcc_error_message(error));       // "auth: AuthBank unreachable: ..."
 *     openpcc_error_free(error);
 *     return 1;
 *   }
 *   static const char body[] = "{\"model\":\"llama3\",\"stream\":true,"
 *                              "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
 *   openpcc_response* response = NULL;
 *   if (openpcc_client_request(client, "POST", "/v1/chat/completions", NULL, 0, body, sizeof body - 1, &response,
 *                              &error) == OPENPCC_OK) {
 *     printf("status %d\n", openpcc_response_status(response));
 *     const uint8_t* data;
 *     size_t length;
 *     while (openpcc_response_next_chunk(response, &data, &length, &error) == OPENPCC_OK && length > 0) {
 *       fwrite(data, 1, length, stdout);                            // SSE events as the node produces them
 *     }
 *     openpcc_response_free(response);
 *   }
 *   if (error) { fprintf(stderr, "%s\n", openpcc_error_message(error)); openpcc_error_free(error); }
 *   openpcc_client_close(client, NULL);                             // unused credits back to the AuthBank
 *   openpcc_client_free(client);
 *
 * Conventions:
 *  - Handles are opaque. Every function accepts NULL handles and NULL pointers without crashing: it returns
 *    OPENPCC_ERR_INVALID_ARGUMENT (or 0 / NULL for the accessors).
 *  - Functions that can fail return an openpcc_status and take a last argument `openpcc_error** error`. On failure,
 *    when `error` is not NULL, *error receives a new error object (free it with openpcc_error_free); on success
 *    *error is left untouched. Pass NULL to ignore the details.
 *  - Bytes always travel with their length: request and response bodies may hold any byte (a NUL does not end
 *    them), header names and values come with lengths too (HTTP forbids CR, LF and NUL in values: such a field is
 *    refused, never cut). Only the method, the path, the config path and the base directory are NUL-terminated.
 *  - No C++ exception, type or allocation crosses this API; the library's memory is freed by the library's own
 *    *_free functions.
 *  - Threads: an openpcc_client may be used by several threads at once (concurrent requests are the intended use);
 *    an openpcc_response is used by one thread at a time (calls on one response are serialized internally, so misuse
 *    blocks rather than corrupts). Calls block the calling thread; the library runs its own I/O threads. Do not call
 *    into the library from a signal handler, and in a child after fork() use no client created before the fork.
 *  - Logging: the library logs warnings to stderr. The environment variable OPENPCC_LOG_LEVEL (trace, debug, info,
 *    warn, error, off) changes the level when the first client is created.
 */
#ifndef OPENPCC_OPENPCC_H_
#define OPENPCC_OPENPCC_H_

#include <stddef.h>
#include <stdint.h>

/* The library is built with hidden visibility; only what is marked here is exported (and a version script keeps
 * every other symbol local). */
#if defined(__GNUC__) || defined(__clang__)
#define OPENPCC_EXPORT __attribute__((visibility("default")))
#else
#define OPENPCC_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The version this header belongs to. The shared library's SONAME carries the major version (libopenpcc.so.0);
 * within one major version, functions are only added, never changed or removed. */
#define OPENPCC_VERSION_MAJOR 0
#define OPENPCC_VERSION_MINOR 1
#define OPENPCC_VERSION_PATCH 0
#define OPENPCC_VERSION_STRING "0.1.0"
#define OPENPCC_VERSION_NUMBER ((OPENPCC_VERSION_MAJOR << 16) | (OPENPCC_VERSION_MINOR << 8) | OPENPCC_VERSION_PATCH)

/* The library's version as "MAJOR.MINOR.PATCH" (static storage), and as OPENPCC_VERSION_NUMBER computes it. Compare
 * with the macros to detect a header/library mismatch at run time. */
OPENPCC_EXPORT const char* openpcc_version(void);
OPENPCC_EXPORT uint32_t openpcc_version_number(void);

/* ----------------------------------------------------------------------------------------------------------------
 * Status codes and errors
 *
 * A failed request names the step that failed, both as a status code and as the first word of the message
 * ("payment: the wallet has no credit ready ..."). Codes are stable; new codes may be added.
 */
typedef enum openpcc_status {
  OPENPCC_OK = 0,
  OPENPCC_ERR_INVALID_ARGUMENT = 1, /* a NULL handle or pointer, a malformed argument, an unusable request */
  OPENPCC_ERR_CONFIG = 2,           /* the client config (file, JSON, trust policy, CA file, wallet state file) */
  OPENPCC_ERR_AUTH = 3,             /* the AuthBank: unreachable, API key refused, bundles that do not verify */
  OPENPCC_ERR_NO_NODE = 4,          /* no verified compute node for the request's tags (model) */
  OPENPCC_ERR_PAYMENT = 5,          /* the wallet could not provide a credit */
  OPENPCC_ERR_ROUTING = 6,          /* relay / gateway / router: transport, OHTTP, or a router refusal */
  OPENPCC_ERR_NODE = 7,             /* the node's answer does not decrypt or decode, or was cut short */
  OPENPCC_ERR_ENGINE = 8,           /* reserved: inference engine errors arrive as responses with status >= 400 */
  OPENPCC_ERR_STATE = 9,            /* the call is not valid now (e.g. a request on a closed client) */
  OPENPCC_ERR_OUT_OF_MEMORY = 10,
  OPENPCC_ERR_INTERNAL = 11 /* a bug in the library (an unexpected exception stopped at the API boundary) */
} openpcc_status;

/* A static, NUL-terminated name for a status ("OPENPCC_ERR_ROUTING"); "OPENPCC_UNKNOWN" for other values. */
OPENPCC_EXPORT const char* openpcc_status_name(openpcc_status status);

typedef struct openpcc_error openpcc_error;

/* The status of the failure (OPENPCC_ERR_INVALID_ARGUMENT for a NULL error). */
OPENPCC_EXPORT openpcc_status openpcc_error_status(const openpcc_error* error);
/* The message, NUL-terminated UTF-8, valid until openpcc_error_free. A static string for a NULL error. */
OPENPCC_EXPORT const char* openpcc_error_message(const openpcc_error* error);
/* The message's length in bytes (without the terminating NUL). */
OPENPCC_EXPORT size_t openpcc_error_message_length(const openpcc_error* error);
/* NULL is a no-op. */
OPENPCC_EXPORT void openpcc_error_free(openpcc_error* error);

/* ----------------------------------------------------------------------------------------------------------------
 * Client
 */
typedef struct openpcc_client openpcc_client;

/* Creates a client from a config file: the same client.json `openpcc chat --config` reads (authbank_url, api_key or
 * api_key_file, ca_file, relay_url, trust_policy, default_tags, max_candidates, credit_amount, wallet, ...; relative
 * paths are relative to the file's directory). Blocking: fetches and verifies the AuthBank's configuration and opens
 * the wallet's state file (which is locked: one client per state file at a time). */
OPENPCC_EXPORT openpcc_status openpcc_client_create(const char* config_path, openpcc_client** client,
                                                    openpcc_error** error);

/* The same from the config's JSON text (`json_length` bytes; no NUL needed). Relative paths in it are relative to
 * `base_dir` (NULL = the current directory). */
OPENPCC_EXPORT openpcc_status openpcc_client_create_from_json(const char* json, size_t json_length,
                                                              const char* base_dir, openpcc_client** client,
                                                              openpcc_error** error);

/* Returns every credit the wallet holds to the AuthBank (waits up to the wallet's close_timeout_ms). Afterwards
 * requests fail with OPENPCC_ERR_STATE. Without close, unused credits stay in the wallet's state file and the next
 * client with that file continues with them. A failed close (e.g. the AuthBank unreachable until the timeout) also
 * leaves what it could not return in the state file. Only the first call closes; later calls return OPENPCC_OK.
 * Close after the responses you need: a response still open holds its credit, which close waits for. */
OPENPCC_EXPORT openpcc_status openpcc_client_close(openpcc_client* client, openpcc_error** error);

/* Releases the handle (does not close: see openpcc_client_close). Call it once, after every other thread stopped
 * using the handle; responses still open keep the client's internals alive until they are freed. NULL is a no-op. */
OPENPCC_EXPORT void openpcc_client_free(openpcc_client* client);

/* ----------------------------------------------------------------------------------------------------------------
 * Requests
 */

/* A header field: name and value with explicit lengths. Values may not contain CR, LF or NUL (HTTP forbids them);
 * such a field is refused with OPENPCC_ERR_INVALID_ARGUMENT rather than cut. */
typedef struct openpcc_header {
  const char* name;
  size_t name_length;
  const char* value;
  size_t value_length;
} openpcc_header;

/* Control headers: read by the library, never sent to the node (the reference SDKs' names).
 *   X-Confsec-Node-Tags: a,b,c      the node tags for this request instead of the config's default_tags (model=<m>
 *                                   is added for the four prompt paths from the body's "model"; an empty value
 *                                   means the default tags)
 *   X-Confsec-Credit-Amount: 1234   the amount to pay instead of the config's credit_amount; at most the wallet's
 *                                   prefetch_amount (one prefetched credit pays for one request, else
 *                                   OPENPCC_ERR_PAYMENT); openpcc_response_credit_value tells what was paid */
#define OPENPCC_HEADER_NODE_TAGS "X-Confsec-Node-Tags"
#define OPENPCC_HEADER_CREDIT_AMOUNT "X-Confsec-Credit-Amount"

typedef struct openpcc_response openpcc_response;

/* Sends one private request and returns once the node's answer has its head (status and headers); the body then
 * streams with openpcc_response_next_chunk / openpcc_response_read.
 *
 *   method          "POST", "GET", ... (NUL-terminated)
 *   path            origin form with its query string, exactly as the node should see it:
 *                   "/v1/chat/completions?foo=bar" (NUL-terminated; the query string is kept)
 *   headers         `header_count` fields (NULL if 0), sent inside the encryption; Content-Type defaults to
 *                   application/json; Host, Content-Length and hop-by-hop fields are set by the library
 *   body            `body_length` bytes, any values (NULL if 0)
 *
 * An answer with status >= 400 from the node or its engine (e.g. an unknown model) is a response like any other:
 * check openpcc_response_status and read its body (the credit is refunded). Failures before a node answered return
 * the step's status: OPENPCC_ERR_INVALID_ARGUMENT, _NO_NODE, _PAYMENT, _ROUTING, _NODE, _AUTH, _STATE. */
OPENPCC_EXPORT openpcc_status openpcc_client_request(openpcc_client* client, const char* method, const char* path,
                                                     const openpcc_header* headers, size_t header_count,
                                                     const void* body, size_t body_length,
                                                     openpcc_response** response, openpcc_error** error);

/* ----------------------------------------------------------------------------------------------------------------
 * Responses
 */

/* The node's HTTP status (0 for NULL). */
OPENPCC_EXPORT int openpcc_response_status(const openpcc_response* response);

/* Header fields of the answer, in order (names as the node sent them, lowercase in practice). */
OPENPCC_EXPORT size_t openpcc_response_header_count(const openpcc_response* response);
/* Field `index` (< header_count). The pointers stay valid until openpcc_response_free. Use the lengths; the strings
 * are NUL-terminated as well, for convenience. */
OPENPCC_EXPORT openpcc_status openpcc_response_header(const openpcc_response* response, size_t index,
                                                      const char** name, size_t* name_length, const char** value,
                                                      size_t* value_length);
/* The first field named `name` (NUL-terminated, compared ASCII case-insensitively). Not found is not an error:
 * OPENPCC_OK with *value = NULL and *value_length = 0. */
OPENPCC_EXPORT openpcc_status openpcc_response_find_header(const openpcc_response* response, const char* name,
                                                           const char** value, size_t* value_length);

/* The next piece of the body, as soon as the node sealed it: what the node read from its engine at once (usually
 * one SSE event or NDJSON line; at most 514 bytes per sealed chunk), never held back to fill a buffer. On OPENPCC_OK, either *length > 0 and *data points to library-owned bytes,
 * valid until the next call on this response (or its free), or *length == 0 and *data == NULL: the body has ended
 * (and the payment is settled with the router's refund). After the end or an error, every call returns the same.
 * Errors: OPENPCC_ERR_NODE (the answer does not decrypt or was cut short), OPENPCC_ERR_ROUTING (the stream broke). */
OPENPCC_EXPORT openpcc_status openpcc_response_next_chunk(openpcc_response* response, const uint8_t** data,
                                                          size_t* length, openpcc_error** error);

/* The same into a caller's buffer: copies up to `capacity` bytes of the current piece (waiting only if no byte is
 * pending) and keeps the rest of the piece for the next call. *length == 0 means the end (capacity must be > 0).
 * next_chunk and read may be mixed: next_chunk then returns what read left of a piece. */
OPENPCC_EXPORT openpcc_status openpcc_response_read(openpcc_response* response, void* buffer, size_t capacity,
                                                    size_t* length, openpcc_error** error);

/* Reads and drops the rest of the body, so that the payment settles with the router's refund. A response freed
 * before its end settles as "maybe spent" instead (the wallet finds out later by exchanging the credit). */
OPENPCC_EXPORT openpcc_status openpcc_response_finish(openpcc_response* response, openpcc_error** error);

/* 1 once the body has ended (next_chunk returned length 0, or finish succeeded), else 0. */
OPENPCC_EXPORT int openpcc_response_ended(const openpcc_response* response);
/* What the request paid (the credit's value), and, once ended, what the router refunded (-1 before the end). */
OPENPCC_EXPORT int64_t openpcc_response_credit_value(const openpcc_response* response);
OPENPCC_EXPORT int64_t openpcc_response_refund(const openpcc_response* response);
/* The id of the node that answered (NUL-terminated, valid until openpcc_response_free; "" for NULL). */
OPENPCC_EXPORT const char* openpcc_response_node_id(const openpcc_response* response);

/* Releases the response (without reading the rest: see openpcc_response_finish). NULL is a no-op. */
OPENPCC_EXPORT void openpcc_response_free(openpcc_response* response);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* OPENPCC_OPENPCC_H_ */
