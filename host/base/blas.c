/* See blas.h. OpenBLAS is found by its soname, the one the plugins link, so that this handle and theirs
 * are one library. */
#include "blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

#ifndef RH_BLAS_SONAME
#define RH_BLAS_SONAME "libopenblas.so.0"
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int (*get_threads)(void);
static void (*set_threads)(int);

static void load(void)
{
    void *lib = dlopen(RH_BLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        return;
    // ISO C leaves converting a data pointer to a function pointer undefined; POSIX requires it of dlsym.
    *(void **)&get_threads = dlsym(lib, "openblas_get_num_threads");
    *(void **)&set_threads = dlsym(lib, "openblas_set_num_threads");
    if (get_threads == NULL || set_threads == NULL)
        get_threads = NULL, set_threads = NULL;
    // The handle stays open for the life of the process, as the plugins' own reference to it does.
}

void blas_env_defaults(void)
{
    setenv("OPENBLAS_THREAD_TIMEOUT", "20", 0);
}

int blas_threads(void)
{
    pthread_once(&once, load);
    return get_threads != NULL ? get_threads() : 1;
}

void blas_set_threads(int n)
{
    pthread_once(&once, load);
    if (set_threads != NULL && n >= 1)
        set_threads(n);
}
