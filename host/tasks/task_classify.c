/* Task classify: one label for a whole sequence (many-to-one). A kit cell stack reads the sequence, its
 * projection gives one logit per label at every step, and the pooling head (classify.h) makes them one
 * softmax over the labels. It trains on TSV lines label<TAB>sequence, a sequence being characters (text,
 * DNA), words or numeric rows, in the trainer it shares with tag (clstrain.c). Validation is the error
 * rate, with the loss and the accuracy beside it. */
#include "classify.h"
#include "hostlog.h"
#include "seqtask.h"
#include "tasks.h"

/* The heads --pool offers: every one but a tagger's. */
static const char *const pools[] = {"last", "mean", "max", NULL};

/* Its own options, over the sequence tasks' struct (seqtask.h), whose --data and --val-data it shares. */
static const cli_option data_options[] = {
    {.name = "input", .kind = CLI_CHOICE, .offset = offsetof(seq_opts, input), .arg = "chars|numeric|words",
     .help = "what a sequence is: chars, every code point a symbol (text, DNA); numeric, comma-separated values "
             "v1,v2,... time-major, --channels a step, each channel standardised with the training set's mean "
             "and deviation (stored in the model); words, tokens between white space, those seen fewer than "
             "--min-count times in training (and, later, any word the training data lacks) read as one unknown "
             "word",
     .choices = cls_input_names, .flags = OPT_ARCH},
    {.name = "channels", .kind = CLI_U32, .offset = offsetof(seq_opts, channels), .arg = "C",
     .help = "numeric: values per step; 0: the greatest common divisor of the training rows' lengths",
     .max = CLS_MAX_CHANNELS, .flags = OPT_ARCH},
    {.name = "pool", .kind = CLI_CHOICE, .offset = offsetof(seq_opts, pool), .arg = "last|mean|max",
     .help = "how the steps' logits become one: last, the logits after the last element; mean, their mean over "
             "the steps (the projection of the mean state); max, each label's largest logit over the steps "
             "(max-pooled logits)",
     .choices = pools, .flags = OPT_ARCH},
    {0},
};
static const cli_section data_section = {"Classification (classify)", data_options};

static int check(train_opts *o, void *own, const cli_group *groups, size_t n)
{
    const seq_opts *co = own;
    (void)groups, (void)n;
    if (!co->data)
        return hostlog_usage("train: --data FILE.tsv is required"), -1;
    if (co->channels && co->input != CLS_IN_NUMERIC)
        return hostlog_usage("train: --channels is for --input numeric"), -1;
    if (co->min_count != seq_opts_defaults.min_count && co->input != CLS_IN_WORDS)
        return hostlog_usage("train: --min-count is for --input words"), -1;
    return cls_check_shared(o, co, co->input == CLS_IN_WORDS);
}

static const cli_section *const sections[] = {&seq_data_section, &cls_shared_section, &data_section, NULL};

static const task_train train = {
    .about = "a label for each sequence (text, DNA or numeric rows) from TSV lines label<TAB>sequence",
    .usage = "--data FILE.tsv",
    CLS_TASK_TRAIN,
    .sections = sections,
    .rate_unit = "seq/s",
    .data_differs = "the training sequences differ",
    .rng_salt = 0x636c617373696679ULL,
    .check = check,
    .open = cls_train_open,
};

const task_ops task_classify = {
    .name = CLS_TASK,
    .noun = "a sequence classifier",
    .train = &train,
    .eval = &cls_eval,
    .classify = cls_classify,
    .export = &cls_export,
};
