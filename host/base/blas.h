/* The BLAS of the plugins, as the host sees it. rnnhost makes no matrix product itself: the shipped plugins
 * link OpenBLAS, which therefore loads with the first model, not with the program. Commands without a model
 * (features, pianoroll, midi-devices, ...) then start no BLAS threads that would spin beside their own,
 * and the host's defaults for OpenBLAS's environment are in place before OpenBLAS reads it. */
#ifndef RNNHOST_BLAS_H
#define RNNHOST_BLAS_H

/* Called first thing in main, before any plugin loads: unless the user set it, OPENBLAS_THREAD_TIMEOUT
 * becomes 20, so that an idle OpenBLAS thread spins 2^20 cycles (a fraction of a millisecond) before it
 * sleeps instead of 2^28 (about a tenth of a second), in which it would take a core from the plugins' own
 * threads, which make the training products with OpenBLAS on one thread. */
void blas_env_defaults(void);

/* OpenBLAS's thread count, loading OpenBLAS when no plugin has yet; 1 when it cannot be loaded. */
int blas_threads(void);

/* Sets OpenBLAS's thread count (n >= 1), loading it when no plugin has yet; nothing when it cannot be
 * loaded, as then no plugin of this build can use it either. */
void blas_set_threads(int n);

#endif /* RNNHOST_BLAS_H */
