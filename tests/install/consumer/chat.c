/* A private chat request from C, streamed as it arrives:
 *   chat [model] [prompt]        config: $OPENPCC_CLIENT_CONFIG, else ./openpcc-dev/client.json
 *   chat --version
 * Prints the raw SSE events of the answer on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openpcc/openpcc.h>

static int fail(openpcc_error* error) {
  fprintf(stderr, "error: %s (%s)\n", openpcc_error_message(error), openpcc_status_name(openpcc_error_status(error)));
  openpcc_error_free(error);
  return 1;
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "--version") == 0) {
    printf("libopenpcc %s (header %s)\n", openpcc_version(), OPENPCC_VERSION_STRING);
    return strcmp(openpcc_version(), OPENPCC_VERSION_STRING) == 0 ? 0 : 1;
  }
  const char* model = argc > 1 ? argv[1] : "llama3";
  const char* prompt = argc > 2 ? argv[2] : "Why is the sky blue?";
  const char* config = getenv("OPENPCC_CLIENT_CONFIG");

  openpcc_error* error = NULL;
  openpcc_client* client = NULL;
  if (openpcc_client_create(config ? config : "openpcc-dev/client.json", &client, &error) != OPENPCC_OK) {
    return fail(error);
  }

  /* The body is bytes with a length: no NUL terminator needed, any byte allowed. (A real program would
   * JSON-escape the prompt.) */
  char body[1024];
  int body_length = snprintf(body, sizeof body,
                             "{\"model\":\"%s\",\"stream\":true,\"max_tokens\":64,"
                             "\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}",
                             model, prompt);
  openpcc_header headers[] = {{"Accept", 6, "text/event-stream", 17}};
  openpcc_response* response = NULL;
  int rc = 0;
  if (openpcc_client_request(client, "POST", "/v1/chat/completions", headers, 1, body, (size_t)body_length,
                             &response, &error) != OPENPCC_OK) {
    rc = fail(error);
  } else {
    fprintf(stderr, "status %d from node %s\n", openpcc_response_status(response), openpcc_response_node_id(response));
    for (;;) {
      const uint8_t* data;
      size_t length;
      if (openpcc_response_next_chunk(response, &data, &length, &error) != OPENPCC_OK) {
        rc = fail(error);
        break;
      }
      if (length == 0) break; /* the end: the payment is settled */
      fwrite(data, 1, length, stdout);
      fflush(stdout); /* each SSE event as soon as the node sealed it */
    }
    openpcc_response_free(response);
  }
  openpcc_client_close(client, NULL); /* unused credits back to the AuthBank */
  openpcc_client_free(client);
  return rc;
}
