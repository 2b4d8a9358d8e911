/* Reads the exported dynamic symbols of an ELF shared object straight from the file, without loading
 * it: the validator's `exports` check must see what the dynamic linker would offer, not what dlsym finds. */
#ifndef RNNHOST_ELFSYMS_H
#define RNNHOST_ELFSYMS_H

#include <stddef.h>

typedef struct elf_exports {
    char **names;  /* defined dynamic symbols with GLOBAL/WEAK binding and DEFAULT/PROTECTED visibility */
    size_t count;
} elf_exports;

/* Returns 0 and fills *out, or -1 with one line in why. Every offset and size read from the file is
 * checked against the file's length before use. */
int elf_read_exports(elf_exports *out, const char *path, char *why, size_t why_len);

void elf_exports_free(elf_exports *e);

#endif /* RNNHOST_ELFSYMS_H */
