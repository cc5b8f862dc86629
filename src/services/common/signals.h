// Process lifecycle of a service: run until SIGINT or SIGTERM, then shut down gracefully.
//
// Call block_shutdown_signals() first thing in the command, before any thread is started, so every thread inherits
// the blocked mask and the signal is only ever consumed by wait_for_shutdown_signal(). It also ignores SIGPIPE (a peer
// that closed its socket) and SIGXFSZ (a file size limit reached): both become errors of the call that hit them.
#pragma once

namespace openpcc::services {

void block_shutdown_signals();
// Blocks until SIGINT or SIGTERM arrives; returns its number.
int wait_for_shutdown_signal();

}  // namespace openpcc::services
