/* The commands' JSON documents on standard output (README, "JSON output"), printed one way. */
#ifndef RNNHOST_JSONOUT_H
#define RNNHOST_JSONOUT_H

#include <cjson/cJSON.h>

/* Prints doc and a newline on standard output, indented (pretty) or on one line, flushes, and deletes doc.
 * complete is 0 when building doc ran out of memory somewhere: nothing is printed then. 0, or -1 after one
 * line on stderr. */
int json_print(cJSON *doc, int complete, int pretty);

#endif /* RNNHOST_JSONOUT_H */
