#include "interrupt.h"

#include <string.h>

volatile sig_atomic_t host_interrupted;

static void on_signal(int sig)
{
    (void)sig;
    host_interrupted = 1;
}

void host_catch_interrupts(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}
