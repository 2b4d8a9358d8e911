/* The task modules and what several of them share. Private to host/tasks/: commands use registry.h. */
#ifndef RNNHOST_TASKS_H
#define RNNHOST_TASKS_H

#include <stdint.h>

#include "task.h"

extern const task_ops task_lm;        /* task_lm.c */
extern const task_ops task_midi_lm;   /* task_midilm.c */
extern const task_ops task_pianoroll; /* task_pianoroll.c */
extern const task_ops task_ctc;       /* task_ctc.c */

#endif /* RNNHOST_TASKS_H */
