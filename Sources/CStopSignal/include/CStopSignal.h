// SIGINT and SIGTERM as a request to stop: the handler records the first signal with one atomic
// compare-and-swap (async-signal-safe, and right when two signals reach two threads at once); a second
// signal ends the process at once with _exit(128 + signal). The training loop polls the record between steps.
#pragma once

/// Installs the handler for SIGINT and SIGTERM (for the rest of the process) and unblocks both in the
/// calling thread.
void dendrite_stop_install(void);

/// The first SIGINT or SIGTERM received since the install, or 0. One atomic load: no allocation, no lock.
int dendrite_stop_signal(void);
