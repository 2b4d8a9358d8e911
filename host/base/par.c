#include "par.h"

#include <stdlib.h>
#include <string.h>

#include "hostlog.h"

#ifndef RNNHOST_MPI
#define RNNHOST_MPI 0 /* a build that compiles this file without saying: one rank */
#endif
#if RNNHOST_MPI
#include <mpi.h>
#endif

static int rank, size = 1;

/* The count of processes a launcher's environment gives this one: Open MPI's mpirun, MPICH's Hydra and
 * Slurm's srun with PMI-2 set a size; srun with PMIx sets a rank, and Slurm the count of tasks. */
int par_launched_size(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 0)
            return atoi(v);
    }
    if (!getenv("PMIX_RANK"))
        return 1;
    const char *tasks = getenv("SLURM_NTASKS");
    return tasks && atoi(tasks) > 0 ? atoi(tasks) : 2; /* MPI_Init says how many */
}

int par_built_with_mpi(void)
{
    return RNNHOST_MPI;
}

#if RNNHOST_MPI

static int started;

static void fail(const char *what, int err)
{
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(err, text, &len);
    hostlog_error("rank %d: MPI %s failed: %s", rank, what, text);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

#define CHECK_MPI(what, call)                                                                              \
    do {                                                                                                   \
        const int err_ = (call);                                                                           \
        if (err_ != MPI_SUCCESS)                                                                           \
            fail(what, err_);                                                                              \
    } while (0)

int par_start(int *argc, char ***argv)
{
    if (started || par_launched_size() <= 1)
        return 0;
    int provided;
    /* the model's and BLAS's threads never call MPI: only the main thread does */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        hostlog_error("MPI could not start");
        return -1;
    }
    started = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return 0;
}

void par_stop(void)
{
    if (!started)
        return;
    started = 0;
    MPI_Finalize();
}

/* MPI counts are ints: larger buffers go in pieces. */
#define PIECE ((size_t)1 << 30)

void par_sum_f32(float *v, size_t n)
{
    for (size_t at = 0; size > 1 && at < n; at += PIECE)
        CHECK_MPI("all-reduce", MPI_Allreduce(MPI_IN_PLACE, v + at, (int)(n - at < PIECE ? n - at : PIECE), MPI_FLOAT,
                                              MPI_SUM, MPI_COMM_WORLD));
}

void par_sum_f64(double *v, size_t n)
{
    if (size > 1)
        CHECK_MPI("all-reduce", MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
}

void par_max_f64(double *v, size_t n)
{
    if (size > 1)
        CHECK_MPI("all-reduce", MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
}

void par_broadcast(void *bytes, size_t n, int root)
{
    for (size_t at = 0; size > 1 && at < n; at += PIECE)
        CHECK_MPI("broadcast", MPI_Bcast((char *)bytes + at, (int)(n - at < PIECE ? n - at : PIECE), MPI_BYTE, root,
                                         MPI_COMM_WORLD));
}

void par_all_gather_u64(const uint64_t *mine, uint64_t *all, size_t n)
{
    if (size == 1) {
        memmove(all, mine, n * sizeof *all);
        return;
    }
    CHECK_MPI("all-gather", MPI_Allgather(mine, (int)n, MPI_UINT64_T, all, (int)n, MPI_UINT64_T, MPI_COMM_WORLD));
}

void par_all_gather_rows(const float *mine, float *all, const uint32_t *count, size_t row_len)
{
    if (size == 1) {
        memmove(all, mine, (size_t)count[0] * row_len * sizeof *all);
        return;
    }
    int *counts = malloc(2 * (size_t)size * sizeof *counts);
    if (!counts)
        fail("all-gather (out of memory)", MPI_ERR_NO_MEM);
    int *at = counts + size;
    size_t offset = 0;
    for (int r = 0; r < size; r++) {
        counts[r] = (int)((size_t)count[r] * row_len);
        at[r] = (int)offset;
        offset += (size_t)counts[r];
    }
    const float *own = all + at[rank];
    CHECK_MPI("all-gather", MPI_Allgatherv(mine == own ? MPI_IN_PLACE : mine, counts[rank], MPI_FLOAT, all, counts, at,
                                           MPI_FLOAT, MPI_COMM_WORLD));
    free(counts);
}

void par_barrier(void)
{
    if (size > 1)
        CHECK_MPI("barrier", MPI_Barrier(MPI_COMM_WORLD));
}

/* The ranks other than root send their bytes in pieces, root takes them rank by rank: no int count or
 * displacement (MPI_Gatherv's) limits the total. */
static void *gather_bytes(const void *mine, size_t n, uint64_t *count, int root)
{
    const uint64_t own = n;
    CHECK_MPI("gather", MPI_Gather(&own, 1, MPI_UINT64_T, count, 1, MPI_UINT64_T, root, MPI_COMM_WORLD));
    if (rank != root) {
        for (size_t at = 0; at < n; at += PIECE)
            CHECK_MPI("send", MPI_Send((const char *)mine + at, (int)(n - at < PIECE ? n - at : PIECE), MPI_BYTE,
                                       root, 0, MPI_COMM_WORLD));
        return NULL;
    }
    size_t total = 0;
    for (int r = 0; r < size; r++)
        total += (size_t)count[r];
    char *all = malloc(total + 1);
    if (!all)
        fail("gather (out of memory)", MPI_ERR_NO_MEM);
    char *to = all;
    for (int r = 0; r < size; r++) {
        const size_t len = (size_t)count[r];
        if (r == root && len)
            memcpy(to, mine, len);
        for (size_t at = 0; r != root && at < len; at += PIECE)
            CHECK_MPI("receive", MPI_Recv(to + at, (int)(len - at < PIECE ? len - at : PIECE), MPI_BYTE, r, 0,
                                          MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        to += len;
    }
    *to = '\0';
    return all;
}

#else /* one rank */

int par_start(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    if (par_launched_size() > 1) {
        hostlog_error("this rnnhost was built without MPI, and an MPI launcher started it as one of %d processes: "
                      "run it without mpirun, or rebuild with Open MPI (libopenmpi-dev) installed",
                      par_launched_size());
        return -1;
    }
    return 0;
}

void par_stop(void)
{
}

void par_sum_f32(float *v, size_t n)
{
    (void)v, (void)n;
}

void par_sum_f64(double *v, size_t n)
{
    (void)v, (void)n;
}

void par_max_f64(double *v, size_t n)
{
    (void)v, (void)n;
}

void par_broadcast(void *bytes, size_t n, int root)
{
    (void)bytes, (void)n, (void)root;
}

void par_all_gather_u64(const uint64_t *mine, uint64_t *all, size_t n)
{
    memmove(all, mine, n * sizeof *all);
}

void par_all_gather_rows(const float *mine, float *all, const uint32_t *count, size_t row_len)
{
    memmove(all, mine, (size_t)count[0] * row_len * sizeof *all);
}

void par_barrier(void)
{
}

#endif

void *par_gather_bytes(const void *mine, size_t n, uint64_t *count, int root)
{
#if RNNHOST_MPI
    if (size > 1)
        return gather_bytes(mine, n, count, root);
#endif
    (void)root;
    char *all = malloc(n + 1);
    if (!all) {
        hostlog_error("out of memory gathering %zu bytes", n);
        exit(1);
    }
    if (n)
        memcpy(all, mine, n);
    all[n] = '\0';
    count[0] = n;
    return all;
}

int par_rank(void)
{
    return rank;
}

int par_size(void)
{
    return size;
}

int par_first_differing(const uint64_t *mine, size_t n, size_t *which)
{
    if (size == 1)
        return 0;
    uint64_t *all = malloc((size_t)size * n * sizeof *all);
    if (!all) {
        hostlog_error("out of memory");
        exit(1); /* the other ranks wait in the gather: the launcher ends them */
    }
    par_all_gather_u64(mine, all, n);
    int found = 0;
    for (int k = 1; k < size && !found; k++)
        for (size_t i = 0; i < n && !found; i++)
            if (all[(size_t)k * n + i] != all[i]) {
                found = k;
                if (which)
                    *which = i;
            }
    free(all);
    return found;
}

void par_share(uint64_t n, int r, int ranks, uint64_t *first, uint64_t *count)
{
    const uint64_t base = n / (uint64_t)ranks, extra = n % (uint64_t)ranks;
    *first = (uint64_t)r * base + ((uint64_t)r < extra ? (uint64_t)r : extra);
    *count = base + ((uint64_t)r < extra);
}
