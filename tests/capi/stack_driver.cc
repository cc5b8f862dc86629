// Runs a client program (the C test program, the Python binding's tests, a docs example) against the whole local
// stack as processes (devstack::DevStack), with a stand-in inference engine that this driver serves itself:
//
//   capi_stack_driver -- <program> [args...]
//
// The program runs with
//   OPENPCC_CLIENT_CONFIG   the stack's client.json
//   OPENPCC_TEST_MODEL      the model the node serves ("capi-test-model")
//   OPENPCC_TEST_GATE_FD    the write end of a pipe: each byte written opens the gate for one gated answer
// and the driver exits with the program's status (1 if the stack did not start, or if a gated answer was released by
// its time limit instead of by the program: then the engine finished before the program had its first chunk).
//
// The stand-in engine speaks the OpenAI API on /v1/models, /v1/chat/completions and /v1/completions. What it answers
// depends on the last message's content (or the prompt):
//   "gate..."        SSE: the first event at once, then it waits for the gate (a byte on OPENPCC_TEST_GATE_FD, at
//                    most 120 s), then the other events and [DONE]. A program proves that it got the first event
//                    before the engine finished by opening the gate only after reading it: nothing to time.
//   "binary:<text>"  200 application/octet-stream whose body is <text>'s code points as bytes (each must be < 256),
//                    sent in 97-byte pieces: the node accepts JSON requests only, so a binary body goes out JSON-escaped
//                    (\u0000 ...) and comes back raw.
//   anything else    the words of the content echoed as tokens ("echo: w1 w2 ..."), streamed as SSE chat/completion
//                    chunks when "stream" is true (with the usage chunk the node asks for), else one JSON answer.
// The node (not this engine) refuses requests with a query string (ErrQueryNotAllowed): a program sees that answer
// only if its query string travelled, encrypted, all the way to the node.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "devstack/dev_stack.h"
#include "net/runtime.h"
#include "net/server.h"
#include "support/temp_dir.h"

extern char** environ;

namespace openpcc {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr char kModel[] = "capi-test-model";
constexpr auto kGateLimit = 120s;
constexpr size_t kBinaryPiece = 97;

// Gate releases (bytes read from the program's pipe) and how gated answers ended.
struct Gate {
  std::atomic<int> releases{0};
  std::atomic<int> opened{0};
  std::atomic<int> timed_out{0};
};

std::vector<std::string> words_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// The last message's text (string content, or the text parts of an array) or the prompt.
std::string input_text(const json& body, bool chat) {
  if (!chat) {
    const auto& p = body.value("prompt", json());
    if (p.is_string()) return p.get<std::string>();
    if (p.is_array() && !p.empty() && p.back().is_string()) return p.back().get<std::string>();
    return {};
  }
  const auto& messages = body.value("messages", json::array());
  if (!messages.is_array() || messages.empty()) return {};
  const auto& content = messages.back().value("content", json());
  if (content.is_string()) return content.get<std::string>();
  std::string text;
  if (content.is_array()) {
    for (const auto& part : content) {
      if (part.is_object() && part.value("type", "") == "text") text += part.value("text", "");
    }
  }
  return text;
}

// UTF-8 → code points; false if one is >= 256 or the text is not UTF-8.
bool latin1_bytes(const std::string& text, Bytes& out) {
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<uint8_t>(text[i]);
    if (c < 0x80) {
      out.push_back(c);
      i += 1;
    } else if ((c & 0xE0) == 0xC0 && i + 1 < text.size()) {
      const uint32_t cp = ((c & 0x1Fu) << 6) | (static_cast<uint8_t>(text[i + 1]) & 0x3Fu);
      if (cp > 0xFF) return false;
      out.push_back(static_cast<uint8_t>(cp));
      i += 2;
    } else {
      return false;
    }
  }
  return true;
}

std::string sse(const json& event) { return "data: " + event.dump() + "\n\n"; }

json chunk_json(bool chat, const std::string& id, const std::string& text, bool first, const json& finish) {
  json choice = {{"index", 0}, {"finish_reason", finish}};
  if (chat) {
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (!text.empty() || !first) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  return {{"id", id},
          {"object", chat ? "chat.completion.chunk" : "text_completion"},
          {"created", 1700000000},
          {"model", kModel},
          {"choices", json::array({choice})}};
}

// GCC 12: no braced lists inside co_await expressions (net/runtime.h), so headers come from a function.
net::Headers content_type(const std::string& type) {
  net::Headers h;
  h.add("Content-Type", type);
  return h;
}

net::Task<Status> write_text(net::ServerResponse& res, const std::string& text) {
  co_return co_await res.write_chunk(as_bytes(text));
}

net::Handler make_engine(Gate& gate) {
  return [&gate](net::ServerRequest& req, net::ServerResponse& res) -> net::Task<Status> {
    const std::string target(req.target());
    if (req.method() == "GET" && target == "/v1/models") {
      const json list = {{"object", "list"}, {"data", {{{"id", kModel}, {"object", "model"}, {"owned_by", "capi"}}}}};
      co_return co_await res.send(200, content_type("application/json"), list.dump());
    }
    const bool chat = target == "/v1/chat/completions";
    if (req.method() != "POST" || (!chat && target != "/v1/completions")) {
      co_return co_await res.send(404, content_type("text/plain"), std::string("not found"));
    }
    auto raw = co_await req.read_all();
    if (!raw) co_return std::unexpected(raw.error());
    const json body = json::parse(raw->begin(), raw->end(), nullptr, false);
    if (!body.is_object()) {
      co_return co_await res.send(400, content_type("application/json"),
                                  std::string(R"({"error":{"message":"not a JSON object"}})"));
    }
    const std::string text = input_text(body, chat);
    const std::string id = chat ? "chatcmpl-capi" : "cmpl-capi";

    if (text.rfind("binary:", 0) == 0) {
      Bytes payload;
      if (!latin1_bytes(text.substr(7), payload)) {
        co_return co_await res.send(400, content_type("application/json"),
                                    std::string(R"({"error":{"message":"binary: code points must be < 256"}})"));
      }
      net::Headers head{{"Content-Type", "application/octet-stream"}};
      if (auto ok = co_await res.write_head(200, std::move(head)); !ok) co_return ok;
      for (size_t at = 0; at < payload.size(); at += kBinaryPiece) {
        const size_t n = std::min(kBinaryPiece, payload.size() - at);
        if (auto ok = co_await res.write_chunk(ByteSpan(payload).subspan(at, n)); !ok) co_return ok;
      }
      co_return co_await res.finish();
    }

    const bool gated = text.rfind("gate", 0) == 0;
    std::vector<std::string> tokens;
    for (const auto& w : words_of(text)) tokens.push_back(" " + w);
    tokens.insert(tokens.begin(), "echo:");
    const auto prompt_tokens = static_cast<int>(words_of(text).size());
    const auto completion_tokens = static_cast<int>(tokens.size());
    const json usage = {{"prompt_tokens", prompt_tokens},
                        {"completion_tokens", completion_tokens},
                        {"total_tokens", prompt_tokens + completion_tokens}};

    if (!body.value("stream", false)) {
      std::string all;
      for (const auto& t : tokens) all += t;
      json choice = {{"index", 0}, {"finish_reason", "stop"}};
      if (chat) {
        choice["message"] = {{"role", "assistant"}, {"content", all}};
      } else {
        choice["text"] = all;
      }
      const json answer = {{"id", id},
                           {"object", chat ? "chat.completion" : "text_completion"},
                           {"created", 1700000000},
                           {"model", kModel},
                           {"choices", json::array({choice})},
                           {"usage", usage}};
      co_return co_await res.send(200, content_type("application/json"), answer.dump());
    }

    const bool include_usage = body.value("stream_options", json::object()).value("include_usage", false);
    net::Headers head{{"Content-Type", "text/event-stream"}, {"Cache-Control", "no-cache"}};
    if (auto ok = co_await res.write_head(200, std::move(head)); !ok) co_return ok;
    for (size_t i = 0; i < tokens.size(); ++i) {
      json event = chunk_json(chat, id, tokens[i], i == 0, nullptr);
      if (include_usage) event["usage"] = nullptr;
      if (auto ok = co_await write_text(res, sse(event)); !ok) co_return ok;
      if (gated && i == 0) {
        // Wait (without blocking the thread) for the program to say it has this first event.
        const auto deadline = std::chrono::steady_clock::now() + kGateLimit;
        bool released = false;
        while (!released && std::chrono::steady_clock::now() < deadline) {
          int available = gate.releases.load();
          if (available > 0 && gate.releases.compare_exchange_weak(available, available - 1)) {
            released = true;
          } else {
            co_await net::sleep_for(5ms);
          }
        }
        (released ? gate.opened : gate.timed_out).fetch_add(1);
      }
    }
    json last = chunk_json(chat, id, "", false, "stop");
    if (include_usage) last["usage"] = nullptr;
    if (auto ok = co_await write_text(res, sse(last)); !ok) co_return ok;
    if (include_usage) {
      json usage_event = chunk_json(chat, id, "", false, nullptr);
      usage_event["choices"] = json::array();
      usage_event["usage"] = usage;
      if (auto ok = co_await write_text(res, sse(usage_event)); !ok) co_return ok;
    }
    if (auto ok = co_await write_text(res, "data: [DONE]\n\n"); !ok) co_return ok;
    co_return co_await res.finish();
  };
}

// Runs argv with the extra environment, reading gate bytes from the pipe meanwhile; returns its exit status.
int run_program(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env, int gate_read_fd,
                int gate_write_fd, Gate& gate) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addclose(&actions, gate_read_fd);
  pid_t pid = -1;
  const int spawned = posix_spawnp(&pid, cargv[0], &actions, nullptr, cargv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(gate_write_fd);  // the program holds the only write end now: EOF when it exits
  if (spawned != 0) {
    std::cerr << "capi_stack_driver: cannot run " << argv[0] << ": " << std::strerror(spawned) << "\n";
    return 127;
  }
  std::thread reader([&] {
    char buffer[64];
    for (;;) {
      const ssize_t n = ::read(gate_read_fd, buffer, sizeof buffer);
      if (n > 0) {
        gate.releases.fetch_add(static_cast<int>(n));
      } else if (n == 0 || errno != EINTR) {
        return;
      }
    }
  });
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  reader.join();
  ::close(gate_read_fd);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int drive(int argc, char** argv) {
  if (argc < 3 || std::string(argv[1]) != "--") {
    std::cerr << "usage: capi_stack_driver -- <program> [args...]\n";
    return 2;
  }
  std::vector<std::string> program(argv + 2, argv + argc);

  Gate gate;
  net::Runtime runtime(2);
  net::ServerConfig server_config;
  server_config.name = "capi-engine";
  auto engine = net::Server::start(runtime, server_config, make_engine(gate));
  if (!engine) {
    std::cerr << "capi_stack_driver: engine: " << engine.error().to_string() << "\n";
    return 1;
  }

  test_support::TempDir dir("openpcc-capi");
  const auto data_dir = dir.path() / "stack";
  // The node measures its model files into the TPM: give it some.
  std::filesystem::create_directories(data_dir / "engine" / "model");
  std::ofstream(data_dir / "engine" / "model" / "model.json") << R"({"name":"capi-test-model"})" << "\n";

  devstack::DevUpOptions options;
  options.data_dir = data_dir;
  options.nodes = 1;
  options.binary = OPENPCC_BINARY;
  options.engine = "openai+http://127.0.0.1:" + std::to_string((*engine)->port());
  options.model = kModel;
  options.currency_key_bits = 1024;  // faster start; the size does not matter here
  options.quiet = true;
  const auto started = std::chrono::steady_clock::now();
  auto stack = devstack::DevStack::up(options);
  if (!stack) {
    std::cerr << "capi_stack_driver: the stack did not start: " << stack.error().to_string() << "\n";
    (*engine)->shutdown(1s);
    return 1;
  }
  std::cerr << "capi_stack_driver: stack up in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count()
            << " ms; running " << program[0] << "\n";

  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) {
    std::cerr << "capi_stack_driver: pipe: " << std::strerror(errno) << "\n";
    return 1;
  }
  ::fcntl(pipe_fds[0], F_SETFD, FD_CLOEXEC);
  const std::vector<std::string> env{
      "OPENPCC_CLIENT_CONFIG=" + (*stack)->client_config().string(),
      std::string("OPENPCC_TEST_MODEL=") + kModel,
      "OPENPCC_TEST_GATE_FD=" + std::to_string(pipe_fds[1]),
  };
  int status = run_program(program, env, pipe_fds[0], pipe_fds[1], gate);
  std::cerr << "capi_stack_driver: " << program[0] << " exited with " << status << "; gated answers: "
            << gate.opened.load() << " released by the program, " << gate.timed_out.load()
            << " by the time limit\n";
  if (status == 0 && gate.timed_out.load() > 0) {
    std::cerr << "capi_stack_driver: FAIL: a gated answer was not released by the program (it did not see the "
                 "first event before the engine finished)\n";
    status = 1;
  }
  stack->reset();
  (*engine)->shutdown(1s);
  return status;
}

}  // namespace
}  // namespace openpcc

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  return openpcc::drive(argc, argv);
}
