#include "jsonout.h"

#include <stdio.h>

#include "hostlog.h"

int json_print(cJSON *doc, int complete, int pretty)
{
    char *text = doc && complete ? (pretty ? cJSON_Print(doc) : cJSON_PrintUnformatted(doc)) : NULL;
    cJSON_Delete(doc);
    if (!text) {
        hostlog_error("out of memory");
        return -1;
    }
    printf("%s\n", text);
    fflush(stdout);
    cJSON_free(text);
    return 0;
}
