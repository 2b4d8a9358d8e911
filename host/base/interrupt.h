/* Ctrl-C and SIGTERM ask a long-running command to stop cleanly: the command polls the flag between units
 * of work (a training step, a file, a sampled symbol, a generated event), finishes writing what it has and
 * exits 130. Every command that runs long uses this one flag and handler; every command, long or short,
 * says in one line that it was interrupted. */
#ifndef RNNHOST_INTERRUPT_H
#define RNNHOST_INTERRUPT_H

#include <signal.h>

/* Set by SIGINT or SIGTERM once host_catch_interrupts has run; never cleared. */
extern volatile sig_atomic_t host_interrupted;

/* Installs the handler for SIGINT and SIGTERM. System calls in progress are restarted (SA_RESTART), so a
 * signal never fails the write it lands in; sleeps still return early. A second signal, for a command
 * blocked where it cannot poll the flag, ends the process at once with one line and exit code 130. */
void host_catch_interrupts(void);

/* Installs handler for SIGINT and SIGTERM, with SA_RESTART when restart is set; for a command that must
 * handle a stop its own way (validate wakes from a wait to remove its scratch folder). */
void host_on_interrupt(void (*handler)(int), int restart);

/* Until a command calls host_catch_interrupts (a short one never does), SIGINT or SIGTERM ends the process
 * at once with the line "rnnhost: interrupted" on stderr and exit code 130: nothing has been written yet
 * but, at most, a temporary file that is never taken for its target. main installs this first. */
void host_interrupt_fallback(void);

/* The command has finished with exit code code and said what it had to say: from now on SIGINT or SIGTERM
 * ends the process at once with that code, silently. Under mpirun, the launcher ends the other ranks with
 * SIGTERM as soon as one exits non-zero, while they may still be leaving MPI; the agreed outcome stands and
 * is not followed by "interrupted". main installs this after the command. */
void host_interrupt_finished(int code);

#endif /* RNNHOST_INTERRUPT_H */
