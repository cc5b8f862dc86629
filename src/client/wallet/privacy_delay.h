// Random delays between the steps of moving value, so that the banks (and whoever watches them) cannot link two
// operations by their timing: e.g. the identified AuthBank withdrawal and the deposit into an anonymous account, or
// the end of a request at the router and the exchange of its refund.
#pragma once

#include <chrono>

namespace openpcc::wallet {

// Uniform in [0, max) with millisecond resolution, from the OS CSPRNG; zero when max ≤ 0.
std::chrono::milliseconds random_delay(std::chrono::milliseconds max);

}  // namespace openpcc::wallet
