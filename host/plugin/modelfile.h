/* Model files: safetensors whose metadata says how to rebuild the model (task, plugin model id, config)
 * beside the weights, so a file alone is enough to run it. Presets, exported models and checkpoints
 * are all model files; checkpoints add training state under "opt." and "train." names.
 *
 * Metadata keys (all values strings):
 *   rnnhost.format 1                    rnnhost.task lm | ctc | ...
 *   rnnhost.model  plugin model id      rnnhost.core composite core id, "" for none
 *   rnnhost.input  dense | tokens       rnnhost.input_dim, hidden_size, num_layers, output_dim  decimal
 *   rnnhost.options config.options      rnnhost.vocab (lm) the symbols, ascending, as UTF-8
 *   rnnhost.description (optional) one line saying what the model is, for `rnnhost presets`
 */
#ifndef RNNHOST_MODELFILE_H
#define RNNHOST_MODELFILE_H

#include <stddef.h>
#include <stdint.h>

#include "hostmodel.h"
#include "loader.h"
#include "rnnhost/rnnhost.h"

typedef struct model_spec {
    char task[32];
    char model_id[RH_MAX_NAME];
    char core[RH_MAX_NAME]; /* "" when the model is not composite */
    char options[256];
    uint32_t input_kind, input_dim, hidden_size, num_layers, output_dim;
} model_spec;

/* The plugin config a spec describes; its strings point into spec. */
rh_config model_spec_config(const model_spec *spec);

/* Metadata being assembled for a write: owned copies of keys and values. */
typedef struct meta_list {
    rh_meta *items;
    uint32_t n, cap;
} meta_list;

/* Adds key = printf(fmt, ...). Returns -1 when memory runs out. */
int meta_add(meta_list *m, const char *key, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void meta_free(meta_list *m);

/* Adds the spec's keys. */
int model_spec_to_meta(meta_list *m, const model_spec *spec);

/* Reads and checks the spec's keys from a file's metadata; -1 with one line in why. */
int model_spec_from_weights(model_spec *spec, const rh_weights *w, char *why, size_t why_len);

/* Writes a model file (or checkpoint) to path by the rule every output follows (atomicfile.h): a file is
 * replaced atomically, a link written through, '-', a device or a FIFO streamed. 0, or -1 with one line in
 * err naming path ("PATH: cannot write: No space left on device"). */
int model_write(const char *path, const rh_meta *meta, uint32_t num_meta, const rh_blob *blobs, uint32_t num_blobs,
                char *err, size_t err_len);

/* Where -m NAME points: NAME itself when it contains a '/' or ends in ".safetensors"; otherwise the
 * preset NAME.safetensors in the first folder of the preset path (model_preset_dirs) that has it. -1 with
 * why when no preset has that name; why then lists the presets there are. */
int model_resolve(char *path, size_t path_len, const char *name, char *why, size_t why_len);

/* The built-in preset directory: the build tree's presets (for the rnnhost of a build tree) or the
 * installed one. */
const char *model_preset_dir(void);

/* The preset path, the folders -m NAME searches in order: each folder of $RNNHOST_PRESET_PATH
 * (colon-separated; an empty element is skipped, never the current directory), then model_preset_dir().
 * *dirs and its strings are malloc'd (model_strings_free). -1 when memory runs out. */
int model_preset_dirs(char ***dirs, size_t *n);

/* One preset: its name (the file name less ".safetensors") and its file. */
typedef struct preset_entry {
    char *name, *path;
} preset_entry;

/* Every preset on the preset path, sorted by name, each name once: the file -m NAME would open (a file of
 * an earlier folder hides one of the same name in a later folder). Hidden files are left out. -1 when
 * memory runs out. */
int model_presets(preset_entry **presets, size_t *n);
void model_presets_free(preset_entry *presets, size_t n);
void model_strings_free(char **strings, size_t n);

/* Opens a model file of the given task (NULL: any; "a|b": either), creates its model through the registry
 * and loads its weights. The task is checked before anything else is read, so a model of another task
 * is refused by name ("x is a 'ctc' model; generate needs a 'midi-lm' or 'pianoroll' model"). Returns
 * EXIT_OK, or EXIT_LOAD with one line in why (missing file, hostile file, another task,
 * missing plugin, shapes that disagree). *w stays open for task-specific metadata; close it when done. */
int model_open(host_model *hm, model_spec *spec, rh_weights **w, plugin_registry *r, const char *path,
               const char *task, char *why, size_t why_len);

/* Creates the model a spec describes, parameters uninitialised. EXIT_OK or EXIT_LOAD with why. */
int model_create(host_model *hm, plugin_registry *r, const model_spec *spec, char *why, size_t why_len);

#endif /* RNNHOST_MODELFILE_H */
