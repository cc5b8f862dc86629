/* The C API end to end, compiled as C11 (-Wall -Wextra -Werror -pedantic-errors), against the local stack that
 * capi_stack_driver starts (its header says what the stand-in engine answers and what the environment holds).
 *
 * What it proves:
 *  - misuse (NULL handles and pointers, a missing config file, bad JSON, bad headers, a closed client) gives status
 *    codes and messages, never a crash;
 *  - a chat answer streams: several chunks, as the node sealed them (an SSE event per piece or split further);
 *  - the first chunk reaches this program before the engine finishes: the engine holds the rest of a "gate" answer
 *    until this program, having read the first chunk, writes a byte to OPENPCC_TEST_GATE_FD (the driver fails the
 *    run if the engine had to finish by its time limit instead);
 *  - binary bytes round-trip: all 256 byte values (NUL included), 4 times, go out JSON-escaped (the node forwards
 *    validated JSON only) and come back as a raw 1024-byte body, read in 7-byte pieces with openpcc_response_read
 *    and compared byte for byte;
 *  - a query string reaches the node: "/v1/chat/completions?trace=1" is answered by the node's own validator with
 *    400 ErrQueryNotAllowed (the reference SDKs drop it; the node, which alone decrypts the request, sees it);
 *  - one client serves 4 threads at once; a response outlives its freed client; finish settles; close, then
 *    OPENPCC_ERR_STATE; a client from the config's JSON text.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "openpcc/openpcc.h"

static int failures = 0;
static int checks = 0;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    ++checks;                                                                  \
    if (!(cond)) {                                                             \
      ++failures;                                                              \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);          \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
    }                                                                          \
  } while (0)

/* A growable byte buffer. */
typedef struct buffer {
  uint8_t* data;
  size_t length;
  size_t capacity;
} buffer;

static void buffer_append(buffer* b, const void* data, size_t length) {
  if (b->length + length + 1 > b->capacity) {
    size_t capacity = b->capacity ? b->capacity : 256;
    while (b->length + length + 1 > capacity) capacity *= 2;
    uint8_t* grown = realloc(b->data, capacity);
    if (grown == NULL) {
      fprintf(stderr, "out of memory\n");
      exit(2);
    }
    b->data = grown;
    b->capacity = capacity;
  }
  if (length > 0) memcpy(b->data + b->length, data, length);
  b->length += length;
  b->data[b->length] = 0; /* handy for strstr on text bodies; the length is what counts */
}

static void buffer_free(buffer* b) {
  free(b->data);
  b->data = NULL;
  b->length = b->capacity = 0;
}

static const char* model(void) {
  const char* m = getenv("OPENPCC_TEST_MODEL");
  return m ? m : "capi-test-model";
}

/* {"model":M,"messages":[{"role":"user","content":"<content_json>"}],"stream":S}; content_json is already escaped. */
static char* chat_body(const char* content_json, int stream) {
  const char* format = "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}],\"stream\":%s}";
  size_t size = strlen(format) + strlen(model()) + strlen(content_json) + 16;
  char* body = malloc(size);
  if (body == NULL) exit(2);
  snprintf(body, size, format, model(), content_json, stream ? "true" : "false");
  return body;
}

/* Reads the whole body with next_chunk; returns the chunk count (-1 on error, with the error reported). */
static int read_body(openpcc_response* response, buffer* out) {
  int chunks = 0;
  for (;;) {
    const uint8_t* data = NULL;
    size_t length = 0;
    openpcc_error* error = NULL;
    openpcc_status s = openpcc_response_next_chunk(response, &data, &length, &error);
    if (s != OPENPCC_OK) {
      fprintf(stderr, "next_chunk: %s: %s\n", openpcc_status_name(s), openpcc_error_message(error));
      openpcc_error_free(error);
      return -1;
    }
    if (length == 0) return chunks;
    ++chunks;
    buffer_append(out, data, length);
  }
}

static void test_version(void) {
  CHECK(strcmp(openpcc_version(), OPENPCC_VERSION_STRING) == 0, "library %s, header %s", openpcc_version(),
        OPENPCC_VERSION_STRING);
  CHECK(openpcc_version_number() == OPENPCC_VERSION_NUMBER, "%u", (unsigned)openpcc_version_number());
  CHECK(strcmp(openpcc_status_name(OPENPCC_ERR_ROUTING), "OPENPCC_ERR_ROUTING") == 0, "%s",
        openpcc_status_name(OPENPCC_ERR_ROUTING));
  CHECK(strcmp(openpcc_status_name((openpcc_status)999), "OPENPCC_UNKNOWN") == 0, "unknown status name");
}

static void test_misuse(void) {
  openpcc_error* error = NULL;
  openpcc_client* client = (openpcc_client*)(uintptr_t)1; /* must be reset to NULL on failure */

  /* NULL everything. */
  CHECK(openpcc_client_create(NULL, &client, &error) == OPENPCC_ERR_INVALID_ARGUMENT, "NULL path");
  CHECK(client == NULL, "client not reset");
  CHECK(error != NULL && openpcc_error_status(error) == OPENPCC_ERR_INVALID_ARGUMENT, "error object");
  CHECK(error != NULL && strstr(openpcc_error_message(error), "config_path") != NULL, "%s",
        openpcc_error_message(error));
  CHECK(error != NULL && openpcc_error_message_length(error) == strlen(openpcc_error_message(error)), "length");
  openpcc_error_free(error);
  error = NULL;
  CHECK(openpcc_client_create("x", NULL, NULL) == OPENPCC_ERR_INVALID_ARGUMENT, "NULL out");
  CHECK(openpcc_client_request(NULL, "POST", "/", NULL, 0, NULL, 0, NULL, NULL) == OPENPCC_ERR_INVALID_ARGUMENT,
        "NULL request");
  openpcc_response* response = (openpcc_response*)(uintptr_t)1;
  CHECK(openpcc_client_request(NULL, "POST", "/", NULL, 0, NULL, 0, &response, &error) ==
            OPENPCC_ERR_INVALID_ARGUMENT,
        "NULL client");
  CHECK(response == NULL, "response not reset");
  CHECK(error != NULL && strstr(openpcc_error_message(error), "client is NULL") != NULL, "%s",
        openpcc_error_message(error));
  openpcc_error_free(error);
  error = NULL;
  CHECK(openpcc_client_close(NULL, NULL) == OPENPCC_ERR_INVALID_ARGUMENT, "close NULL");
  openpcc_client_free(NULL);
  openpcc_response_free(NULL);
  openpcc_error_free(NULL);
  CHECK(openpcc_error_status(NULL) == OPENPCC_ERR_INVALID_ARGUMENT, "status of NULL");
  CHECK(openpcc_error_message(NULL) != NULL, "message of NULL");
  CHECK(openpcc_error_message_length(NULL) == 0, "length of NULL");
  CHECK(openpcc_response_status(NULL) == 0, "status");
  CHECK(openpcc_response_header_count(NULL) == 0, "header count");
  CHECK(openpcc_response_ended(NULL) == 0, "ended");
  CHECK(openpcc_response_refund(NULL) == -1, "refund");
  CHECK(openpcc_response_credit_value(NULL) == 0, "credit");
  CHECK(strcmp(openpcc_response_node_id(NULL), "") == 0, "node id");
  const uint8_t* data = NULL;
  size_t length = 0;
  const char* name = NULL;
  const char* value = NULL;
  size_t name_length = 0, value_length = 0;
  CHECK(openpcc_response_next_chunk(NULL, &data, &length, NULL) == OPENPCC_ERR_INVALID_ARGUMENT, "next_chunk");
  char small[4];
  CHECK(openpcc_response_read(NULL, small, sizeof small, &length, NULL) == OPENPCC_ERR_INVALID_ARGUMENT, "read");
  CHECK(openpcc_response_finish(NULL, NULL) == OPENPCC_ERR_INVALID_ARGUMENT, "finish");
  CHECK(openpcc_response_header(NULL, 0, &name, &name_length, &value, &value_length) == OPENPCC_ERR_INVALID_ARGUMENT,
        "header");
  CHECK(openpcc_response_find_header(NULL, "x", &value, &value_length) == OPENPCC_ERR_INVALID_ARGUMENT, "find");

  /* A config file that does not exist. */
  CHECK(openpcc_client_create("/nonexistent/openpcc/client.json", &client, &error) == OPENPCC_ERR_CONFIG,
        "missing config");
  CHECK(error != NULL && strncmp(openpcc_error_message(error), "config: ", 8) == 0, "%s",
        openpcc_error_message(error));
  CHECK(error != NULL && strstr(openpcc_error_message(error), "/nonexistent/openpcc/client.json") != NULL, "%s",
        openpcc_error_message(error));
  openpcc_error_free(error);
  error = NULL;

  /* Config JSON that does not parse, and JSON that breaks the config's rules. */
  static const char bad_json[] = "{\"authbank_url\": ";
  CHECK(openpcc_client_create_from_json(bad_json, sizeof bad_json - 1, NULL, &client, &error) == OPENPCC_ERR_CONFIG,
        "bad JSON");
  openpcc_error_free(error);
  error = NULL;
  static const char unknown_key[] = "{\"authbank_url\":\"https://127.0.0.1:1\",\"no_such_key\":1}";
  CHECK(openpcc_client_create_from_json(unknown_key, sizeof unknown_key - 1, "/tmp", &client, &error) ==
            OPENPCC_ERR_CONFIG,
        "unknown key");
  CHECK(error != NULL && strstr(openpcc_error_message(error), "no_such_key") != NULL, "%s",
        openpcc_error_message(error));
  openpcc_error_free(error);
  error = NULL;
  CHECK(openpcc_client_create_from_json(NULL, 0, NULL, &client, NULL) == OPENPCC_ERR_INVALID_ARGUMENT, "NULL json");
}

static void test_bad_requests(openpcc_client* client) {
  openpcc_response* response = NULL;
  openpcc_error* error = NULL;
  char* body = chat_body("hello", 0);

  CHECK(openpcc_client_request(client, "POST", "v1/chat/completions", NULL, 0, body, strlen(body), &response,
                               &error) == OPENPCC_ERR_INVALID_ARGUMENT,
        "path without /");
  openpcc_error_free(error);
  error = NULL;
  CHECK(openpcc_client_request(client, "PO ST", "/v1/chat/completions", NULL, 0, body, strlen(body), &response,
                               &error) == OPENPCC_ERR_INVALID_ARGUMENT,
        "bad method");
  openpcc_error_free(error);
  error = NULL;
  /* A header value with CR LF is refused, not cut or passed on. */
  openpcc_header injected = {"X-Test", 6, "a\r\nX-Evil: 1", 12};
  CHECK(openpcc_client_request(client, "POST", "/v1/chat/completions", &injected, 1, body, strlen(body), &response,
                               &error) == OPENPCC_ERR_INVALID_ARGUMENT,
        "CRLF in a header value");
  CHECK(error != NULL && strstr(openpcc_error_message(error), "X-Test") != NULL, "%s", openpcc_error_message(error));
  openpcc_error_free(error);
  error = NULL;
  CHECK(openpcc_client_request(client, "POST", "/v1/chat/completions", NULL, 2, body, strlen(body), &response,
                               &error) == OPENPCC_ERR_INVALID_ARGUMENT,
        "NULL headers with a count");
  openpcc_error_free(error);
  error = NULL;
  CHECK(openpcc_client_request(client, "POST", "/v1/chat/completions", NULL, 0, NULL, 5, &response, &error) ==
            OPENPCC_ERR_INVALID_ARGUMENT,
        "NULL body with a length");
  openpcc_error_free(error);
  error = NULL;
  /* A prompt path without a model: the request step. */
  static const char no_model[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  CHECK(openpcc_client_request(client, "POST", "/v1/chat/completions", NULL, 0, no_model, sizeof no_model - 1,
                               &response, &error) == OPENPCC_ERR_INVALID_ARGUMENT,
        "no model");
  CHECK(error != NULL && strncmp(openpcc_error_message(error), "request: ", 9) == 0, "%s",
        openpcc_error_message(error));
  openpcc_error_free(error);
  error = NULL;
  /* A model no node serves: no verified node, named as such. */
  static const char other_model[] =
      "{\"model\":\"no-such-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  CHECK(openpcc_client_request(client, "POST", "/v1/chat/completions", NULL, 0, other_model, sizeof other_model - 1,
                               &response, &error) == OPENPCC_ERR_NO_NODE,
        "unknown model: %s", openpcc_error_message(error));
  CHECK(error != NULL && strncmp(openpcc_error_message(error), "no verified node", 16) == 0, "%s",
        openpcc_error_message(error));
  CHECK(response == NULL, "no response on failure");
  openpcc_error_free(error);
  error = NULL;
  /* Node tags for one request (a control header, not sent to the node): a tag no node has. */
  openpcc_header tags = {OPENPCC_HEADER_NODE_TAGS, strlen(OPENPCC_HEADER_NODE_TAGS), "llm, no-such-tag", 16};
  CHECK(openpcc_client_request(client, "POST", "/v1/chat/completions", &tags, 1, body, strlen(body), &response,
                               &error) == OPENPCC_ERR_NO_NODE,
        "a tag no node has: %s", openpcc_error_message(error));
  CHECK(error != NULL && strstr(openpcc_error_message(error), "no-such-tag") != NULL, "%s",
        openpcc_error_message(error));
  openpcc_error_free(error);
  error = NULL;
  /* A bad control header. */
  openpcc_header credit = {OPENPCC_HEADER_CREDIT_AMOUNT, strlen(OPENPCC_HEADER_CREDIT_AMOUNT), "lots", 4};
  CHECK(openpcc_client_request(client, "POST", "/v1/chat/completions", &credit, 1, body, strlen(body), &response,
                               &error) == OPENPCC_ERR_INVALID_ARGUMENT,
        "bad credit amount");
  openpcc_error_free(error);
  free(body);
}

static void test_streamed_chat(openpcc_client* client) {
  char* body = chat_body("the quick brown fox jumps", 1);
  openpcc_header headers[] = {{"Accept", 6, "text/event-stream", 17}};
  openpcc_response* response = NULL;
  openpcc_error* error = NULL;
  openpcc_status s = openpcc_client_request(client, "POST", "/v1/chat/completions", headers, 1, body, strlen(body),
                                            &response, &error);
  CHECK(s == OPENPCC_OK, "%s: %s", openpcc_status_name(s), openpcc_error_message(error));
  free(body);
  if (s != OPENPCC_OK) {
    openpcc_error_free(error);
    return;
  }
  CHECK(openpcc_response_status(response) == 200, "status %d", openpcc_response_status(response));
  const char* value = NULL;
  size_t value_length = 0;
  CHECK(openpcc_response_find_header(response, "CONTENT-TYPE", &value, &value_length) == OPENPCC_OK, "find");
  CHECK(value != NULL && value_length == 17 && memcmp(value, "text/event-stream", 17) == 0, "content type %.*s",
        (int)value_length, value ? value : "");
  CHECK(openpcc_response_find_header(response, "x-not-there", &value, &value_length) == OPENPCC_OK && value == NULL,
        "absent header");
  size_t count = openpcc_response_header_count(response);
  CHECK(count >= 1, "%zu headers", count);
  const char* name = NULL;
  size_t name_length = 0;
  CHECK(openpcc_response_header(response, 0, &name, &name_length, &value, &value_length) == OPENPCC_OK, "header 0");
  CHECK(openpcc_response_header(response, count, &name, &name_length, &value, &value_length) ==
            OPENPCC_ERR_INVALID_ARGUMENT,
        "header out of range");
  CHECK(strlen(openpcc_response_node_id(response)) > 0, "node id");
  CHECK(openpcc_response_credit_value(response) > 0, "credit %lld", (long long)openpcc_response_credit_value(response));
  CHECK(openpcc_response_refund(response) == -1, "refund before the end");

  buffer all = {0};
  int chunks = read_body(response, &all);
  /* echo: + 5 words + the final chunk + usage + [DONE]: 9 events. How many pieces depends on how the node's reads
   * of the engine fell (the gate test below is the timing-free proof of streaming); 1.5 KB never fits one sealed
   * 514-byte chunk, so there are at least 2. */
  CHECK(chunks >= 2, "%d chunks", chunks);
  int events = 0;
  for (const char* at = all.data ? (const char*)all.data : ""; (at = strstr(at, "data: ")) != NULL; at += 6) ++events;
  CHECK(events == 9, "%d events", events);
  CHECK(all.data && strstr((char*)all.data, "\"content\":\" jumps\"") != NULL, "body %s", all.data ? (char*)all.data : "");
  CHECK(all.data && strstr((char*)all.data, "data: [DONE]") != NULL, "no [DONE]");
  CHECK(openpcc_response_ended(response) == 1, "ended");
  CHECK(openpcc_response_refund(response) >= 0, "refund %lld", (long long)openpcc_response_refund(response));
  /* After the end, the end again. */
  const uint8_t* data = (const uint8_t*)"x";
  size_t length = 9;
  CHECK(openpcc_response_next_chunk(response, &data, &length, NULL) == OPENPCC_OK && length == 0 && data == NULL,
        "end is sticky");
  CHECK(openpcc_response_finish(response, NULL) == OPENPCC_OK, "finish after the end");
  printf("streamed chat: %d chunks, %zu bytes, credit %lld, refund %lld\n", chunks, all.length,
         (long long)openpcc_response_credit_value(response), (long long)openpcc_response_refund(response));
  buffer_free(&all);
  openpcc_response_free(response);
}

static void test_first_chunk_before_engine_finishes(openpcc_client* client) {
  const char* gate_fd_text = getenv("OPENPCC_TEST_GATE_FD");
  CHECK(gate_fd_text != NULL, "OPENPCC_TEST_GATE_FD is not set (run under capi_stack_driver)");
  if (gate_fd_text == NULL) return;
  int gate_fd = atoi(gate_fd_text);
  char* body = chat_body("gate one two three", 1);
  openpcc_response* response = NULL;
  openpcc_error* error = NULL;
  openpcc_status s =
      openpcc_client_request(client, "POST", "/v1/chat/completions", NULL, 0, body, strlen(body), &response, &error);
  free(body);
  CHECK(s == OPENPCC_OK, "%s: %s", openpcc_status_name(s), openpcc_error_message(error));
  if (s != OPENPCC_OK) {
    openpcc_error_free(error);
    /* Let the engine go anyway, so that nothing hangs. */
    if (write(gate_fd, "g", 1) != 1) perror("gate");
    return;
  }
  const uint8_t* data = NULL;
  size_t length = 0;
  s = openpcc_response_next_chunk(response, &data, &length, &error);
  CHECK(s == OPENPCC_OK && length > 0, "first chunk: %s", openpcc_error_message(error));
  buffer first = {0};
  if (s == OPENPCC_OK) buffer_append(&first, data, length);
  /* The engine is still waiting: it has sent one event and nothing else. */
  CHECK(first.data && strstr((char*)first.data, "echo:") != NULL, "first %s", first.data ? (char*)first.data : "");
  CHECK(first.data && strstr((char*)first.data, "[DONE]") == NULL, "first chunk already has the end");
  CHECK(openpcc_response_ended(response) == 0, "ended early");
  /* Now let the engine finish. */
  CHECK(write(gate_fd, "g", 1) == 1, "gate write");
  buffer rest = {0};
  int chunks = read_body(response, &rest);
  CHECK(chunks >= 4, "%d chunks after the gate", chunks);
  CHECK(rest.data && strstr((char*)rest.data, "data: [DONE]") != NULL, "no [DONE] after the gate");
  printf("gated answer: first chunk %zu bytes before the engine continued, then %d chunks\n", first.length, chunks);
  buffer_free(&first);
  buffer_free(&rest);
  openpcc_error_free(error);
  openpcc_response_free(response);
}

static void test_binary_round_trip(openpcc_client* client) {
  enum { kRepeats = 4 };
  /* "binary:" + \u00XX for every byte value, 4 times. */
  size_t escaped_size = 8 + kRepeats * 256 * 6 + 1;
  char* content = malloc(escaped_size);
  if (content == NULL) exit(2);
  strcpy(content, "binary:");
  char* at = content + 7;
  for (int r = 0; r < kRepeats; ++r) {
    for (int b = 0; b < 256; ++b) {
      sprintf(at, "\\u%04x", b);
      at += 6;
    }
  }
  char* body = chat_body(content, 0);
  free(content);
  openpcc_response* response = NULL;
  openpcc_error* error = NULL;
  openpcc_status s =
      openpcc_client_request(client, "POST", "/v1/chat/completions", NULL, 0, body, strlen(body), &response, &error);
  free(body);
  CHECK(s == OPENPCC_OK, "%s: %s", openpcc_status_name(s), openpcc_error_message(error));
  if (s != OPENPCC_OK) {
    openpcc_error_free(error);
    return;
  }
  CHECK(openpcc_response_status(response) == 200, "status %d", openpcc_response_status(response));
  /* Partial reads: 7 bytes at a time out of the 97-byte pieces the engine sent. */
  buffer got = {0};
  int reads = 0;
  for (;;) {
    uint8_t piece[7];
    size_t length = 0;
    s = openpcc_response_read(response, piece, sizeof piece, &length, &error);
    CHECK(s == OPENPCC_OK, "read: %s", openpcc_error_message(error));
    if (s != OPENPCC_OK || length == 0) break;
    CHECK(length <= sizeof piece, "read %zu bytes into 7", length);
    buffer_append(&got, piece, length);
    ++reads;
  }
  CHECK(got.length == kRepeats * 256, "%zu bytes back", got.length);
  int mismatches = 0;
  for (size_t i = 0; i < got.length && i < kRepeats * 256; ++i) {
    if (got.data[i] != (uint8_t)(i % 256)) ++mismatches;
  }
  CHECK(mismatches == 0, "%d bytes differ", mismatches);
  CHECK(reads >= (int)(got.length / 7), "%d reads", reads);
  printf("binary round trip: %zu bytes (all 256 values x %d, NUL included) in %d reads of <= 7 bytes\n", got.length,
         kRepeats, reads);
  buffer_free(&got);
  openpcc_error_free(error);
  openpcc_response_free(response);
}

static void test_query_string_reaches_node(openpcc_client* client) {
  char* body = chat_body("hello", 0);
  openpcc_response* response = NULL;
  openpcc_error* error = NULL;
  openpcc_status s = openpcc_client_request(client, "POST", "/v1/chat/completions?trace=1&x=%20y", NULL, 0, body,
                                            strlen(body), &response, &error);
  free(body);
  CHECK(s == OPENPCC_OK, "%s: %s", openpcc_status_name(s), openpcc_error_message(error));
  if (s != OPENPCC_OK) {
    openpcc_error_free(error);
    return;
  }
  CHECK(openpcc_response_status(response) == 400, "status %d", openpcc_response_status(response));
  buffer all = {0};
  CHECK(read_body(response, &all) >= 1, "read");
  CHECK(all.data && strstr((char*)all.data, "ErrQueryNotAllowed") != NULL, "body %s", all.data ? (char*)all.data : "");
  printf("query string: the node answered %d %s\n", openpcc_response_status(response), all.data ? (char*)all.data : "");
  buffer_free(&all);
  openpcc_response_free(response);
}

typedef struct thread_job {
  openpcc_client* client;
  int index;
  int ok;
} thread_job;

static void* run_job(void* arg) {
  thread_job* job = arg;
  char content[64];
  snprintf(content, sizeof content, "thread number %d", job->index);
  char* body = chat_body(content, 0);
  openpcc_response* response = NULL;
  openpcc_status s = openpcc_client_request(job->client, "POST", "/v1/chat/completions", NULL, 0, body, strlen(body),
                                            &response, NULL);
  free(body);
  if (s != OPENPCC_OK) return NULL;
  buffer all = {0};
  char expected[64];
  snprintf(expected, sizeof expected, "echo: thread number %d", job->index);
  job->ok = openpcc_response_status(response) == 200 && read_body(response, &all) >= 1 && all.data &&
            strstr((char*)all.data, expected) != NULL;
  buffer_free(&all);
  openpcc_response_free(response);
  return NULL;
}

static void test_concurrent_threads(openpcc_client* client) {
  enum { kThreads = 4 };
  pthread_t threads[kThreads];
  thread_job jobs[kThreads];
  for (int i = 0; i < kThreads; ++i) {
    jobs[i].client = client;
    jobs[i].index = i;
    jobs[i].ok = 0;
    CHECK(pthread_create(&threads[i], NULL, run_job, &jobs[i]) == 0, "pthread_create");
  }
  int ok = 0;
  for (int i = 0; i < kThreads; ++i) {
    pthread_join(threads[i], NULL);
    ok += jobs[i].ok;
  }
  CHECK(ok == kThreads, "%d of %d threads got their own answer", ok, kThreads);
  printf("concurrent: %d threads, one client, %d answers\n", kThreads, ok);
}

static char* read_file(const char* path, size_t* length) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) return NULL;
  buffer b = {0};
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buffer_append(&b, chunk, n);
  fclose(f);
  *length = b.length;
  return (char*)b.data;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  test_version();
  test_misuse();

  const char* config = getenv("OPENPCC_CLIENT_CONFIG");
  CHECK(config != NULL, "OPENPCC_CLIENT_CONFIG is not set (run under capi_stack_driver)");
  if (config == NULL) return 1;

  openpcc_client* client = NULL;
  openpcc_error* error = NULL;
  openpcc_status s = openpcc_client_create(config, &client, &error);
  CHECK(s == OPENPCC_OK, "create: %s: %s", openpcc_status_name(s), openpcc_error_message(error));
  if (s != OPENPCC_OK) return 1;

  test_bad_requests(client);
  test_streamed_chat(client);
  test_first_chunk_before_engine_finishes(client);
  test_binary_round_trip(client);
  test_query_string_reaches_node(client);
  test_concurrent_threads(client);

  /* A response outlives its client handle (freed without close: the credits stay in the wallet's state file). */
  char* body = chat_body("outlive the client", 1);
  openpcc_response* response = NULL;
  s = openpcc_client_request(client, "POST", "/v1/chat/completions", NULL, 0, body, strlen(body), &response, &error);
  free(body);
  CHECK(s == OPENPCC_OK, "request: %s", openpcc_error_message(error));
  openpcc_client_free(client);
  client = NULL;
  if (response != NULL) {
    const uint8_t* data = NULL;
    size_t length = 0;
    CHECK(openpcc_response_next_chunk(response, &data, &length, &error) == OPENPCC_OK && length > 0,
          "read after the client was freed: %s", openpcc_error_message(error));
    CHECK(openpcc_response_finish(response, &error) == OPENPCC_OK, "finish: %s", openpcc_error_message(error));
    CHECK(openpcc_response_ended(response) == 1, "ended after finish");
    CHECK(openpcc_response_refund(response) >= 0, "refund after finish");
    openpcc_response_free(response); /* the last reference: the client's internals go now */
  }

  /* A client from the config's JSON text (relative paths against the file's directory), then close. */
  size_t json_length = 0;
  char* json = read_file(config, &json_length);
  CHECK(json != NULL, "read %s", config);
  if (json != NULL) {
    char* dir = strdup(config);
    char* slash = strrchr(dir, '/');
    if (slash != NULL) *slash = 0;
    s = openpcc_client_create_from_json(json, json_length, slash ? dir : ".", &client, &error);
    CHECK(s == OPENPCC_OK, "create_from_json: %s", openpcc_error_message(error));
    if (s == OPENPCC_OK) {
      body = chat_body("from json", 0);
      s = openpcc_client_request(client, "POST", "/v1/chat/completions", NULL, 0, body, strlen(body), &response,
                                 &error);
      free(body);
      CHECK(s == OPENPCC_OK, "request: %s", openpcc_error_message(error));
      if (s == OPENPCC_OK) {
        buffer all = {0};
        CHECK(read_body(response, &all) >= 1 && strstr((char*)all.data, "echo: from json") != NULL, "answer");
        buffer_free(&all);
        openpcc_response_free(response);
      }
      /* close returns the credits; then requests are refused with OPENPCC_ERR_STATE. */
      s = openpcc_client_close(client, &error);
      CHECK(s == OPENPCC_OK, "close: %s", openpcc_error_message(error));
      CHECK(openpcc_client_close(client, NULL) == OPENPCC_OK, "close twice");
      body = chat_body("after close", 0);
      openpcc_response* refused = NULL;
      openpcc_error* state_error = NULL;
      CHECK(openpcc_client_request(client, "POST", "/v1/chat/completions", NULL, 0, body, strlen(body), &refused,
                                   &state_error) == OPENPCC_ERR_STATE,
            "request after close");
      CHECK(refused == NULL, "no response after close");
      CHECK(state_error != NULL && strstr(openpcc_error_message(state_error), "closed") != NULL, "%s",
            openpcc_error_message(state_error));
      openpcc_error_free(state_error);
      free(body);
      openpcc_client_free(client);
    }
    free(dir);
    free(json);
  }
  openpcc_error_free(error);

  printf("%d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
