/* host/base/par.c as a build without MPI compiles it: one rank whatever a launcher says, collectives that
 * leave the values as they are, and the shares of a batch (the same function on every build). */
#include <stdint.h>
#include <stdlib.h>

#include "../sdk/check.h"
#include "par.h"

int main(void)
{
    unsetenv("OMPI_COMM_WORLD_SIZE"), unsetenv("PMI_SIZE"), unsetenv("PMIX_RANK");
    CHECK(par_launched_size() == 1, "no launcher: %d processes", par_launched_size());
    CHECK(par_start(NULL, NULL) == 0, "no launcher: par_start refused");
    CHECK(par_rank() == 0 && par_size() == 1, "rank %d of %d", par_rank(), par_size());
    CHECK(!par_built_with_mpi(), "built with MPI");
    double d[2] = {1.5, -2};
    float f[3] = {1, 2, 3};
    par_sum_f64(d, 2), par_max_f64(d, 2), par_sum_f32(f, 3);
    CHECK(d[0] == 1.5 && d[1] == -2 && f[0] == 1 && f[2] == 3, "one rank's collectives changed the values");
    uint64_t mine = 42, all = 0;
    par_all_gather_u64(&mine, &all, 1);
    CHECK(all == 42, "gather of one rank: %llu", (unsigned long long)all);

    /* under a launcher of several processes: refused in one line; of one: fine */
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    CHECK(par_launched_size() == 2, "Open MPI's size read as %d", par_launched_size());
    CHECK(par_start(NULL, NULL) == -1, "started as one of 2 without MPI");
    setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
    CHECK(par_start(NULL, NULL) == 0, "mpirun -np 1 refused");
    unsetenv("OMPI_COMM_WORLD_SIZE");
    setenv("PMI_SIZE", "4", 1);
    CHECK(par_launched_size() == 4, "PMI's size read as %d", par_launched_size());
    unsetenv("PMI_SIZE");

    /* shares: every item once, in rank order, sizes within one of each other */
    for (int size = 1; size <= 7; size++)
        for (uint64_t n = 0; n <= 50; n++) {
            uint64_t next = 0, lo = UINT64_MAX, hi = 0;
            for (int r = 0; r < size; r++) {
                uint64_t first, count;
                par_share(n, r, size, &first, &count);
                CHECK(first == next, "n %llu size %d: rank %d starts at %llu, not %llu", (unsigned long long)n, size, r,
                      (unsigned long long)first, (unsigned long long)next);
                next = first + count;
                lo = count < lo ? count : lo, hi = count > hi ? count : hi;
            }
            CHECK(next == n && hi - lo <= 1, "n %llu size %d: %llu dealt, shares %llu-%llu", (unsigned long long)n,
                  size, (unsigned long long)next, (unsigned long long)lo, (unsigned long long)hi);
        }
    TEST_EXIT();
}
