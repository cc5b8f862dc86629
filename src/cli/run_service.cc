#include "cli/run_service.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "services/common/signals.h"

namespace openpcc::cli {

int service_error(std::string_view name, const std::string& message) {
  std::fprintf(stderr, "openpcc %.*s: error: %s\n", static_cast<int>(name.size()), name.data(), message.c_str());
  return 1;
}

void log_to_stderr(const std::string& name, const std::string& level) {
  auto logger = spdlog::stderr_color_mt(name);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

int serve_until_signal(const ServiceRun& run, const RunningService& service) {
  std::printf("listening on %s\n", service.url.c_str());
  std::fflush(stdout);

  const int signal = services::wait_for_shutdown_signal();
  spdlog::info("{}: signal {} received; {}", run.name, signal, run.stopping);
  service.shutdown(run.grace);
  spdlog::info("{}: stopped", run.name);
  return 0;
}

int run_service_steps(const ServiceRun& run, const std::function<Result<std::string>()>& load_config,
                      const std::function<Result<RunningService>()>& start) {
  if (run.config_path.empty()) {
    return service_error(run.name, "--config FILE is required (see --help, --print-example-config)");
  }
  // Before any thread exists, so that only wait_for_shutdown_signal() sees SIGINT/SIGTERM.
  services::block_shutdown_signals();

  auto level = load_config();
  if (!level) return service_error(run.name, level.error().to_string());
  log_to_stderr(run.name, *level);

  auto service = start();
  if (!service) return service_error(run.name, service.error().to_string());
  return serve_until_signal(run, *service);
}

}  // namespace openpcc::cli
