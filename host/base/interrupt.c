#include "interrupt.h"

#include <string.h>
#include <unistd.h>

volatile sig_atomic_t host_interrupted;

static void on_signal_fallback(int sig);

/* The first signal asks for a clean stop; a second one, for a command stuck where it cannot look at the
 * flag (opening a FIFO no one writes, say), stops at once. */
static void on_signal(int sig)
{
    if (host_interrupted)
        on_signal_fallback(sig);
    host_interrupted = 1;
}

void host_on_interrupt(void (*handler)(int), int restart)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void host_catch_interrupts(void)
{
    host_on_interrupt(on_signal, 1);
}

static void on_signal_fallback(int sig)
{
    static const char line[] = "rnnhost: interrupted\n", again[] = "rnnhost: interrupted again: stopped at once\n";
    (void)sig;
    if (host_interrupted) {
        const ssize_t w = write(STDERR_FILENO, again, sizeof again - 1);
        (void)w;
        _exit(130);
    }
    // write and _exit are async-signal-safe; stdio is not
    const ssize_t w = write(STDERR_FILENO, line, sizeof line - 1);
    (void)w;
    _exit(130);
}

void host_interrupt_fallback(void)
{
    host_on_interrupt(on_signal_fallback, 0);
}

static volatile sig_atomic_t finished_code;

static void on_signal_finished(int sig)
{
    (void)sig;
    _exit(finished_code);
}

void host_interrupt_finished(int code)
{
    finished_code = code;
    host_on_interrupt(on_signal_finished, 0);
}
