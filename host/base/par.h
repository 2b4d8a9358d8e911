/* Ranks: rnnhost on several processes under MPI (mpirun -np N rnnhost train|transcribe ...), the way HPC
 * tools run: every rank the same program, talking through collectives on the world communicator.
 *
 * A build without MPI (meson -Dmpi=disabled, or no libopenmpi-dev), or a process no MPI launcher started,
 * is one rank: rank 0 of 1, every collective a no-op. par_start starts MPI only when a launcher's
 * environment says this process is one of several (Open MPI, MPICH's Hydra, PMIx, Slurm's srun), so a plain
 * `rnnhost train` never pays for MPI's start-up. Commands that run on several ranks call par_start first;
 * main calls par_stop whatever the command returned.
 *
 * Failures of a collective are said in one line and end the process with exit 1 (a rank gone is not
 * recoverable: the launcher ends the others). Everything here runs on the main thread.
 */
#ifndef RNNHOST_PAR_H
#define RNNHOST_PAR_H

#include <stddef.h>
#include <stdint.h>

/* Starts the ranks if a launcher started this process as one of several. 0, or -1 after one line: under a
 * launcher with more than one process and no MPI in this build. */
int par_start(int *argc, char ***argv);
/* 1 when this build has MPI. */
int par_built_with_mpi(void);
/* The number of processes a launcher says it started (1 when none did): what par_start would run. */
int par_launched_size(void);
int par_rank(void);
int par_size(void);
/* Ends MPI if par_start started it. */
void par_stop(void);

/* Collectives over every rank, in place: every rank ends with the sum (or maximum) of every rank's values. */
void par_sum_f32(float *v, size_t n);
void par_sum_f64(double *v, size_t n);
void par_max_f64(double *v, size_t n);
/* Rank root's n bytes to every rank. */
void par_broadcast(void *bytes, size_t n, int root);
/* Each rank's n values into all (n * par_size(), rank-major) on every rank. */
void par_all_gather_u64(const uint64_t *mine, uint64_t *all, size_t n);
/* The first rank whose n values differ from rank 0's (and in *which, if not NULL, the index of the first of
 * them that differs), or 0 when every rank holds rank 0's: every rank calls it and gets the same answer. */
int par_first_differing(const uint64_t *mine, size_t n, size_t *which);
/* rows: count[r] rows of row_len floats from rank r, rank-major in all on every rank; mine is this rank's
 * rows (and may point into all at its own place). */
void par_all_gather_rows(const float *mine, float *all, const uint32_t *count, size_t row_len);
/* Waits for every rank. */
void par_barrier(void);
/* Each rank's n bytes to rank root, rank after rank (any length, none too): on root a malloc'd buffer holding
 * them all followed by a NUL, with count[r] (par_size() entries) the bytes that came from rank r; NULL on
 * the other ranks, whose count is left alone. Memory running out is a failure like any other. */
void *par_gather_bytes(const void *mine, size_t n, uint64_t *count, int root);

/* The share of n items (streams, sequences, files) that rank r takes when they are dealt out in blocks:
 * [*first, *first + *count). Every item goes to exactly one rank, shares differ by at most one. */
void par_share(uint64_t n, int rank, int size, uint64_t *first, uint64_t *count);

#endif /* RNNHOST_PAR_H */
