// What every `openpcc <service> --config FILE` command does around its service, in one place: block the shutdown
// signals before any thread exists, load the config, send logs to stderr at the config's level, start the service,
// print the one stdout line scripts and tests wait for ("listening on URL"), wait for SIGINT or SIGTERM, shut down
// gracefully.
//
//   ServiceRun run;
//   run.name = "relay";
//   run.config_path = opts.config;
//   return run_service(run, relay::load_service_config, [](const relay::ServiceConfig& config) {
//     auto service = relay::Service::start(config);
//     if (service) spdlog::info("relay: serving on {}", (*service)->url());   // whatever the service announces
//     return service;
//   });
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "common/error.h"

namespace openpcc::cli {

// Prints "openpcc <name>: error: <message>" on stderr and returns 1, the exit status of a failed command.
int service_error(std::string_view name, const std::string& message);

// Sends spdlog's default logger to stderr, named `name`, at `level` (spdlog's level names): stdout carries only the
// command's own output.
void log_to_stderr(const std::string& name, const std::string& level);

struct ServiceRun {
  std::string name;         // "relay": the logger's name, the log lines' prefix, the error prefix
  std::string config_path;  // --config; empty is a usage error
  // Logged after the signal: "<name>: signal N received; <stopping>".
  std::string stopping = "shutting down";
  std::chrono::milliseconds grace{10'000};  // for the service's shutdown
};

// A started service, as the runner needs it.
struct RunningService {
  std::string url;
  std::function<void(std::chrono::milliseconds)> shutdown;
};

// Prints "listening on <url>", waits for SIGINT or SIGTERM (blocked beforehand with
// services::block_shutdown_signals()), logs it, shuts the service down with `run.grace`, logs "<name>: stopped".
// Returns 0.
int serve_until_signal(const ServiceRun& run, const RunningService& service);

// The whole command with the steps type-erased (run_service below is the typed front end): `load_config` returns
// the log level of the config it loaded; `start` starts the service from it.
int run_service_steps(const ServiceRun& run, const std::function<Result<std::string>()>& load_config,
                      const std::function<Result<RunningService>()>& start);

// The whole command: `load(run.config_path)` → Result<Config> (Config has a `log_level` string), then
// `start(config)` → Result<std::unique_ptr<S>> where S has url() and shutdown(grace); `start` may log what the
// service serves (logging is set up by then). Errors print "openpcc <name>: error: …" and give exit status 1.
template <class Load, class Start>
int run_service(const ServiceRun& run, Load load, Start start) {
  using Config = typename std::invoke_result_t<Load&, const std::string&>::value_type;
  std::optional<Config> config;
  auto load_config = [&]() -> Result<std::string> {
    auto loaded = load(run.config_path);
    if (!loaded) return std::unexpected(loaded.error());
    config.emplace(std::move(*loaded));
    return config->log_level;
  };
  auto start_service = [&]() -> Result<RunningService> {
    auto started = start(*config);
    if (!started) return std::unexpected(started.error());
    using Service = typename std::decay_t<decltype(*started)>::element_type;
    std::shared_ptr<Service> service(std::move(*started));
    return RunningService{service->url(), [service](std::chrono::milliseconds grace) { service->shutdown(grace); }};
  };
  return run_service_steps(run, load_config, start_service);
}

}  // namespace openpcc::cli
