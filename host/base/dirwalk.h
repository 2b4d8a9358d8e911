/* Walking a folder: the one walk behind every folder rnnhost reads (a corpus, a MIDI collection, recordings
 * to transcribe, the plugin search path) and every scratch folder it empties. A walk is depth first and
 * visits each folder's entries in bytewise order of their names, so what a command reads never depends on
 * the order the file system keeps. The options say what each caller needs: which entries, how deep, and
 * whether something it cannot read is an error or is passed over. */
#ifndef RNNHOST_DIRWALK_H
#define RNNHOST_DIRWALK_H

#include <stddef.h>
#include <sys/stat.h>

/* What a walk visits. */
typedef enum dir_kind {
    DIR_FILES,      /* regular files, and links to them */
    DIR_FOLDERS,    /* folders, and links to them */
    DIR_EVERYTHING  /* every entry, whatever it is; links are not followed */
} dir_kind;

/* Zeroed, the options visit the regular files of one folder whose names do not start with '.'. */
typedef struct dir_walk_options {
    dir_kind list;
    int recurse;             /* descend into sub-folders (links to folders too, unless skip_linked_folders) */
    unsigned max_depth;      /* with recurse: folders entered below the one given at most; 0: no limit */
    int hidden;              /* names starting with '.' are visited too ("." and ".." never) */
    int skip_linked_folders; /* a link to a folder is neither entered nor visited, so a link cycle cannot loop */
    const char *suffixes;    /* DIR_FILES: NULL for any name, else the endings a name must have, separated by
                              * '|' (".mid|.midi"); a name must be longer than its ending */
    int suffix_nocase;       /* endings match in any case (".WAV" is a ".wav") */
    int strict_folders;      /* a sub-folder that cannot be read is an error; otherwise it is passed over */
    int strict_entries;      /* an entry stat cannot see (a dangling link) is an error; otherwise passed over */
} dir_walk_options;

/* One entry, valid during the visit only. */
typedef struct dir_entry {
    const char *path;      /* the folder given, '/', the names below it: "recs/sub/a.wav" (a folder given with
                            * a trailing '/' gets no second one) */
    const char *rel;       /* the names below the folder given: "sub/a.wav" */
    const char *name;      /* the last of them: "a.wav" */
    const struct stat *st; /* what stat says of path (DIR_EVERYTHING: lstat, the entry itself) */
} dir_entry;

/* Called for each entry the walk visits: 0 to go on; any other value stops the walk, which returns it. */
typedef int (*dir_visit)(void *ctx, const dir_entry *e);

/* Walks dir with opts (NULL: zeroed options). Returns 0 when the walk is over, the visitor's non-zero value
 * when it stopped the walk, or -1 with one line in err (dir_walk's own failures: "recs: permission denied",
 * "corpus: out of memory") and errno set, when dir cannot be read, something strict below it cannot, or
 * memory runs out. err may be NULL. */
int dir_walk(const char *dir, const dir_walk_options *opts, dir_visit visit, void *ctx, char *err, size_t err_len);

/* The paths dir_walk visits, sorted bytewise as whole paths, so "a-b/x" comes before "a/y" (sort(1) in the C
 * locale agrees). *paths is a malloc'd array of *n malloc'd paths (NULL when there are none), freed by
 * dir_list_free. 0, or -1 with err as dir_walk (nothing is left to free). */
int dir_list(char ***paths, size_t *n, const char *dir, const dir_walk_options *opts, char *err, size_t err_len);
void dir_list_free(char **paths, size_t n);

#endif /* RNNHOST_DIRWALK_H */
