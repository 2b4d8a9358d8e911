/* Ctrl-C and SIGTERM ask a long-running command to stop cleanly: the command polls the flag between units
 * of work (a training step, a file, a sampled symbol, a generated event), finishes writing what it has and
 * exits 130. Every command that runs long uses this one flag and handler. */
#ifndef RNNHOST_INTERRUPT_H
#define RNNHOST_INTERRUPT_H

#include <signal.h>

/* Set by SIGINT or SIGTERM once host_catch_interrupts has run; never cleared. */
extern volatile sig_atomic_t host_interrupted;

/* Installs the handler for SIGINT and SIGTERM. System calls in progress are restarted (SA_RESTART), so a
 * signal never fails the write it lands in; sleeps still return early. */
void host_catch_interrupts(void);

#endif /* RNNHOST_INTERRUPT_H */
