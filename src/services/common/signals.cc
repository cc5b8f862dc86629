#include "services/common/signals.h"

#include <pthread.h>
#include <signal.h>

namespace openpcc::services {

namespace {
sigset_t shutdown_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

void block_shutdown_signals() {
  sigset_t set = shutdown_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A peer that closes its socket must not kill the process.
  signal(SIGPIPE, SIG_IGN);
  // Nor may a file size limit (RLIMIT_FSIZE, e.g. a quota): the write fails with EFBIG instead, and the storage layer
  // reports it like a full disk, as an error of the one request that needed the write.
  signal(SIGXFSZ, SIG_IGN);
}

int wait_for_shutdown_signal() {
  sigset_t set = shutdown_set();
  int received = 0;
  while (sigwait(&set, &received) != 0) {
  }
  return received;
}

}  // namespace openpcc::services
