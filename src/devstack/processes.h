// Processes of the local stack (`openpcc dev up`): services started in their own session so that they outlive the
// command that started them, with stdout and stderr appended to a log file, found again later by pid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"

namespace openpcc::devstack {

// The running `openpcc` binary (/proc/self/exe), so that the stack runs the same build as the command.
std::string self_binary();

// Starts argv[0] with argv in a new session (setsid: a Ctrl-C in the terminal does not reach it), stdin from
// /dev/null, stdout and stderr appended to `log`. Returns its pid.
Result<pid_t> spawn_detached(const std::vector<std::string>& argv, const std::filesystem::path& log);

// Waits until `log` holds a line "listening on URL" past `offset` (the log's size before the start), and returns
// URL. Fails (kUnavailable, with the log's last lines) if the process exits first or `timeout` passes.
Result<std::string> wait_for_listening(pid_t pid, const std::filesystem::path& log, uint64_t offset,
                                       std::chrono::milliseconds timeout);

// Size of a file, 0 if it does not exist.
uint64_t file_size_or_zero(const std::filesystem::path& path);

// The last `lines` lines of a file (for error messages).
std::string tail_of(const std::filesystem::path& path, size_t lines);

// True if `pid` runs and its command line contains `expected` (guards against a recycled pid).
bool process_running(pid_t pid, std::string_view expected);

// SIGTERM, then SIGKILL after `grace`; returns once the process is gone (or after grace + 2 s).
void stop_process(pid_t pid, std::chrono::milliseconds grace);

// Runs a command to completion; returns its stdout (stderr is appended to `log`). kInternal with the log's tail
// when it exits non-zero.
Result<std::string> run_to_completion(const std::vector<std::string>& argv, const std::filesystem::path& log);

// A port P on 127.0.0.1 such that P and P + 1 are free right now (swtpm's server and control ports).
Result<int> free_port_pair();
// True if something accepts TCP connections on 127.0.0.1:port.
bool tcp_port_open(int port);
// A port on 127.0.0.1 that is free right now (another process may take it before it is used: callers retry).
Result<int> free_port();

}  // namespace openpcc::devstack
