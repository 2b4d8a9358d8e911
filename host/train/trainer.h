/* The loop's state, shared by loop.c (the run) and checkpoint.c (model files, checkpoints, the training
 * record and --resume). Private to host/train/. */
#ifndef RNNHOST_TRAINER_H
#define RNNHOST_TRAINER_H

#include <stdio.h>

#include "loop.h"
#include "rnnhost/rnnhost.h"

typedef struct trainer {
    const task_ops *t;
    const task_train *tt;
    train_opts *o;
    const cli_group *groups; /* the table o was parsed by */
    size_t n_groups;
    train_ctx c;
    void *st;                /* the task's state (tt->state_size) */
    plugin_registry reg;

    /* where training stands: all of it is checkpointed (with c.epoch and c.pos) */
    uint64_t step, seen;
    rh_rng rng;
    rh_optimizer opt;
    float *opt_state;        /* (slots * num_params) */
    double elapsed_before;   /* seconds trained before a resume */
    double last_val, best_val; /* NAN / INFINITY until known */
    uint64_t best_step;      /* the step best_val was reached at */
    uint64_t stale_vals;     /* validations since best_step, none better: --patience counts them */

    /* on several ranks: the stops the last step's all-reduce agreed on, and when this run started */
    int stop_interrupt, stop_time;
    double started;

    FILE *log;
    char last_ckpt[4096];
    char **strings;          /* option values taken from a checkpoint's record live here */
    size_t n_strings;
} trainer;

/* The model file (checkpoint 0) or checkpoint (1, elapsed: seconds trained) at path. 0, or -1 after one
 * line naming the file. */
int trainer_write(trainer *tr, const char *path, int checkpoint, double elapsed);

/* A checkpoint into DIR/TASK_stepN[_valX].safetensors, remembered as the last one. 0 or -1. */
int trainer_checkpoint(trainer *tr, double elapsed);

/* --resume: the recorded options the user did not give are taken from the record (rnnhost.training JSON),
 * those given must agree. 0, or -1 after one line. */
int trainer_adopt(trainer *tr, const char *record, const char *from);

/* --resume, after the task opened: the data hash, the optimizer's moments, the generator, the position and
 * the task's state from checkpoint w. 0, or -1 after one line. */
int trainer_restore(trainer *tr, const rh_weights *w, const char *path);

#endif /* RNNHOST_TRAINER_H */
