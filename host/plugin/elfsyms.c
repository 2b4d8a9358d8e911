#include "elfsyms.h"

#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostlog.h"
#include "readall.h"

/* Larger than any plugin has a reason to be; keeps a hostile path from making us read gigabytes. */
#define ELF_MAX_FILE (512u * 1024u * 1024u)

static int in_file(uint64_t off, uint64_t len, size_t file_size)
{
    return off <= file_size && len <= file_size - off;
}

static int read_whole(unsigned char **data, size_t *size, const char *path, char *why, size_t why_len)
{
    FILE *f = fopen(path, "rb");
    char *bytes;
    if (!f) {
        host_fmt(why, why_len, "cannot open %s", path);
        return -1;
    }
    const int rc = read_all(f, ELF_MAX_FILE, &bytes, size);
    if (rc != 0)
        host_fmt(why, why_len, errno == EFBIG ? "cannot read %s (too large)" : "cannot read %s", path);
    fclose(f);
    *data = (unsigned char *)bytes;
    return rc;
}

/* The two ELF classes differ only in field widths; normalise what we need into one shape. */
typedef struct shdr_view {
    uint32_t type, link;
    uint64_t offset, size, entsize;
} shdr_view;

typedef struct ehdr_view {
    uint64_t shoff;
    uint16_t shentsize, shnum;
} ehdr_view;

typedef struct sym_view {
    uint32_t name;
    unsigned char info, other;
    uint16_t shndx;
} sym_view;

/* The fields each view takes, written once for both classes: the 64- and 32-bit structures name them alike. */
#define SHDR_FIELDS(v, s) \
    ((v).type = (s).sh_type, (v).link = (s).sh_link, (v).offset = (s).sh_offset, (v).size = (s).sh_size, \
     (v).entsize = (s).sh_entsize)
#define SYM_FIELDS(v, s) \
    ((v).name = (s).st_name, (v).info = (s).st_info, (v).other = (s).st_other, (v).shndx = (s).st_shndx)
#define EHDR_FIELDS(v, s) ((v).shoff = (s).e_shoff, (v).shentsize = (s).e_shentsize, (v).shnum = (s).e_shnum)

/* static VIEW NAME(p, is64): the view of the structure at p, which the file may hold unaligned, read as the
 * 64-bit structure or the 32-bit one. */
#define VIEW_READER(NAME, VIEW, T64, T32, FIELDS)                                                                      \
    static VIEW NAME(const unsigned char *p, int is64)                                                                 \
    {                                                                                                                  \
        VIEW v;                                                                                                        \
        if (is64) {                                                                                                    \
            T64 s;                                                                                                     \
            memcpy(&s, p, sizeof s);                                                                                   \
            FIELDS(v, s);                                                                                              \
        } else {                                                                                                       \
            T32 s;                                                                                                     \
            memcpy(&s, p, sizeof s);                                                                                   \
            FIELDS(v, s);                                                                                              \
        }                                                                                                              \
        return v;                                                                                                      \
    }

VIEW_READER(get_shdr, shdr_view, Elf64_Shdr, Elf32_Shdr, SHDR_FIELDS)
VIEW_READER(get_sym, sym_view, Elf64_Sym, Elf32_Sym, SYM_FIELDS)
VIEW_READER(get_ehdr, ehdr_view, Elf64_Ehdr, Elf32_Ehdr, EHDR_FIELDS)

static int add_name(elf_exports *out, const char *name, size_t len)
{
    char **grown = realloc(out->names, (out->count + 1) * sizeof *grown);
    if (!grown)
        return -1;
    out->names = grown;
    if (!(grown[out->count] = malloc(len + 1)))
        return -1;
    memcpy(grown[out->count], name, len);
    grown[out->count][len] = '\0';
    out->count++;
    return 0;
}

static int parse(elf_exports *out, const unsigned char *d, size_t n, char *why, size_t why_len)
{
    int is64;
    uint64_t shoff;
    uint32_t shentsize, shnum, i;
    size_t shdr_size, sym_size;

    if (n < EI_NIDENT || memcmp(d, ELFMAG, SELFMAG) != 0) {
        host_fmt(why, why_len, "not an ELF file");
        return -1;
    }
    if (d[EI_CLASS] != ELFCLASS64 && d[EI_CLASS] != ELFCLASS32) {
        host_fmt(why, why_len, "unknown ELF class %u", d[EI_CLASS]);
        return -1;
    }
    is64 = d[EI_CLASS] == ELFCLASS64;
    {
        const uint16_t probe = 1;
        unsigned char native = *(const unsigned char *)&probe ? ELFDATA2LSB : ELFDATA2MSB;
        if (d[EI_DATA] != native) {
            host_fmt(why, why_len, "ELF byte order differs from this machine's");
            return -1;
        }
    }
    if (n < (is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr)))
        goto truncated;
    const ehdr_view e = get_ehdr(d, is64);
    shoff = e.shoff, shentsize = e.shentsize, shnum = e.shnum;
    shdr_size = is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
    sym_size = is64 ? sizeof(Elf64_Sym) : sizeof(Elf32_Sym);
    if (shnum == 0 || shentsize < shdr_size || !in_file(shoff, (uint64_t)shentsize * shnum, n)) {
        host_fmt(why, why_len, "no usable section header table");
        return -1;
    }
    for (i = 0; i < shnum; i++) {
        shdr_view sh = get_shdr(d + shoff + (uint64_t)i * shentsize, is64), str;
        uint64_t k, nsyms;
        if (sh.type != SHT_DYNSYM)
            continue;
        if (sh.entsize < sym_size || !in_file(sh.offset, sh.size, n) || sh.link >= shnum) {
            host_fmt(why, why_len, ".dynsym section out of bounds");
            return -1;
        }
        str = get_shdr(d + shoff + (uint64_t)sh.link * shentsize, is64);
        if (str.type != SHT_STRTAB || !in_file(str.offset, str.size, n)) {
            host_fmt(why, why_len, ".dynstr section out of bounds");
            return -1;
        }
        nsyms = sh.size / sh.entsize;
        for (k = 1; k < nsyms; k++) { /* entry 0 is the reserved null symbol */
            sym_view s = get_sym(d + sh.offset + k * sh.entsize, is64);
            unsigned bind = ELF64_ST_BIND(s.info), vis = ELF64_ST_VISIBILITY(s.other);
            unsigned type = ELF64_ST_TYPE(s.info);
            const char *name;
            const void *nul;
            if (s.shndx == SHN_UNDEF || type == STT_SECTION || type == STT_FILE)
                continue;
            if (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE)
                continue;
            if (vis != STV_DEFAULT && vis != STV_PROTECTED)
                continue;
            if (s.name >= str.size) {
                host_fmt(why, why_len, "symbol %llu has a name outside .dynstr", (unsigned long long)k);
                return -1;
            }
            name = (const char *)d + str.offset + s.name;
            nul = memchr(name, '\0', (size_t)(str.size - s.name));
            if (!nul) {
                host_fmt(why, why_len, "symbol %llu has an unterminated name", (unsigned long long)k);
                return -1;
            }
            if (add_name(out, name, (size_t)((const char *)nul - name)) != 0) {
                host_fmt(why, why_len, "out of memory");
                return -1;
            }
        }
        return 0;
    }
    host_fmt(why, why_len, "no .dynsym section");
    return -1;
truncated:
    host_fmt(why, why_len, "truncated ELF header");
    return -1;
}

int elf_read_exports(elf_exports *out, const char *path, char *why, size_t why_len)
{
    unsigned char *data = NULL;
    size_t size = 0;
    int rc;
    out->names = NULL;
    out->count = 0;
    if (read_whole(&data, &size, path, why, why_len) != 0)
        return -1;
    rc = parse(out, data, size, why, why_len);
    free(data);
    if (rc != 0)
        elf_exports_free(out);
    return rc;
}

void elf_exports_free(elf_exports *e)
{
    size_t i;
    for (i = 0; i < e->count; i++)
        free(e->names[i]);
    free(e->names);
    e->names = NULL;
    e->count = 0;
}
